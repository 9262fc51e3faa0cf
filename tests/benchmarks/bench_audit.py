"""The tamper-evident log: what hashing costs on the write path, how fast ``audit
verify`` reads a large log (its whole-log sweep beside the record-by-record check it
replaced) and in how much memory, and proof sizes and times.

Append rates alternate rounds between a ledger whose recorder hashes each event in its
transaction and the same ledger on eventsourcing's stock recorder, so noise on a shared
machine hits both alike. The large log is written through the hashing recorder in
batches (no commands: the verifier reads stored bytes, it does not decode them).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

from jobledger.adapters.audit.auditor import StoredTree
from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.price_books import load_price_book
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_for, backend_of
from jobledger.domain.audit.merkle import consistency_proof, inclusion_proof
from jobledger.domain.ledger import Ledger
from tests.benchmarks.bench_core import ledger_lifecycles, rate

LARGE = int(os.environ.get("JOBLEDGER_BENCH_AUDIT_EVENTS", "1000000"))
STATE = json.dumps({"actor": "worker-1", "tenant": "acme", "note": "x" * 200}).encode()

VERIFY = """
import resource, sys, time
from jobledger.adapters.audit.auditor import verify_log
from jobledger.adapters.audit.signing import ledger_key
from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.domain.audit.verification import LogVerifier, paired
settings = Settings(db=sys.argv[1])
ledger = build_ledger(settings, create=False)
log = backend_of(ledger).audit_log(ledger)
started, cpu = time.perf_counter(), time.process_time()
if sys.argv[2] == "sweep":
    found = verify_log(log, ledger_key(settings).public_key())
else:  # the record-by-record check the sweep replaced (one object per row, a join)
    found = LogVerifier(log.checkpoints())
    for event, chained in paired(log.events(), log.leaves()):
        found.feed(event, chained)
    found.finish()
took, cpu = time.perf_counter() - started, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(found.checked, len(found.breaks), took, cpu, peak)
"""


def unhashed_ledger(db: Path) -> Ledger:
    settings = Settings(db=f"sqlite:///{db}")
    env = backend_for(settings).persistence_env(settings)
    env["APPLICATION_RECORDER_TOPIC"] = get_topic(SQLiteApplicationRecorder)
    return Ledger(env, price_book=load_price_book(None))


def append_rates(folder: Path, jobs: int = 100, rounds: int = 5) -> dict[str, float]:
    hashed = build_ledger(Settings(db=f"sqlite:///{folder / 'hashed.db'}"))
    plain = unhashed_ledger(folder / "plain.db")
    with_hashes, without = [], []
    for _ in range(rounds):
        with_hashes.append(rate(lambda: ledger_lifecycles(hashed, jobs)))
        without.append(rate(lambda: ledger_lifecycles(plain, jobs)))
    hashed.close()
    plain.close()
    a, b = statistics.median(with_hashes), statistics.median(without)
    return {"hashed": a, "plain": b, "ratio": a / b}


def write_large_log(db: Path, events: int, per_job: int = 10, batch: int = 2_000) -> float:
    """The seconds it took to append ``events`` through the hashing recorder."""
    ledger = build_ledger(Settings(db=f"sqlite:///{db}"))
    jobs = [uuid4() for _ in range(events // per_job + 1)]
    started = time.perf_counter()
    written = 0
    while written < events:
        chunk = []
        for n in range(written, min(events, written + batch)):
            job, version = jobs[n % len(jobs)], n // len(jobs) + 1
            chunk.append(
                StoredEvent(job, version, "jobledger.domain.events:HeartbeatRecorded", STATE)
            )
        ledger.recorder.insert_events(chunk)
        written += len(chunk)
    took = time.perf_counter() - started
    ledger.close()
    return took


def verify_in_child(db: Path, how: str = "sweep") -> tuple[int, int, float, float, float]:
    done = subprocess.run(
        [sys.executable, "-c", VERIFY, f"sqlite:///{db}", how],
        capture_output=True,
        text=True,
        check=True,
    )
    checked, breaks, took, cpu, peak = done.stdout.split()
    return int(checked), int(breaks), float(took), float(cpu), float(peak)


def proof_figures(db: Path) -> dict[str, float]:
    ledger = build_ledger(Settings(db=f"sqlite:///{db}"), create=False)
    log = backend_of(ledger).audit_log(ledger)
    size = log.size()
    StoredTree(log).root(size)  # not timed: a checkpoint's work, which fills the caches
    inclusion_times, consistency_times = [], []
    for n in range(21):  # medians: single runs of a few ms swing widely on a shared machine
        started = time.perf_counter()
        inclusion = inclusion_proof(size // 3 + n * 7_919, size, StoredTree(log))
        inclusion_times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        consistency = consistency_proof(size // 2 + 1 + n * 7_919, size, StoredTree(log))
        consistency_times.append((time.perf_counter() - started) * 1000)
    inclusion_ms = statistics.median(inclusion_times)
    consistency_ms = statistics.median(consistency_times)
    ledger.close()
    return {
        "inclusion_hashes": len(inclusion),
        "inclusion_ms": inclusion_ms,
        "consistency_hashes": len(consistency),
        "consistency_ms": consistency_ms,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("audit: lifecycle events appended per second, with and without leaf hashes (SQLite)")
        rates = append_rates(folder)
        print(f"  hashing recorder          {rates['hashed']:>9,.0f} events/s")
        print(f"  stock recorder            {rates['plain']:>9,.0f} events/s")
        print(f"  ratio                     {rates['ratio']:>9.2f}   (aim: at least 0.90)")
        for events in (LARGE // 10, LARGE):
            db = folder / f"large-{events}.db"
            wrote = write_large_log(db, events)
            print(f"audit verify over {events:,} events (written at {events / wrote:,.0f}/s)")
            rates: dict[str, float] = {}
            for how in ("records", "sweep", "records", "sweep"):  # alternated: same noise
                checked, breaks, took, cpu, peak = verify_in_child(db, how)
                rates[how] = max(rates.get(how, 0.0), checked / cpu)
                print(
                    f"  {how:<8} {checked / took:>10,.0f} events/s  {checked / cpu:>10,.0f} per "
                    f"CPU-second  {breaks} breaks  peak RSS {peak:,.0f} MB"
                )
            print(
                f"  sweep / records per CPU-second {rates['sweep'] / rates['records']:.2f}x   "
                "(aim: over 200,000 events/s, flat memory)"
            )
        figures = proof_figures(folder / f"large-{LARGE}.db")
        print(f"audit proofs at {LARGE:,} events (cached block and node roots; medians of 21)")
        print(
            f"  inclusion   {figures['inclusion_hashes']:>3.0f} hashes  "
            f"{figures['inclusion_ms']:>9.2f} ms"
        )
        print(
            f"  consistency {figures['consistency_hashes']:>3.0f} hashes  "
            f"{figures['consistency_ms']:>9.2f} ms   (aim: O(log n) hashes, under 5 ms)"
        )


if __name__ == "__main__":
    main()
