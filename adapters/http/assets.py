"""The files the browser pages load, served from the package itself, and the
Content-Security-Policy that keeps those pages to this origin."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/static"

# The dashboard's own pages: scripts and styles only from files of this server.
STRICT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# Swagger UI and ReDoc start from an inline script and style their DOM inline; ReDoc
# searches in a worker made from a blob. Still nothing from another origin.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def url(path: str) -> str:
    """The address of ``static/<path>``; fails at start-up if the package lacks the file."""
    if not (STATIC / path).is_file():
        raise FileNotFoundError(f"the package lacks static/{path}")
    return f"{PREFIX}/{path}"


def mount(app: FastAPI) -> None:
    app.mount(PREFIX, StaticFiles(directory=STATIC), name="static")
