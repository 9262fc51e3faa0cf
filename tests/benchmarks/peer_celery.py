"""The Celery app of the peer benchmark: one task that completes with a tiny result.

The worker subprocess loads it with ``celery -A tests.benchmarks.peer_celery``; the key
prefix of the run comes in ``JOBLEDGER_BENCH_CELERY_PREFIX`` so that every key the run
writes to Redis (queues, results, bindings) carries it and can be deleted afterwards.
"""

from __future__ import annotations

import os

from celery import Celery  # type: ignore[import-untyped]

REDIS_URL = "redis://127.0.0.1:6379/0"
PREFIX_VARIABLE = "JOBLEDGER_BENCH_CELERY_PREFIX"
TASK = "bench.complete"
RESULT = "done"


def make_app(prefix: str) -> Celery:
    """Results kept in Redis, ``started`` recorded, a job acknowledged once it is done (so
    a worker that dies loses none), one job fetched at a time per worker thread."""
    app = Celery("jobledger_bench", broker=REDIS_URL, backend=REDIS_URL)
    app.conf.update(
        broker_transport_options={"global_keyprefix": prefix},
        result_backend_transport_options={"global_keyprefix": prefix},
        task_track_started=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )

    @app.task(name=TASK)  # type: ignore[untyped-decorator]
    def complete(number: int) -> str:
        return RESULT

    return app


app = make_app(os.environ.get(PREFIX_VARIABLE, "jobledger-bench:"))
