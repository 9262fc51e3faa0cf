"""A stream cut by a server restart resumes after the last position the page saw, so
what happened while the server was down still reaches the page, without a reload."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, expect

from jobledger.adapters.bootstrap import build_ledger, build_services
from jobledger.adapters.http.server import serving
from jobledger.adapters.settings import Settings
from tests.api.conftest import Api
from tests.api.lifecycle import run_to_end
from tests.browser.conftest import WAIT_MS, submitted
from tests.e2e.test_serve import free_port


def test_the_jobs_page_resumes_its_stream_after_a_server_restart(
    browser: Browser, tmp_path: Path
) -> None:
    settings = Settings(db=f"sqlite:///{tmp_path / 'ledger.db'}")
    port = free_port()
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    first = build_services(settings)
    try:
        with serving(first, port=port) as url:
            api = Api(url, first, settings)
            page.goto(f"{url}/#token={api.token('analyst', 't-restart', 'kim@t-restart')}")
            page.wait_for_url(re.compile(r"/jobs$"))
            expect(page.locator("#live")).to_have_text("live")
            job = submitted(api, "t-restart", "kim@t-restart")
            row = page.locator(f'#jobs tr[data-job="{job["id"]}"]')
            expect(row).to_have_attribute("data-status", "queued")
    finally:
        first.ledger.close()
    expect(page.locator("#live")).to_have_text("reconnecting…")
    ledger = build_ledger(settings)  # the job runs to its end while no server is up
    try:
        run_to_end(ledger, job["id"], "t-restart")
    finally:
        ledger.close()
    second = build_services(settings)
    try:
        with serving(second, port=port):
            expect(row).to_have_attribute("data-status", "completed", timeout=10_000)
            expect(page.locator("#live")).to_have_text("live")
            assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    finally:
        second.ledger.close()
        context.close()
