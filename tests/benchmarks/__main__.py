"""`make bench`: every benchmark, one after another."""

from tests.benchmarks import bench_core, bench_projections

bench_core.main()
bench_projections.main()
