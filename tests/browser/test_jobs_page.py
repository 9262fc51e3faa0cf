"""The jobs page as analysts and viewers use it, against a real server and workers."""

from __future__ import annotations

import random
import re

from playwright.sync_api import expect

from jobledger.adapters.cli.samples import sample_result
from jobledger.domain.results import JobType
from tests.api.conftest import Api
from tests.browser.conftest import Tab, submitted, worker


def rows_of(tab: Tab) -> list[str]:
    tab.page.locator("#jobs tbody tr").first.wait_for()
    return sorted(
        tab.page.locator("#jobs tbody tr").evaluate_all("rs => rs.map(r => r.dataset.job)")
    )


def test_an_analyst_sees_only_their_own_jobs_and_no_all_jobs_tab(api: Api, tab: Tab) -> None:
    own = submitted(api, "t-mine", "alice@t-mine")
    submitted(api, "t-mine", "bob@t-mine")
    api.wait_for_read_models()
    page = tab.open("/jobs", api.token("analyst", "t-mine", "alice@t-mine"))
    assert rows_of(tab) == [own["id"]]
    expect(page.locator("#tabs")).to_be_hidden()
    expect(page.get_by_role("tab", name="All Jobs")).to_be_hidden()


def test_a_viewer_sees_the_tenants_jobs_and_never_another_tenants(api: Api, tab: Tab) -> None:
    alices = submitted(api, "t-view", "alice@t-view")
    bobs = submitted(api, "t-view", "bob@t-view")
    submitted(api, "t-other", "alice@t-other")
    api.wait_for_read_models()
    page = tab.open("/jobs", api.token("viewer", "t-view"))
    page.get_by_role("tab", name="All Jobs").click()
    page.wait_for_url(re.compile(r"view=all"))
    assert rows_of(tab) == sorted([alices["id"], bobs["id"]])


def test_a_running_job_moves_on_the_page_without_a_reload_until_completed(
    api: Api, tab: Tab
) -> None:
    page = tab.open("/jobs", api.token("analyst", "t-live", "carol@t-live"))
    expect(page.locator("#live")).to_have_text("live")
    job = submitted(api, "t-live", "carol@t-live")
    row = page.locator(f'#jobs tr[data-job="{job["id"]}"]')
    expect(row).to_have_attribute("data-status", "queued")  # appeared without a reload
    claimed = worker(api, "t-live").claim()
    assert claimed is not None
    with claimed:
        claimed.start()
        claimed.progress(40)
        expect(row.locator("progress")).to_have_attribute("value", "40")
        expect(row).to_have_attribute("data-status", "running")
        claimed.usage("gpt-4o", input_tokens=12_000, output_tokens=3_000)
        claimed.complete(sample_result(JobType.GRAPH_ANALYSIS, random.Random(1)))
    expect(row).to_have_attribute("data-status", "completed")
    expect(row.locator(".cost")).to_contain_text("15,000")
    cost = api.as_role("viewer", "t-live").get(f"/v1/jobs/{job['id']}").json()["cost"]
    assert float(cost["amount"]) > 0
    expect(row.locator(".cost")).to_contain_text(f"{float(cost['amount']):.4f}")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_cancel_from_the_table_records_a_cancellation(api: Api, tab: Tab) -> None:
    job = submitted(api, "t-cancel", "dan@t-cancel")
    api.wait_for_read_models()
    page = tab.open("/jobs", api.token("analyst", "t-cancel", "dan@t-cancel"))
    row = page.locator(f'#jobs tr[data-job="{job["id"]}"]')
    row.get_by_role("button", name=f"Cancel job {job['id']}").click()
    expect(row).to_have_attribute("data-status", "cancelled")
    answer = api.as_role("viewer", "t-cancel").get(f"/v1/jobs/{job['id']}").json()
    assert answer["status"] == "cancelled"
    history = api.as_role("viewer", "t-cancel").get(f"/v1/jobs/{job['id']}/history").json()
    assert history["items"][-1]["actor"] == "dan@t-cancel"


def test_submit_with_a_config_that_is_not_an_object_shows_the_field_error_and_creates_nothing(
    api: Api, tab: Tab
) -> None:
    page = tab.open("/jobs", api.token("analyst", "t-submit", "erin@t-submit"))
    page.get_by_role("button", name="Submit a job").click()
    dialog = page.locator("#submit-dialog")
    dialog.get_by_label("Config (JSON object)").fill("[1, 2]")
    dialog.get_by_role("button", name="Submit", exact=True).click()
    expect(dialog.locator('[data-error="config"]')).to_contain_text("dictionary")
    expect(dialog.get_by_label("Config (JSON object)")).to_have_attribute("aria-invalid", "true")
    expect(dialog).to_be_visible()
    tab.refused(422)
    listed = api.as_role("viewer", "t-submit").get("/v1/jobs").json()
    assert listed["items"] == []


def test_an_admin_submits_inputs_and_metadata_and_sees_an_inputs_error_beside_it(
    api: Api, tab: Tab
) -> None:
    page = tab.open("/jobs", api.token("admin", "t-add", "fay@t-add"))
    page.get_by_role("button", name="Submit a job").click()
    dialog = page.locator("#submit-dialog")
    dialog.get_by_label("Investigation").fill("INV-7")
    dialog.get_by_label("Max attempts").fill("2")
    for name, media in [("corpus.jsonl", "application/jsonl"), ("graph.csv", "csv")]:
        dialog.get_by_role("button", name="Add an input").click()
        row = dialog.locator(".input-row").last
        row.get_by_label("Name").fill(name)
        row.get_by_label("Media type").fill(media)
        row.get_by_label("Size (bytes)").fill("1024")
    dialog.get_by_label("Metadata (JSON object)").fill('{"ticket": "T-9"}')
    dialog.get_by_role("button", name="Submit", exact=True).click()
    second = dialog.get_by_role("group", name="Input 2")
    expect(second.locator("[data-error-input]")).to_contain_text("mediaType")
    expect(second.get_by_label("Media type")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_role("group", name="Input 1").locator("[data-error-input]")).to_be_empty()
    tab.refused(422)
    assert api.as_role("viewer", "t-add").get("/v1/jobs").json()["items"] == []

    second.get_by_label("Media type").fill("text/csv")
    dialog.get_by_role("button", name="Submit", exact=True).click()
    expect(dialog).to_be_hidden()
    (job,) = api.as_role("viewer", "t-add").get("/v1/jobs").json()["items"]
    assert (job["investigationId"], job["maxAttempts"], job["createdBy"]) == (
        "INV-7",
        2,
        "fay@t-add",
    )
    mine = api.as_role("admin", "t-add", "fay@t-add").get(f"/v1/jobs/{job['id']}").json()
    assert [i["name"] for i in mine["inputs"]] == ["corpus.jsonl", "graph.csv"]
    assert mine["metadata"] == {"ticket": "T-9"}
    expect(page.locator(f'#jobs tr[data-job="{job["id"]}"]')).to_contain_text("INV-7")


def test_submit_with_a_config_that_is_not_json_is_stopped_before_sending(
    api: Api, tab: Tab
) -> None:
    page = tab.open("/jobs", api.token("analyst", "t-json", "gus@t-json"))
    page.get_by_role("button", name="Submit a job").click()
    dialog = page.locator("#submit-dialog")
    dialog.get_by_label("Config (JSON object)").fill("{depth: 2")
    sent = len(tab.requested)
    dialog.get_by_role("button", name="Submit", exact=True).click()
    expect(dialog.locator('[data-error="config"]')).to_contain_text("not valid JSON")
    assert tab.requested[sent:] == []
    assert api.as_role("viewer", "t-json").get("/v1/jobs").json()["items"] == []


def test_started_eta_active_first_and_created_between_live_in_the_url(api: Api, tab: Tab) -> None:
    running = submitted(api, "t-table", "ivy@t-table")
    ended = submitted(api, "t-table", "ivy@t-table")
    analyst = api.as_role("analyst", "t-table", "ivy@t-table")
    assert analyst.post(f"/v1/jobs/{ended['id']}/cancel", json={}).status_code == 200
    claimed = worker(api, "t-table").claim()
    assert claimed is not None
    assert claimed.task.job_id == running["id"]
    claimed.start()
    claimed.progress(50)
    api.wait_for_read_models()
    envelope = analyst.get(f"/v1/jobs/{running['id']}").json()
    assert envelope["estimatedCompletionAt"] is not None

    page = tab.open("/jobs", api.token("analyst", "t-table", "ivy@t-table"))
    shows_in_order(tab, [ended["id"], running["id"]])  # newest first
    page.get_by_label("Active first").check()
    page.wait_for_url(re.compile(r"active=first"))
    shows_in_order(tab, [running["id"], ended["id"]])
    row = page.locator(f'#jobs tr[data-job="{running["id"]}"]')
    expect(row.locator("td").nth(4).locator("time")).to_have_attribute(
        "datetime", re.compile(envelope["startedAt"][:19])
    )
    expect(row.locator(".eta time")).to_have_attribute("datetime", re.compile(r"\d"))
    expect(page.locator(f'#jobs tr[data-job="{ended["id"]}"] .eta')).to_have_text("—")

    today = page.evaluate("new Date().toLocaleDateString('en-CA')")  # YYYY-MM-DD, local
    yesterday = page.evaluate("new Date(Date.now() - 864e5).toLocaleDateString('en-CA')")
    page.get_by_label("Created from").fill(today)
    page.wait_for_url(re.compile(rf"from={today}"))
    shows_in_order(tab, [running["id"], ended["id"]])
    page.get_by_label("to", exact=True).fill(yesterday)
    page.wait_for_url(re.compile(rf"from={today}.*to={yesterday}|to={yesterday}.*from={today}"))
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#jobs tbody tr")).to_have_count(0)
    assert "active=first" in page.url  # the filters combine in one shareable URL


def shows_in_order(tab: Tab, ids: list[str]) -> None:
    """Waits until the table lists exactly ``ids``, top to bottom: a changed view replaces
    its rows after its requests return (active first fills in two walks), so the rows of
    the moment the URL changed may still be the old view's."""
    tab.page.wait_for_function(
        "ids => [...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.job)"
        ".join() === ids.join()",
        arg=ids,
    )


FOCUSED = """() => {
  const node = document.activeElement;
  const style = getComputedStyle(node);
  const name = node.getAttribute("aria-label") || (node.labels && node.labels[0]
    ? node.labels[0].textContent : node.textContent);
  return {
    name: name.trim().replace(/\\s+/g, " "),
    visible: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
    inDialog: !!node.closest("dialog[open]"),
  };
}"""


def test_the_jobs_page_and_its_dialogs_work_from_the_keyboard(api: Api, tab: Tab) -> None:
    admin = api.as_role("admin", "t-keys", "kai@t-keys")
    job = admin.post("/v1/jobs", json={"type": "graph_analysis"}).json()
    api.wait_for_read_models()
    page = tab.open("/jobs", api.token("admin", "t-keys", "kai@t-keys"))
    cancel = f"Cancel job {job['id']}"
    page.locator(f'#jobs tr[data-job="{job["id"]}"]').wait_for()
    page.locator("body").focus()
    reached: list[str] = []
    for _ in range(60):
        if cancel in reached:
            break
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if reached and focused["name"] == reached[-1]:
            continue  # within one control (a date's day, month, year, calendar button)
        assert focused["visible"], f"no visible focus on {focused['name']!r}"
        reached.append(focused["name"])
    assert cancel in reached, f"no way to {cancel!r} by Tab: {reached}"
    wanted = ["Skip to the content", "Jobs", "Overview", "Sound on completion", "Sign out",
              "Submit a job", "My Jobs", "Status", "Type", "Investigation", "Created from", "to",
              "Active first", f"graph analysis job {job['id']}: details", cancel]  # fmt: skip
    positions = [next(i for i, n in enumerate(reached) if n.startswith(w)) for w in wanted]
    assert positions == sorted(positions), reached
    assert "All Jobs" not in reached  # one Tab stop for the tabs: arrows move between them
    page.get_by_role("tab", name="My Jobs").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="All Jobs")).to_be_focused()

    link = page.get_by_role("link", name=f"graph analysis job {job['id']}: details")
    link.focus()
    page.keyboard.press("Enter")
    details = page.get_by_role("dialog", name="Job details")
    expect(details).to_be_visible()
    expect(details.locator("[data-part=history] tbody tr")).to_have_count(1)
    for _ in range(25):  # round and round inside the dialog, never behind it
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUSED)["inDialog"]
    page.keyboard.press("Escape")
    expect(details).to_be_hidden()
    expect(link).to_be_focused()

    page.get_by_role("button", name="Submit a job").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#submit-dialog")).to_be_visible()
    expect(page.locator("#submit-form select[name=type]")).to_be_focused()
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(FOCUSED)["inDialog"]
    page.keyboard.press("Escape")
    expect(page.locator("#submit-dialog")).to_be_hidden()
    expect(page.get_by_role("button", name="Submit a job")).to_be_focused()
