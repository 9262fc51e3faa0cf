"""The dashboard in Chromium: time to a rendered jobs page with 10,000 jobs in the
ledger, time to render all 10,000 in the table, the delay from a committed job event to
the page showing it, and the bytes the page ships.

``jobledger serve`` runs as a subprocess on a SQLite file seeded through the Ledger
(10,000 jobs of one analyst, and 10 of another tenant's analyst for the side-by-side
ratio). Debian's Chromium (``/usr/bin/chromium``), driven by Playwright, opens the pages
signed in through the URL fragment as a user would. Not a test: ``make bench`` runs it.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.client import JobledgerClient, Worker
from jobledger.adapters.settings import Settings
from jobledger.domain.values import Actor
from tests.benchmarks.bench_api import mint, serving
from tests.benchmarks.bench_core import percentile
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

JOBS = int(os.environ.get("JOBLEDGER_BENCH_DASHBOARD_JOBS", "10000"))
FEW = 10
RUNS = 5
UPDATES = 40
ROWS = "#jobs tbody tr"
ALICE = ("--tenant", "acme", "--role", "analyst", "--sub", "alice@acme")
BOB = ("--tenant", "other", "--role", "analyst", "--sub", "bob@other")
# Arm a watch (returns at once): window.__seen settles, on the page's own clock in ms,
# when the job's progress bar reaches the value. A promise returned would be awaited.
WATCH = """([id, wanted]) => { window.__seen = new Promise((resolve) => {
  const seen = () => {
    const bar = document.querySelector(`tr[data-job="${id}"] progress`);
    if (bar && Number(bar.value) === wanted) {
      observer.disconnect();
      resolve(performance.timeOrigin + performance.now());
      return true;
    }
    return false;
  };
  const observer = new MutationObserver(seen);
  if (!seen()) observer.observe(document.querySelector("#jobs tbody"),
    { childList: true, subtree: true, attributes: true });
}); }"""


def seed(db: str) -> None:
    ledger = build_ledger(Settings(db=db))
    try:
        many, few = Actor("alice@acme", "acme"), Actor("bob@other", "other")
        for n in range(JOBS):
            ledger.submit(many, "graph_analysis", investigation_id=f"INV-{n % 40}")
        for _ in range(FEW):
            ledger.submit(few, "graph_analysis")
    finally:
        ledger.close()


def sign_in(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/#token={token}")
    page.locator(ROWS).first.wait_for(timeout=60_000)


def first_page_ms(page: Page, url: str) -> list[float]:
    """Navigation to the first rendered row, fresh each run (no cache)."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        page.goto(f"{url}/jobs", wait_until="commit")
        page.locator(ROWS).first.wait_for(timeout=60_000)
        times.append((time.perf_counter() - started) * 1000)
    return times


# "Load more" until the list ends, driven inside the page (a round trip to Playwright for
# each page would be timed too), then two frames so the last rows are laid out and painted.
LOAD_ALL = """async (budget) => {
  const more = document.getElementById("more");
  const rows = () => document.querySelectorAll("#jobs tbody tr").length;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const started = performance.now();
  while (!more.hidden && performance.now() - started < budget) {
    const before = rows();
    more.click();
    while (rows() === before) await frame();
  }
  await frame();
  await frame();
  return [performance.now() - started, rows(), more.hidden];
}"""
BUDGET_S = 120  # a slower page is reported as what it rendered by then


def all_rows(page: Page, url: str) -> tuple[float, int, bool]:
    """Seconds, rows shown, and whether that was all of them."""
    page.goto(f"{url}/jobs")
    page.locator(ROWS).first.wait_for()
    elapsed_ms, shown, done = page.evaluate(LOAD_ALL, BUDGET_S * 1000)
    return float(elapsed_ms) / 1000, int(shown), bool(done)


def shipped(chromium: Any, url: str, token: str) -> dict[str, int]:
    """Bytes on the wire (headers and bodies) for one load of the jobs page in a fresh
    browser (nothing cached), its page and assets apart from its API calls (the open
    stream's few bytes are left out: it never finishes)."""
    sizes = {"assets": 0, "api": 0}

    def count(request: Any) -> None:
        size = request.sizes()
        kind = "api" if "/v1/" in request.url else "assets"
        sizes[kind] += size["responseBodySize"] + size["responseHeadersSize"]

    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.on("requestfinished", count)
    sign_in(page, url, token)
    page.locator("#live").filter(has_text="live").wait_for()
    page.wait_for_timeout(500)
    context.close()
    return sizes


def commit_to_screen_ms(page: Page, url: str, db: str) -> list[float]:
    """A worker reports progress over HTTP; from just before its call until the job's
    row on the open page shows the new percent."""
    analyst = JobledgerClient(url, mint(db, *ALICE))
    job_id = analyst.submit("graph_analysis", priority=9)["id"]  # on top, and claimed first
    client = JobledgerClient(url, mint(db, "--tenant", "acme", "--role", "worker", "--sub", "w1"))
    claimed = Worker(client, "gpu-1").claim()
    assert claimed is not None
    assert claimed.task.job_id == job_id
    page.goto(f"{url}/jobs")
    page.locator(f'tr[data-job="{job_id}"]').wait_for()
    page.locator("#live").filter(has_text="live").wait_for()
    claimed.start()
    delays = []
    for percent in range(1, UPDATES + 1):
        page.evaluate(WATCH, [job_id, percent])
        sent = time.time() * 1000
        claimed.progress(percent)
        delays.append(page.evaluate("() => window.__seen") - sent)
    client.close()
    analyst.close()
    return delays


def main() -> None:
    if not CHROMIUM.is_file():
        print(f"dashboard: skipped, no Chromium at {CHROMIUM}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'api.db'}"
        started = time.perf_counter()
        seed(db)
        seeding = time.perf_counter() - started
        with serving(Path(tmp)) as (_, port, _server), sync_playwright() as playwright:
            url = f"http://127.0.0.1:{port}"
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                rows = measure(chromium, url, db)
            finally:
                chromium.close()
    rows["seeding"] = seeding
    report(rows)


def measure(chromium: Any, url: str, db: str) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name, claims in (("few", BOB), ("many", ALICE)):
        context = chromium.new_context(viewport=VIEWPORT)
        page = context.new_page()
        token = mint(db, *claims)
        sign_in(page, url, token)
        rows[name] = first_page_ms(page, url)
        if name == "many":
            rows["bytes"] = shipped(chromium, url, token)
            rows["delay"] = commit_to_screen_ms(page, url, db)
            rows["all"] = all_rows(page, url)
        context.close()
    return rows


def report(rows: dict[str, Any]) -> None:
    few, many = statistics.median(rows["few"]), statistics.median(rows["many"])
    delay = rows["delay"]
    sizes = rows["bytes"]
    print(
        f"dashboard in Chromium against jobledger serve (SQLite), {RUNS} loads each"
        f" (the browser caches the assets after the first); seeded in {rows['seeding']:.0f} s"
    )
    print(
        f"  jobs page to its first rendered row, {JOBS:,} jobs vs {FEW}: p50 {many:.0f} ms"
        f" vs {few:.0f} ms (ratio {many / few:.2f}); p90 {percentile(rows['many'], 0.9):.0f} ms"
        "   aim: under 1,000 ms"
    )
    seconds, shown, done = rows["all"]
    print(
        f"  all {JOBS + 1:,} jobs rendered in the table (Load more, 50 a page): {shown:,} rows"
        f" in {seconds:.1f} s ({shown / seconds:,.0f} rows/s)"
        + ("" if done else f", stopped at the {BUDGET_S} s budget: not all shown")
    )
    print(
        f"  commit to screen, a progress report over HTTP until the row shows it ({UPDATES}):"
        f" median {statistics.median(delay):.1f} ms, p99 {percentile(delay, 0.99):.1f} ms"
        "   aim: median under 250 ms"
    )
    total = sizes["assets"] + sizes["api"]
    print(
        f"  bytes for one load of /jobs: {sizes['assets'] / 1024:.1f} KB of page and assets"
        f" + {sizes['api'] / 1024:.1f} KB of API answers = {total / 1024:.1f} KB"
        "   aim: under 300 KB"
    )


if __name__ == "__main__":
    main()
