"""``/docs`` (Swagger UI) and ``/redoc`` from the vendored copies in ``static/vendor``,
so the interactive API reference works on a machine without internet access."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from jobledger.adapters.http.assets import DOCS_POLICY, url

SWAGGER = "vendor/swagger-ui-dist-5.35.0"
REDOC = "vendor/redoc-2.5.4"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title}: API docs",
        swagger_js_url=url(f"{SWAGGER}/swagger-ui-bundle.js"),
        swagger_css_url=url(f"{SWAGGER}/swagger-ui.css"),
        swagger_favicon_url=url(f"{SWAGGER}/favicon-32x32.png"),
    )
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title}: API reference",
        redoc_js_url=url(f"{REDOC}/redoc.standalone.js"),
        redoc_favicon_url=url(f"{SWAGGER}/favicon-32x32.png"),
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page
