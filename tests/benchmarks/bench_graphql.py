"""GraphQL beside REST: the same reads through both, from the same ``jobledger serve``.

A page of 50 jobs (REST ``GET /v1/jobs?limit=50``; GraphQL ``jobs(first: 50)`` asking for
every field REST's summary has), and one job (REST ``GET /v1/jobs/{id}``, the envelope;
GraphQL ``job(id)`` with the same fields and its ``history`` too, which REST needs a second
request for). Load as in ``bench_api``: 32 keep-alive clients, raw asyncio requests.
The aim: GraphQL at least 0.7 of REST's requests per second, and p99 within 1/0.7 of it.

Measured (two shared cores, load average 10-15; runs vary by up to 2x): the full page went
from about 0.1-0.2 to about 0.3 once plain fields skipped graphql-core's per-field work
(``adapters/graphql/execution.py``); 5 fields about 0.6, one job with history about 0.1:
what is left is a cost per request, not per field (docs/graphql.md#speed).
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_api import ANALYST, CLIENTS, MEASURE_S, drive, mint, seed, serving

SUMMARY = """id type status createdAt updatedAt error { code message } progress attempt maxAttempts
  priority tenantId investigationId createdBy agent leaseExpiresAt notBefore pool
  tokens { input output cachedInput } cost { amount currency }
  projectedCost { amount currency } estimatedCompletionAt cancellationRequested
  findings { entities relationships anomalies predictions } startedAt finishedAt version"""
PAGE = json.dumps({"query": f"{{ jobs(first: 50) {{ edges {{ cursor node {{ {SUMMARY} }} }} }} }}"})
# What a list page shows: GraphQL's point is asking for only that.
NARROW = json.dumps(
    {"query": "{ jobs(first: 50) { edges { node { id type status updatedAt cost { amount } } } } }"}
)
ONE = f"""query ($id: UUID!) {{ job(id: $id) {{ {SUMMARY} result {{ __typename }} config
  inputs {{ name mediaType sizeBytes uri }} metadata
  history {{ version fromStatus toStatus trigger event at attempt actor reason }} }} }}"""


async def measure(port: int, token: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    ids = await seed(port, token)
    rng = random.Random(1)

    def one() -> tuple[str, str, bytes]:
        body = json.dumps({"query": ONE, "variables": {"id": rng.choice(ids)}})
        return "POST", "/graphql", body.encode()

    return {
        "50 jobs": (
            await drive(port, token, lambda: ("GET", "/v1/jobs?limit=50", b"")),
            await drive(port, token, lambda: ("POST", "/graphql", PAGE.encode())),
        ),
        "50 jobs (GraphQL: 5 fields)": (
            await drive(port, token, lambda: ("GET", "/v1/jobs?limit=50", b"")),
            await drive(port, token, lambda: ("POST", "/graphql", NARROW.encode())),
        ),
        "1 job (+ history in GraphQL)": (
            await drive(port, token, lambda: ("GET", f"/v1/jobs/{rng.choice(ids)}", b"")),
            await drive(port, token, one),
        ),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serving(Path(tmp)) as (db, port, _):
        rows = asyncio.run(measure(port, mint(db, *ANALYST)))
    print(
        f"graphql beside rest: {CLIENTS} keep-alive clients on loopback, {MEASURE_S:.0f} s each"
        " (SQLite); ratios are GraphQL / REST"
    )
    print(
        f"  {'':<30} {'REST req/s':>10} {'GraphQL':>8} {'ratio':>6}"
        f" {'REST p99':>9} {'GraphQL':>8} {'ratio':>6} {'non-2xx':>8}"
    )
    for name, (rest, graphql) in rows.items():
        failures = sum(rest["failures"].values()) + sum(graphql["failures"].values())
        print(
            f"  {name:<30} {rest['rate']:>10,.0f} {graphql['rate']:>8,.0f}"
            f" {graphql['rate'] / rest['rate']:>6.2f} {rest['p99']:>9.1f} {graphql['p99']:>8.1f}"
            f" {rest['p99'] / graphql['p99']:>6.2f} {failures:>8,}"
        )
    print("  aim: both ratios at least 0.7 (p99 ratio is REST / GraphQL: higher is better)")


if __name__ == "__main__":
    main()
