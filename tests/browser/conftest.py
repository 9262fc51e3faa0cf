"""A real Chromium (Debian's, at ``/usr/bin/chromium``) driving the pages of a real
server (uvicorn in this process) while real workers move jobs over HTTP.

Without Chromium the browser tests are skipped with the reason, unless
``JOBLEDGER_REQUIRE_BROWSER=1`` (as in CI), which makes them fail instead. Each test
keeps a screenshot of its page (see ``artefacts``), never in the repository.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from jobledger.adapters.client import JobledgerClient, Worker
from tests.api.conftest import Api, run_api

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
WAIT_MS = 5_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module, not per session: Playwright's sync API keeps an event loop running in
    this thread while it is open, and a later test's ``asyncio.run`` would then fail."""
    if not CHROMIUM.is_file():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("JOBLEDGER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and JOBLEDGER_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for the module (SQLite: the pages do not ask which store it is);
    tests keep apart by tenant and subject."""
    yield from run_api(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots of the pages the tests saw: in ``JOBLEDGER_ARTEFACTS`` when set (CI
    keeps them there), else with the run's temporary files (pytest keeps the last runs')."""
    chosen = os.environ.get("JOBLEDGER_ARTEFACTS")
    if not chosen:
        return tmp_path_factory.mktemp("screenshots", numbered=False)
    folder = Path(chosen) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Tab:
    """A browser tab on the dashboard, with what went wrong in it."""

    page: Page
    url: str
    errors: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)

    def refused(self, status: int) -> None:
        """The API refused a call the page made, as the test meant it to: Chromium logs
        each refusal as a console error, which is then expected, not a fault."""
        refusal = f"the server responded with a status of {status}"
        assert self.errors, f"the page logged no refusal ({status})"
        assert all(refusal in error for error in self.errors), self.errors
        self.errors.clear()

    def open(self, path: str, token: str | None = None) -> Page:
        """Open ``path`` signed in with ``token`` (through the URL fragment, as the
        links ``serve --demo`` prints do)."""
        if token is not None:
            self.page.goto(f"{self.url}/#token={token}")
            self.page.wait_for_url(re.compile(r"/jobs"))
        self.page.goto(f"{self.url}{path}")
        return self.page


def worker(api: Api, tenant: str, agent: str = "gpu-1") -> Worker:
    """A worker of ``tenant`` calling the server over HTTP, as real workers do."""
    client = JobledgerClient(api.url, api.token("worker", tenant, f"{agent}@{tenant}"))
    api.clients.append(client.http)
    return Worker(client, agent)


def submitted(api: Api, tenant: str, subject: str, **fields: Any) -> dict[str, Any]:
    """A job submitted over HTTP by the analyst ``subject``; its envelope."""
    answer = api.as_role("analyst", tenant, subject).post(
        "/v1/jobs", json={"type": "graph_analysis", **fields}
    )
    assert answer.status_code == 202, answer.text
    job: dict[str, Any] = answer.json()
    return job


@pytest.fixture
def tab(
    browser: Browser, api: Api, artefacts: Path, request: pytest.FixtureRequest
) -> Iterator[Tab]:
    """A fresh browser context (no storage shared with other tests); fails the test on
    a console error or an uncaught exception in the page, unless the test cleared them."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    opened = Tab(page, api.url)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            opened.errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.on("request", lambda sent: opened.requested.append(sent.url))
    try:
        yield opened
    finally:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        # A full-page shot of a big page (ReDoc's) takes seconds on a loaded machine: it
        # is an artefact, not the test, so it gets longer than the pages' waits.
        page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True, timeout=30_000)
        context.close()
    assert opened.errors == [], f"the page logged errors: {opened.errors}"
