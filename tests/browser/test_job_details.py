"""A job's details (its page, and the dialog from the table): inputs for the creator
only, the whole status history, cost by model and attempt, the result by job type."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from jobledger.domain.retries import RetryPolicy
from tests.api.conftest import Api
from tests.browser.conftest import Tab, submitted, worker

INPUT = {"name": "corpus.jsonl", "mediaType": "application/jsonl", "sizeBytes": 52311}


def test_the_creator_sees_the_inputs_and_a_viewer_does_not(api: Api, tab: Tab) -> None:
    job = submitted(api, "t-inputs", "gil@t-inputs", inputs=[INPUT])
    api.wait_for_read_models()
    page = tab.open(f"/jobs/{job['id']}", api.token("analyst", "t-inputs", "gil@t-inputs"))
    expect(page.locator("[data-part=inputs]")).to_contain_text("corpus.jsonl")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/sign-in"))  # signed out before the next one signs in
    page = tab.open(f"/jobs/{job['id']}", api.token("viewer", "t-inputs"))
    expect(page.locator("[data-part=facts]")).to_contain_text(job["id"])
    expect(page.locator("[data-part=inputs-section]")).to_be_hidden()
    assert "corpus.jsonl" not in page.content()


def test_the_status_history_lists_every_transition_and_follows_the_job(api: Api, tab: Tab) -> None:
    job = submitted(api, "t-history", "hal@t-history")
    api.wait_for_read_models()
    page = tab.open(f"/jobs/{job['id']}", api.token("viewer", "t-history"))
    history = page.locator("[data-part=history] tbody tr")
    expect(history).to_have_count(1)
    claimed = worker(api, "t-history").claim()
    assert claimed is not None
    with claimed:
        claimed.start()
        claimed.fail("corrupt_input", "not JSON Lines")
    expect(page.locator("[data-part=error]")).to_contain_text("corrupt_input: not JSON Lines")
    expected = api.as_role("viewer", "t-history").get(f"/v1/jobs/{job['id']}/history").json()
    assert len(expected["items"]) == 4  # queued, claimed, running, failed
    expect(history).to_have_count(4)
    for shown, change in zip(history.all(), expected["items"], strict=True):
        expect(shown.locator("td").nth(2)).to_have_text(change["toStatus"])
        expect(shown.locator("td").nth(4)).to_have_text(change["actor"])


def test_the_dialog_shows_cost_by_model_each_failed_attempt_and_the_result_by_type(
    api: Api, tab: Tab
) -> None:
    job = submitted(api, "t-dialog", "ida@t-dialog", maxAttempts=2)
    retry, api.ledger.retry = api.ledger.retry, RetryPolicy(0, 0)  # the retry is due at once
    try:
        first = worker(api, "t-dialog").claim()
        assert first is not None
        first.start()
        first.usage("gpt-4o", input_tokens=10_000, output_tokens=1_000)
        first.fail("upstream_timeout", "the model did not answer", retryable=True)
        second = worker(api, "t-dialog").claim()
    finally:
        api.ledger.retry = retry
    assert second is not None
    with second:
        second.start()
        second.usage("gpt-4o", input_tokens=10_000, output_tokens=1_000)
        second.usage("in-house-llm", input_tokens=500, output_tokens=50)
        second.complete(
            {
                "summary": "Atlas Remit sits between two communities",
                "nodes": 88,
                "edges": 176,
                "communities": 3,
                "central_entities": ["Atlas Remit", "Mara Lind"],
                "findings": [{"kind": "central_actor", "label": "Atlas Remit"}],
            }
        )
    api.wait_for_read_models()
    page = tab.open("/jobs", api.token("analyst", "t-dialog", "ida@t-dialog"))
    page.get_by_role("link", name=f"graph analysis job {job['id']}: details").click()
    dialog = page.get_by_role("dialog", name="Job details")
    expect(dialog).to_be_visible()
    assert page.url.endswith("/jobs")  # a dialog over the table, not another page

    costs = api.as_role("viewer", "t-dialog").get(f"/v1/jobs/{job['id']}/costs").json()
    failed = costs["byAttempt"][0]["unsuccessfulCost"]["amount"]
    model = dialog.locator('[data-part=by-model] tr[data-model="gpt-4o"]')
    expect(model).to_contain_text(f"{float(failed):.4f}")  # the failed attempt's share
    expect(dialog.locator('tr[data-model="in-house-llm"]')).to_contain_text("1 unpriced usage")
    attempt = dialog.locator('[data-part=attempts] tr[data-attempt="1"]')
    expect(attempt).to_contain_text("failed, retried")
    expect(attempt).to_contain_text("upstream_timeout: the model did not answer")
    expect(attempt).to_contain_text("spent on a failed attempt")
    expect(dialog.locator('[data-part=attempts] tr[data-attempt="2"]')).to_contain_text("completed")
    result = dialog.locator("[data-part=result]")
    expect(result).to_contain_text("Atlas Remit sits between two communities")
    expect(result.locator("[data-result=counts]")).to_contain_text("Communities")
    expect(result.locator("[data-result=central_entities] li")).to_have_count(2)
    expect(result.locator("[data-result=findings]")).to_contain_text("central_actor")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_an_auditor_sees_the_event_timeline_and_the_job_at_any_version(api: Api, tab: Tab) -> None:
    job = submitted(api, "t-audit", "kim@t-audit")
    claimed = worker(api, "t-audit").claim()
    assert claimed is not None
    with claimed:
        claimed.start()
        claimed.progress(50)
        claimed.fail("corrupt_input", "not JSON Lines")
    events = api.as_role("auditor", "t-audit").get(f"/v1/jobs/{job['id']}/events").json()["items"]
    api.wait_for_read_models()
    page = tab.open(f"/jobs/{job['id']}", api.token("auditor", "t-audit"))
    timeline = page.get_by_role("region", name="Event timeline")
    expect(timeline.locator("[data-part=events] tbody tr")).to_have_count(len(events))
    as_of = timeline.locator("[data-part=as-of]")
    expect(as_of).to_have_attribute("data-version", str(len(events)))  # the newest at first
    expect(as_of).to_contain_text("corrupt_input")

    slider = timeline.get_by_role("slider", name="Version")
    slider.focus()
    page.keyboard.press("Home")  # the control answers the keyboard
    expect(as_of).to_have_attribute("data-version", "1")
    expect(as_of).to_contain_text("queued")
    expect(as_of).not_to_contain_text("corrupt_input")
    progressed = next(e["version"] for e in events if e["type"] == "ProgressReported")
    timeline.get_by_role("button", name=re.compile(rf"at version {progressed}$")).click()
    expect(as_of).to_have_attribute("data-version", str(progressed))
    expect(as_of).to_contain_text("50%")
    expect(as_of).to_contain_text("running")


def test_a_viewer_gets_no_event_timeline(api: Api, tab: Tab) -> None:
    job = submitted(api, "t-noaudit", "lu@t-noaudit")
    api.wait_for_read_models()
    page = tab.open(f"/jobs/{job['id']}", api.token("viewer", "t-noaudit"))
    expect(page.locator("[data-part=history] tbody tr")).to_have_count(1)
    expect(page.locator("[data-part=audit-section]")).to_be_hidden()
    assert not any("/events" in url or "/replay" in url for url in tab.requested)
