"""GraphiQL, for a browser's GET of ``/graphql``: served from the package's vendored
React and GraphiQL bundles (``static/vendor``), never from a CDN, under a
Content-Security-Policy that keeps the page to this origin."""

from __future__ import annotations

import functools
import html

from fastapi.responses import HTMLResponse

from jobledger.adapters.http.api_docs import SWAGGER
from jobledger.adapters.http.assets import url

GRAPHIQL = "vendor/graphiql-3.8.3"
# GraphiQL styles its editors inline, and its stylesheet carries its fonts as data: URIs;
# its scripts are files of this server (the page starts it from one: no inline script).
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


@functools.cache
def page() -> str:
    scripts = [
        url("vendor/react-18.2.0/react.production.min.js"),
        url("vendor/react-dom-18.2.0/react-dom.production.min.js"),
        url(f"{GRAPHIQL}/graphiql.min.js"),
        url("graphiql/start.js"),
    ]
    tags = "\n".join(f'    <script src="{html.escape(s)}" defer></script>' for s in scripts)
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>jobledger: GraphiQL</title>
    <link rel="icon" href="{url(f"{SWAGGER}/favicon-32x32.png")}">
    <link rel="stylesheet" href="{url(f"{GRAPHIQL}/graphiql.min.css")}">
{tags}
  </head>
  <body style="margin: 0">
    <div id="graphiql" style="height: 100vh">Loading GraphiQL...</div>
  </body>
</html>
"""


def response() -> HTMLResponse:
    return HTMLResponse(
        page(),
        headers={
            "Content-Security-Policy": POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
