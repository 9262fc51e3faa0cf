"""``jobledger serve --demo`` prints sign-in links that open the dashboard as a viewer,
an analyst and an admin of the demo tenant, the token only in the fragment."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_cli import JOBLEDGER
from tests.e2e.test_serve import free_port, wait_until_serving

pytestmark = pytest.mark.slow  # a `serve --demo` process of its own
LINK = re.compile(r"^\s+(http://\S+/#token=\S+)$")


def _links(server: subprocess.Popen[str], seconds: float) -> list[str]:
    """The sign-in links ``serve`` prints, read in a thread so a missing one cannot hang."""
    found: list[str] = []
    assert server.stdout is not None
    lines = server.stdout

    def read() -> None:
        for line in lines:
            if match := LINK.match(line):
                found.append(match.group(1))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + seconds
    while len(found) < 3 and time.monotonic() < deadline and server.poll() is None:
        time.sleep(0.05)
    return found[:3]


def test_the_printed_links_sign_each_demo_user_into_the_dashboard(
    browser: Browser, tmp_path: Path
) -> None:
    port = free_port()
    with (tmp_path / "stderr.txt").open("w") as stderr:  # a pipe nobody reads would fill up
        server = subprocess.Popen(
            [JOBLEDGER, "serve", "--demo", "--port", str(port),
             "--db", f"sqlite:///{tmp_path / 'demo.db'}"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    try:
        links = _links(server, seconds=20)
        assert len(links) == 3, (tmp_path / "stderr.txt").read_text()
        wait_until_serving(f"http://127.0.0.1:{port}", server)
        context = browser.new_context()
        page = context.new_page()
        signed_in = []
        for link in links:
            page.goto(link)
            page.wait_for_url(re.compile(r"/jobs$"))
            expect(page.locator("#who")).to_contain_text("acme-bank")
            signed_in.append(page.locator("#who").inner_text())
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(re.compile(r"/sign-in"))
        context.close()
        assert [who.split(" · ")[2] for who in signed_in] == ["viewer", "analyst", "admin"]
    finally:
        server.terminate()
        server.wait(timeout=30)
