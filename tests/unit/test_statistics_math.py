"""The duration histogram's rules: every value in its bucket, buckets narrow, quantiles close."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from jobledger.projections.job_summaries import milliseconds
from jobledger.projections.statistics import bucket_of, lower_bound_ms, quantile_ms

durations = st.integers(min_value=0, max_value=10**10)


@given(durations)
def test_every_duration_lies_in_its_bucket(ms: int) -> None:
    bucket = bucket_of(ms)
    assert lower_bound_ms(bucket) <= ms < lower_bound_ms(bucket + 1)


@given(st.integers(min_value=0, max_value=600))
def test_buckets_are_at_most_a_sixteenth_wide(bucket: int) -> None:
    low, high = lower_bound_ms(bucket), lower_bound_ms(bucket + 1)
    assert high > low
    assert high - low <= max(1, low / 16)


@given(st.lists(durations, min_size=1, max_size=200), st.sampled_from([0.5, 0.95, 0.99]))
def test_a_quantile_is_the_lower_bound_of_the_true_quantiles_bucket(
    values: list[int], q: float
) -> None:
    exact = sorted(values)[max(1, math.ceil(q * len(values))) - 1]  # nearest rank
    counts: dict[int, int] = {}
    for value in values:
        counts[bucket_of(value)] = counts.get(bucket_of(value), 0) + 1
    estimate = quantile_ms(counts.items(), q)
    assert estimate == lower_bound_ms(bucket_of(exact))
    assert estimate <= exact


def test_no_durations_have_no_quantile() -> None:
    assert quantile_ms([], 0.5) is None


@given(st.integers(min_value=0, max_value=10**12))
def test_durations_are_whole_milliseconds_without_float_rounding(ms: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert milliseconds(start, start + timedelta(milliseconds=ms)) == ms
