"""The blocking and the asyncio clients are one client: the same public methods, taking
the same parameters, and the lifecycle's one list of terminal statuses."""

from __future__ import annotations

import inspect

import pytest

from jobledger.adapters import client
from jobledger.adapters.client import claims, core
from jobledger.domain import lifecycle

PAIRS = [
    (client.JobledgerClient, client.AsyncJobledgerClient),
    (client.ClaimedJob, client.AsyncClaimedJob),
    (client.Worker, client.AsyncWorker),
]


def public_methods(cls: type) -> dict[str, list[str]]:
    """Each public method or property and the names of its parameters."""
    found: dict[str, list[str]] = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            found[name] = []
        elif inspect.isfunction(member):
            found[name] = list(inspect.signature(member).parameters)
    return found


@pytest.mark.parametrize(("blocking", "asyncio"), PAIRS, ids=lambda cls: cls.__name__)
def test_the_asyncio_class_has_the_methods_of_the_blocking_one_with_the_same_parameters(
    blocking: type, asyncio: type
) -> None:
    assert public_methods(asyncio) == public_methods(blocking)


def test_the_client_reads_terminal_statuses_from_the_lifecycle() -> None:
    assert core.TERMINAL is lifecycle.TERMINAL
    assert claims.TERMINAL is lifecycle.TERMINAL
