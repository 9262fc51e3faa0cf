"""The interactive API docs render in a browser with no request leaving this machine."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.browser.conftest import Tab

# ReDoc's footer always shows Redocly's logo from its CDN (no option turns it off); the
# page's Content-Security-Policy refuses it, and ReDoc hides the image when it fails.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# Each bundle is over a megabyte of JavaScript to parse and a whole API to lay out: on a
# busy two-core machine that takes longer than a page of the dashboard.
RENDER_MS = 30_000


def _hosts(requested: list[str]) -> set[str]:
    local = ("data:", "blob:http://127.0.0.1:")
    return {urlsplit(url).hostname or url for url in requested if not url.startswith(local)}


def test_swagger_ui_renders_offline(tab: Tab) -> None:
    page = tab.open("/docs")
    page.locator(".swagger-ui .opblock").first.wait_for(timeout=RENDER_MS)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("jobledger")
    assert _hosts(tab.requested) == {"127.0.0.1"}


def test_redoc_renders_offline_with_its_cdn_logo_refused(tab: Tab) -> None:
    page = tab.open("/redoc")
    page.locator(".api-content h1").first.wait_for(timeout=RENDER_MS)
    assert "jobledger" in page.locator(".api-content h1").first.inner_text()
    assert _hosts([u for u in tab.requested if u != REDOC_LOGO]) == {"127.0.0.1"}
    assert all("cdn.redoc.ly" in error for error in tab.errors), tab.errors
    tab.errors.clear()
