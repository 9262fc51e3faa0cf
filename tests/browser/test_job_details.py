"""A job's details page: inputs for the creator only, and its whole status history."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.api.conftest import Api
from tests.browser.conftest import Tab, submitted, worker

INPUT = {"name": "corpus.jsonl", "mediaType": "application/jsonl", "sizeBytes": 52311}


def test_the_creator_sees_the_inputs_and_a_viewer_does_not(api: Api, tab: Tab) -> None:
    job = submitted(api, "t-inputs", "gil@t-inputs", inputs=[INPUT])
    api.wait_for_read_models()
    page = tab.open(f"/jobs/{job['id']}", api.token("analyst", "t-inputs", "gil@t-inputs"))
    expect(page.locator("#inputs")).to_contain_text("corpus.jsonl")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/sign-in"))  # signed out before the next one signs in
    page = tab.open(f"/jobs/{job['id']}", api.token("viewer", "t-inputs"))
    expect(page.locator("#facts")).to_contain_text(job["id"])
    expect(page.locator("#inputs-section")).to_be_hidden()
    assert "corpus.jsonl" not in page.content()


def test_the_status_history_lists_every_transition_and_follows_the_job(api: Api, tab: Tab) -> None:
    job = submitted(api, "t-history", "hal@t-history")
    api.wait_for_read_models()
    page = tab.open(f"/jobs/{job['id']}", api.token("viewer", "t-history"))
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(1)
    claimed = worker(api, "t-history").claim()
    assert claimed is not None
    with claimed:
        claimed.start()
        claimed.fail("corrupt_input", "not JSON Lines")
    expect(page.locator("#error")).to_contain_text("corrupt_input: not JSON Lines")
    expected = api.as_role("viewer", "t-history").get(f"/v1/jobs/{job['id']}/history").json()
    assert len(expected["items"]) == 4  # queued, claimed, running, failed
    expect(history).to_have_count(4)
    for shown, change in zip(history.all(), expected["items"], strict=True):
        expect(shown.locator("td").nth(2)).to_have_text(change["toStatus"])
        expect(shown.locator("td").nth(4)).to_have_text(change["actor"])
