"""Every page loads with no console error (the fixture fails on one), under a strict
Content-Security-Policy, and notifications reach the job's creator."""

from __future__ import annotations

import random

import pytest
from playwright.sync_api import expect

from jobledger.adapters.cli.samples import sample_result
from jobledger.domain.results import JobType
from tests.api.conftest import Api
from tests.browser.conftest import Tab, submitted, worker

RECORD_NOTIFICATIONS = """
window.__notified = [];
const Shown = window.Notification;
window.Notification = class extends Shown {
  constructor(title, options) {
    super(title, options);
    window.__notified.push([title, options.body]);
  }
};
window.__tones = 0;
const Audio = window.AudioContext;
window.AudioContext = class extends Audio {
  createOscillator() {
    window.__tones += 1;
    return super.createOscillator();
  }
};
"""


@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/jobs?view=all", "#jobs tbody tr"),
        ("/jobs/{id}", "[data-part=history] tbody tr"),
        ("/overview", "#numbers dd"),
        ("/sign-in", "#token"),
    ],
)
def test_the_page_loads_with_no_console_error(api: Api, tab: Tab, path: str, ready: str) -> None:
    job = submitted(api, "t-pages", "ida@t-pages")
    api.wait_for_read_models()
    page = tab.open(path.format(id=job["id"]), api.token("viewer", "t-pages"))
    page.locator(ready).first.wait_for()
    policy = page.request.get(page.url).headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_a_completed_job_notifies_its_creator_with_a_sound_only_once_turned_on(
    api: Api, tab: Tab
) -> None:
    tab.page.context.grant_permissions(["notifications"])
    tab.page.add_init_script(RECORD_NOTIFICATIONS)
    page = tab.open("/jobs", api.token("analyst", "t-notify", "jo@t-notify"))
    sound = page.get_by_role("button", name="Sound on completion")
    expect(sound).to_have_attribute("aria-pressed", "false")  # off until turned on
    job = complete_one(api, tab)
    page.wait_for_function("window.__notified.length > 0")
    ((title, body),) = page.evaluate("window.__notified")
    assert title == "Job completed"
    assert job["id"][:6] in body
    assert page.evaluate("window.__tones") == 0

    sound.click()
    expect(sound).to_have_attribute("aria-pressed", "true")
    page.reload()  # the choice is remembered
    expect(sound).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.__tones") == 0
    complete_one(api, tab)
    page.wait_for_function("window.__tones === 1")


def complete_one(api: Api, tab: Tab) -> dict[str, object]:
    """A job of jo's, run to completion while the jobs page shows it."""
    expect(tab.page.locator("#live")).to_have_text("live")
    job = submitted(api, "t-notify", "jo@t-notify")
    expect(tab.page.locator(f'#jobs tr[data-job="{job["id"]}"]')).to_be_visible()
    claimed = worker(api, "t-notify").claim()
    assert claimed is not None
    with claimed:
        claimed.start()
        claimed.complete(sample_result(JobType.GRAPH_ANALYSIS, random.Random(2)))
    expect(tab.page.locator("#toasts")).to_contain_text(f"{str(job['id'])[:6]} completed")
    return job


def test_the_overview_counts_the_tenants_jobs_and_charts_their_cost(api: Api, tab: Tab) -> None:
    submitted(api, "t-overview", "lee@t-overview")
    submitted(api, "t-overview", "lee@t-overview", investigationId="INV-9")
    claimed = worker(api, "t-overview").claim()
    assert claimed is not None
    with claimed:
        claimed.start()
        claimed.usage("gpt-4o", input_tokens=10_000, output_tokens=1_000)
        claimed.usage("in-house-llm", input_tokens=500, output_tokens=50)
        claimed.complete(sample_result(JobType.GRAPH_ANALYSIS, random.Random(3)))
    running = worker(api, "t-overview").claim()  # the INV-9 job, left running
    assert running is not None
    running.start()
    running.usage("gpt-4o", input_tokens=20_000, output_tokens=2_000)
    api.wait_for_read_models()
    page = tab.open("/overview", api.token("viewer", "t-overview"))
    numbers = page.locator("#numbers")
    expect(numbers.locator("div", has_text="Working").locator("dd")).to_have_text("1")
    expect(numbers.locator("div", has_text="Submitted").locator("dd")).to_have_text("2")
    expect(page.locator("#by-status svg")).to_contain_text("completed")
    expect(page.locator("#by-model svg")).to_contain_text("gpt-4o")
    viewer = api.as_role("viewer", "t-overview")
    cost = viewer.get("/v1/costs").json()["items"][0]["cost"]
    today = page.locator("#per-day svg g").last
    expect(today).to_contain_text("2 submitted · 1 completed · 0 failed · 0 cancelled")
    expect(today.locator("rect.completed")).to_have_count(1)
    day = today.get_attribute("data-day")
    expect(page.locator("#cost-per-day svg")).to_contain_text(day or "?")
    expect(page.locator("#cost-per-day svg")).to_contain_text(f"{float(cost['amount']):.4f}")

    for split, chart, names in (
        ("model", "#model-per-day", {"gpt-4o", "in-house-llm"}),
        ("investigation", "#investigation-per-day", {"INV-9", "(none)"}),
    ):
        answer = viewer.get("/v1/costs", params={"groupBy": "day", "split": split}).json()
        group = page.locator(f'{chart} svg g[data-day="{day}"]')
        expect(group.locator("g[data-split]")).to_have_count(len(names))
        for item in answer["items"]:
            name = item["split"] or "(none)"
            assert name in names
            amount = f"USD {float(item['cost']['amount']):.4f}"
            expect(group.locator(f'g[data-split="{name}"]')).to_contain_text(amount)
    expect(page.locator('#model-per-day g[data-split="in-house-llm"]')).to_contain_text(
        "1 unpriced"
    )


def test_an_analyst_is_told_the_overview_is_not_theirs_and_no_call_is_refused(
    api: Api, tab: Tab
) -> None:
    """The page asks the API nothing it would refuse (the fixture fails on a logged 403)."""
    page = tab.open("/jobs", api.token("analyst", "t-overview-analyst", "mo@t-overview-analyst"))
    expect(page.get_by_role("link", name="Overview")).to_be_hidden()
    page.goto(f"{api.url}/overview")
    expect(page.locator("#refused")).to_contain_text("viewer")
    expect(page.locator("#figures")).to_be_hidden()
    assert not any("/v1/stats" in url or "/v1/costs" in url for url in tab.requested)
