"""A job's details (its page, and the dialog from the table): inputs for the creator
only, the whole status history, cost by model and attempt, the result by job type."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

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


def test_a_job_of_tasks_shows_its_tasks_and_verdict_and_a_job_with_steps_its_steps(
    api: Api, tab: Tab
) -> None:
    """Live: the page is open while the named workers finish their tasks over HTTP."""
    tenant, subject = "t-work", "sha256:c0ffee"

    def analyzer_claims(name: str) -> tuple[Any, str, str, str]:
        api.wait_for_read_models()
        client = api.as_role("analyzer", tenant, name)
        claimed = client.post("/v1/claims/tasks", json={"commandId": uuid4().hex})
        assert claimed.status_code == 200, claimed.text
        body = claimed.json()
        return client, body["task"]["jobId"], body["task"]["taskId"], body["leaseId"]

    def finish(name: str, **outcome: Any) -> str:
        client, job, task, lease = analyzer_claims(name)
        body = {"leaseId": lease, "commandId": uuid4().hex, **outcome}
        answer = client.put(f"/v1/jobs/{job}/tasks/{task}", json=body)
        assert answer.status_code == 200, answer.text
        return str(task)

    def of_tasks(*workers: str) -> str:
        answer = api.as_role("analyst", tenant, f"ann@{tenant}").post(
            "/v1/jobs",
            json={"type": "threat_modelling", "subject": subject, "workers": list(workers)},
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    earlier = of_tasks("yara")
    earlier_task = finish("yara", state="successful", score=40, analyses=["an-1"])
    job = of_tasks("yara", "sandbox")
    api.wait_for_read_models()
    page = tab.open(f"/jobs/{job}", api.token("viewer", tenant))
    tasks = page.get_by_role("region", name="Tasks")
    expect(tasks.locator("[data-part=tasks] tbody tr")).to_have_count(2)
    expect(tasks.locator("[data-part=verdict]")).to_contain_text("not yet")
    expect(page.get_by_role("region", name="Steps")).to_be_hidden()  # no steps recorded

    finish("sandbox", state="successful", score=-1, analyses=["an-2", "an-3"])
    finish("yara", state="failed", error={"code": "crashed", "message": "rules did not load"})
    sandbox = tasks.locator('[data-part=tasks] tr[data-worker="sandbox"]')
    expect(sandbox).to_contain_text("successful")
    expect(sandbox).to_contain_text("uncertain")
    expect(sandbox).to_contain_text("an-2, an-3")
    yara = tasks.locator('[data-part=tasks] tr[data-worker="yara"]')
    expect(yara).to_contain_text("failed")
    expect(yara).to_contain_text("crashed: rules did not load")
    expect(tasks.locator("[data-part=verdict]")).to_have_text("Verdict: 40")
    counted = tasks.locator("[data-part=counted] tbody")
    expect(counted.locator('tr[data-worker="sandbox"]')).to_contain_text("uncertain")
    expect(counted.locator('tr[data-worker="sandbox"]')).to_contain_text("this task")
    expect(counted.locator('tr[data-worker="yara"]')).to_contain_text(
        f"task {earlier_task} of job {earlier}"
    )

    stepped = submitted(api, tenant, f"ann@{tenant}")
    claimed = worker(api, tenant).claim()
    assert claimed is not None
    assert claimed.task.job_id == stepped["id"]
    with claimed:
        claimed.start()
        api.wait_for_read_models()
        page = tab.open(f"/jobs/{stepped['id']}")
        expect(page.get_by_role("region", name="Tasks")).to_be_hidden()
        search = {
            "toolName": "search_individual",
            "success": True,
            "executionTimeMs": 420,
            "startedAt": "2026-11-01T09:00:00.500Z",
        }
        claimed.steps(
            [
                {
                    "workId": 1,
                    "actionName": "classify_documents",
                    "category": "Document Classification",
                    "success": True,
                    "durationMs": 100,
                    "executedAt": "2026-11-01T09:00:00Z",
                },
                {
                    "workId": 2,
                    "actionName": "screen_person",
                    "category": "mcp",
                    "success": False,
                    "durationMs": 900,
                    "executedAt": "2026-11-01T09:00:01Z",
                    "toolCalls": [search],
                    "model": "gpt-4o",
                    "inputTokens": 1_000_000,
                },
            ]
        )
        steps = page.get_by_role("region", name="Steps")
        expect(steps.locator("[data-part=steps] tbody tr")).to_have_count(2)
        first, second = steps.locator('tr[data-step="1"]'), steps.locator('tr[data-step="2"]')
        expect(first).to_contain_text("classify_documents")
        expect(first).to_contain_text("Document Classification")
        expect(second).to_contain_text("screen_person")
        expect(second.locator('[data-tool="search_individual"]')).to_contain_text("420 ms")
        expect(second).to_contain_text("900 ms")
        expect(second).to_contain_text("USD 2.5000")
        expect(second.locator("td").nth(3)).to_have_text("no")
