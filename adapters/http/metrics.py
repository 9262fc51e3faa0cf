"""Request metrics, kept per app, and the ``/metrics`` page in Prometheus text format."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "jobledger_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "jobledger_http_request_duration_seconds",
            "Time to answer (to the first byte of a stream), by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # A metric's child for a set of labels, looked up once: ``labels()`` costs several
        # times what the count or the observation does.
        self._timers: dict[tuple[str, str], Any] = {}
        self._counters: dict[tuple[str, str, int], Any] = {}

    def time(self, method: str, route: str, seconds: float) -> None:
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[method, route] = self.latency.labels(method, route)
        timer.observe(seconds)

    def count(self, method: str, route: str, status: int) -> None:
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self.requests.labels(method, route, str(status))
            self._counters[method, route, status] = counter
        counter.inc()

    def page(self, gauges: Iterable[Metric]) -> bytes:
        """The request metrics, then the caller's gauges, in the text format."""

        class Now:
            def collect(self) -> Iterable[Metric]:
                return gauges

        now = CollectorRegistry(auto_describe=False)
        now.register(Now())
        return generate_latest(self.registry) + generate_latest(now)


def ledger_gauges(
    tenant: str,
    status_counts: Mapping[str, int],
    ledger_position: int,
    projection_positions: Mapping[str, int],
    waiters: int,
) -> list[Metric]:
    jobs = GaugeMetricFamily(
        "jobledger_jobs", "Jobs of the caller's tenant by status.", labels=["tenant", "status"]
    )
    for status, count in sorted(status_counts.items()):
        jobs.add_metric([tenant, status], count)
    depth = GaugeMetricFamily(
        "jobledger_queue_depth", "Queued jobs of the caller's tenant.", labels=["tenant"]
    )
    depth.add_metric([tenant], status_counts.get("queued", 0))
    appended = CounterMetricFamily(
        "jobledger_events_appended", "Events (and receipts) appended to the ledger's log."
    )
    appended.add_metric([], ledger_position)
    lag = GaugeMetricFamily(
        "jobledger_projection_lag_events",
        "Log entries a read model has still to process.",
        labels=["projection"],
    )
    for name, position in sorted(projection_positions.items()):
        lag.add_metric([name], max(ledger_position - position, 0))
    waiting = GaugeMetricFamily(
        "jobledger_waiters", "Long polls and streams waiting for a change in this process."
    )
    waiting.add_metric([], waiters)
    return [jobs, depth, appended, lag, waiting]


class RequestMetrics:
    """ASGI middleware: counts and times every request by its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.time(scope["method"], route, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.count(scope["method"], route, status)
