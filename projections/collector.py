"""Holding off Python's cyclic garbage collector while a batch is projected.

A batch of 5,000 events makes and drops a few hundred thousand small objects (decoded
states, events, rows), all freed by reference counting: the batch leaves no cycles. Their
count alone set the collector off, and its full passes walked every object the process
holds: about a tenth of a catch-up's time, for nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection inside; it resumes after, if it was on before. Threads
    may overlap: one that found it off leaves it to the one that turned it off, so it is
    never left off, unless the process itself had turned it off."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
