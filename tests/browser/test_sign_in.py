"""Signing in with a link's fragment or a pasted token, and back to sign-in when refused."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.api.conftest import Api
from tests.browser.conftest import Tab


def test_a_sign_in_link_keeps_the_token_out_of_the_address(api: Api, tab: Tab) -> None:
    page = tab.open("/jobs", api.token("viewer", "t-link"))
    assert "token" not in page.url
    expect(page.locator("#who")).to_contain_text("viewer@t-link")


def test_a_pasted_token_signs_in_and_returns_to_the_page_asked_for(api: Api, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{api.url}/overview")
    page.wait_for_url(re.compile(r"/sign-in\?next=%2Foverview"))
    page.get_by_label("Bearer token").fill(api.token("viewer", "t-paste"))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/overview$"))
    expect(page.locator("#who")).to_contain_text("viewer@t-paste")


def test_a_refused_token_brings_back_the_sign_in_with_the_reason(api: Api, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{api.url}/#token={api.forged(alg='HS256')}")
    page.wait_for_url(re.compile(r"/sign-in"))
    expect(page.get_by_role("alert")).to_contain_text("Signed out:")
    expect(page.get_by_role("alert")).to_contain_text("RS256")
    tab.refused(401)
