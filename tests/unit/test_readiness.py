"""A readiness probe against a store that hangs holds one thread of its own, and answers
the probes that come meanwhile at once, instead of filling the shared thread pool."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from jobledger.adapters.http.readiness import ReadinessProbe, StillWaiting


def test_a_hanging_store_holds_one_thread_and_later_probes_answer_at_once() -> None:
    probe = ReadinessProbe()
    store_answers = threading.Event()
    reads: list[str] = []

    def hanging_read() -> int:
        reads.append(threading.current_thread().name)
        store_answers.wait(10)
        return 7

    async def scenario() -> None:
        with pytest.raises(TimeoutError):
            await probe.read(hanging_read, timeout=0.1)
        started = time.monotonic()
        for _ in range(5):
            with pytest.raises(StillWaiting):
                await probe.read(hanging_read, timeout=5)
        assert time.monotonic() - started < 2.5  # answered at once, not after 5 x 5 s
        store_answers.set()
        deadline = time.monotonic() + 5
        while True:  # once the store answers, the next probe reads again
            try:
                assert await probe.read(lambda: 42, timeout=1) == 42
                break
            except StillWaiting:
                assert time.monotonic() < deadline, "the probe never read again"
                await asyncio.sleep(0.02)

    try:
        asyncio.run(scenario())
    finally:
        store_answers.set()
        probe.close()
    assert len(reads) == 1  # the probes that came meanwhile did not start a read
    assert reads[0].startswith("readiness")
