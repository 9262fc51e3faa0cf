"""The ledger's write path in one process: jobs kept in memory and group commit, each
switched off and on, side by side.

16 threads each run job lifecycles (submit, claim, start, complete with a tiny result;
start and complete with command ids, as workers send them) against one ledger on a new
SQLite file, for ``SECONDS``. Three variants alternate round by round: neither lever
(every command loads its job from the store and commits alone), jobs kept in memory, and
both. Printed: lifecycles per second, this process's CPU per lifecycle, and how many saves
each grouped transaction held; medians, with ratios to the first variant.

``python -m tests.benchmarks.bench_commit [SECONDS] [ROUNDS]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store.sql.group_commit import GroupCommit
from jobledger.domain.ledger import Ledger
from jobledger.domain.values import Actor, CommandMeta

ANALYST = Actor("alice", "acme")
WORKER = Actor("worker", "acme")
THREADS = 16
SECONDS = 5.0
ROUNDS = 3
RESULT = {"type": "entity_extraction", "summary": "done"}
# name: (jobs kept in memory, group commit)
VARIANTS = {
    "neither": (0, False),
    "jobs in memory": (10_000, False),
    "jobs in memory + group commit": (10_000, True),
}


def open_ledger(path: Path, cache: int, grouped: bool) -> Ledger:
    settings = Settings(db=f"sqlite:///{path}", job_cache_size=cache)
    if grouped:
        return build_ledger(settings)
    # The stock recorder stores each save in a transaction of its own.
    ledger = build_ledger(settings)
    ledger.close()
    return Ledger(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "APPLICATION_RECORDER_TOPIC": get_topic(SQLiteApplicationRecorder),
            "AGGREGATE_CACHE_MAXSIZE": str(cache) if cache else "",
        },
        price_book=ledger.price_book,
    )


def lifecycles(ledger: Ledger, seconds: float) -> int:
    done = [0] * THREADS
    stop = time.perf_counter() + seconds

    def work(n: int) -> None:
        while time.perf_counter() < stop:
            job_id = ledger.submit(ANALYST, "entity_extraction").job_id
            lease = ledger.claim(WORKER, job_id, agent=f"w{n}").lease_id
            assert lease is not None
            ledger.start(WORKER, job_id, lease_id=lease, meta=CommandMeta(command_id=f"{job_id}-s"))
            meta = CommandMeta(command_id=f"{job_id}-c")
            ledger.complete(WORKER, job_id, lease_id=lease, result=RESULT, meta=meta)
            done[n] += 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done)


def measure(folder: Path, seconds: float, rounds: int) -> dict[str, list[tuple[float, ...]]]:
    rows: dict[str, list[tuple[float, ...]]] = {name: [] for name in VARIANTS}
    for n in range(rounds):
        names = list(VARIANTS) if n % 2 == 0 else list(VARIANTS)[::-1]
        for name in names:
            cache, grouped = VARIANTS[name]
            ledger = open_ledger(folder / f"{n}-{cache}-{grouped}.db", cache, grouped)
            try:
                wall, cpu = time.perf_counter(), time.process_time()
                count = lifecycles(ledger, seconds)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                group = getattr(ledger.recorder, "group_commit", None)
                per = group.saves / group.transactions if isinstance(group, GroupCommit) else 1.0
                rows[name].append((count / wall, cpu / count * 1e3, per))
            finally:
                ledger.close()
    return rows


def main(seconds: float = SECONDS, rounds: int = ROUNDS) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(Path(tmp), seconds, rounds)
    print(
        f"ledger write path: {THREADS} threads run lifecycles (submit, claim, start, complete)"
        f" for {seconds:.0f} s, {rounds} alternating rounds (SQLite); medians, ratio to the first"
    )
    first: tuple[float, float] | None = None
    for name, found in rows.items():
        rate = statistics.median(r[0] for r in found)
        cpu = statistics.median(r[1] for r in found)
        saves = statistics.median(r[2] for r in found)
        first = first or (rate, cpu)
        print(
            f"  {name:<30} {rate:>7.1f} lifecycles/s ({rate / first[0]:.2f})"
            f" {cpu:>6.2f} CPU-ms a lifecycle ({cpu / first[1]:.2f})"
            f"  {saves:>4.1f} saves a transaction"
        )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(
        float(arguments[0]) if arguments else SECONDS,
        int(arguments[1]) if len(arguments) > 1 else ROUNDS,
    )
