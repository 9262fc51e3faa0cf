"""The dashboard's pages: static HTML shells whose scripts call the public API with the
caller's own token, so a page can never show more than the API allows that caller.

The shells carry, as data attributes, the rules the scripts need (which roles read the
whole tenant or cancel, which states are final or cancellable, the job types), taken
from where those rules are stated, never copied into JavaScript.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable
from typing import get_args
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from jobledger.adapters.auth.tokens import Role
from jobledger.adapters.http.assets import STATIC, STRICT_POLICY
from jobledger.adapters.http.routes import jobs as routes_jobs
from jobledger.adapters.http.security import CANCELLERS, READERS, Allowed
from jobledger.domain.lifecycle import TERMINAL, TRANSITIONS, JobStatus, Trigger
from jobledger.domain.results import JobType

PAGES = STATIC / "dashboard" / "pages"
HEADERS = {
    "Content-Security-Policy": STRICT_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _words(values: Iterable[str]) -> str:
    return " ".join(values)


@functools.cache
def _rules() -> str:
    cancellable = {s for t in TRANSITIONS if t.trigger is Trigger.CANCEL for s in t.sources}
    rules = {
        "data-readers": _words(r for r in READERS),
        "data-cancellers": _words(r for r in CANCELLERS),
        "data-submitters": _words(_roles_of(routes_jobs.Submitter)),
        "data-statuses": _words(JobStatus),
        "data-terminal": _words(s for s in JobStatus if s in TERMINAL),
        "data-cancellable": _words(s for s in JobStatus if s in cancellable),
        "data-types": _words(JobType),
    }
    return " ".join(f'{name}="{html.escape(value)}"' for name, value in rules.items())


def _roles_of(dependency: object) -> tuple[Role, ...]:
    """The roles a route's ``Annotated[Principal, Depends(allowed(...))]`` admits."""
    allowed: Allowed = get_args(dependency)[1].dependency
    return allowed.roles


PARTIAL = re.compile(r"\{\{(\w+)\}\}")  # {{details}} in a page: _details.html, shared

# Each page: its title, and whether it has the signed-in bar (sign-in has not). A page's
# file holds only its own content; the head and the bar are shared (``_head.html``,
# ``_bar.html``), as is what a page includes by name (``{{details}}``: ``_details.html``),
# and its script is ``/static/dashboard/<page>.js``.
TITLES = {
    "sign-in": ("Sign in", False),
    "jobs": ("Jobs", True),
    "job": ("Job", True),
    "overview": ("Overview", True),
}


@functools.cache
def _shell(name: str) -> str:
    title, with_bar = TITLES[name]
    head = (PAGES / "_head.html").read_text(encoding="utf-8")
    head = head.replace("{{title}}", title).replace("{{page}}", name)
    bar = (PAGES / "_bar.html").read_text(encoding="utf-8") if with_bar else ""
    content = (PAGES / f"{name}.html").read_text(encoding="utf-8")
    content = PARTIAL.sub(lambda m: (PAGES / f"_{m[1]}.html").read_text(encoding="utf-8"), content)
    page = head.replace("<body>", f"<body {_rules()}>") + bar + content
    return page + "</body>\n</html>\n"


def _page(name: str) -> HTMLResponse:
    return HTMLResponse(_shell(name), headers=HEADERS)


@router.get("/")
def home() -> RedirectResponse:
    """A sign-in link's fragment (``/#token=...``) survives the redirect: browsers keep it."""
    return RedirectResponse("/jobs", status_code=303)


@router.get("/sign-in")
def sign_in() -> HTMLResponse:
    return _page("sign-in")


@router.get("/jobs")
def jobs() -> HTMLResponse:
    return _page("jobs")


@router.get("/jobs/{job_id}")
def job(job_id: UUID) -> HTMLResponse:
    return _page("job")


@router.get("/overview")
def overview() -> HTMLResponse:
    return _page("overview")
