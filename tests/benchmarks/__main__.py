"""`make bench`: every benchmark, one after another."""

from tests.benchmarks import (
    bench_api,
    bench_audit,
    bench_commit,
    bench_core,
    bench_dashboard,
    bench_graphql,
    bench_peers,
    bench_postgres,
    bench_projections,
    bench_steps,
    bench_tasks,
    bench_workers,
)

bench_core.main()
bench_audit.main()
bench_commit.main()
bench_projections.main()
bench_api.main()
bench_graphql.main()
bench_workers.main()
bench_tasks.main()
bench_steps.main()
bench_postgres.main()
bench_dashboard.main()
bench_peers.main()
