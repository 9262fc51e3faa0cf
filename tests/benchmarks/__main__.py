"""`make bench`: every benchmark, one after another."""

from tests.benchmarks import (
    bench_api,
    bench_core,
    bench_dashboard,
    bench_peers,
    bench_postgres,
    bench_projections,
    bench_workers,
)

bench_core.main()
bench_projections.main()
bench_api.main()
bench_workers.main()
bench_postgres.main()
bench_dashboard.main()
bench_peers.main()
