"""One timed catch-up of every read model, in a process of its own; prints JSON.

``python -m tests.benchmarks.catch_up_child DB [SCHEMA]`` opens the ledger at DB (on
PostgreSQL, in SCHEMA), empties the read models, and projects the whole log once. Run with
an earlier commit's packages first on ``PYTHONPATH`` it measures that commit's code on the
same log, so ``bench_projections`` can set the two side by side. Its own process also
gives a clean peak RSS: the log's length should not show in it. It imports only what every
tree since the runner's first version has.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from jobledger.adapters.bootstrap import build_ledger, build_runner
from jobledger.adapters.settings import Settings


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    db = sys.argv[1]
    settings = Settings(db=db, pg_schema=sys.argv[2]) if len(sys.argv) > 2 else Settings(db=db)
    ledger = build_ledger(settings, create=False)
    runner = build_runner(ledger)
    for projection in runner.projections.values():
        projection.view.reset(projection.tables, projection.tracking_name)
    events = ledger.recorder.max_notification_id() or 0
    rss_before = max_rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    reached = runner.catch_up()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert reached == events, (reached, events)
    ledger.close()
    row = {"events": events, "wall": wall, "cpu": cpu, "rss_before": rss_before}
    print(json.dumps({**row, "rss_peak": max_rss_mb()}))


if __name__ == "__main__":
    main()
