"""GraphiQL at /graphql works in a browser with no request leaving this machine, under its
Content-Security-Policy, signed in with the dashboard's token."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.api.conftest import Api
from tests.browser.conftest import Tab

RENDER_MS = 30_000  # a 3.5 MB bundle to parse on a busy machine


def test_graphiql_runs_a_query_offline_with_the_signed_in_token(tab: Tab, api: Api) -> None:
    page = tab.open("/graphql", api.token("viewer", "graphiql", "viewer@graphiql"))
    page.locator(".graphiql-execute-button").wait_for(timeout=RENDER_MS)
    page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response")
    result.get_by_text("viewer@graphiql").wait_for(timeout=RENDER_MS)
    assert '"totalCount": 0' in result.inner_text()
    hosts = {urlsplit(u).hostname or u for u in tab.requested if not u.startswith("data:")}
    assert hosts == {"127.0.0.1"}
