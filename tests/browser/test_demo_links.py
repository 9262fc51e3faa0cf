"""``jobledger serve --demo`` prints sign-in links that open the dashboard as a viewer,
an analyst and an admin of the demo tenant, the token only in the fragment."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_cli import JOBLEDGER
from tests.e2e.test_serve import free_port, wait_until_serving

pytestmark = pytest.mark.slow  # a `serve --demo` process of its own
LINK = re.compile(r"^\s+(http://\S+/#token=\S+)$")


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
        assert server.stdout is not None
        links = []
        for line in server.stdout:
            if match := LINK.match(line):
                links.append(match.group(1))
            if len(links) == 3:
                break
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
