"""What an API process that does not project makes of the projector's announcements."""

from __future__ import annotations

import pytest

from jobledger.adapters.store.postgres.notify import _announced


def test_an_announcement_names_the_jobs_that_changed_and_the_position() -> None:
    assert _announced('{"p": 12, "j": ["a", "b"]}', lambda: 0) == ({"a", "b"}, 12)
    assert _announced('{"p": 13, "j": null}', lambda: 0) == (None, 13)  # too many to list


@pytest.mark.parametrize(
    "payload", ["", "not json", "[]", '{"p": 1}', '{"j": []}', '{"p": "x", "j": []}']
)
def test_an_unreadable_announcement_wakes_every_waiter_instead_of_ending_the_listener(
    payload: str,
) -> None:
    assert _announced(payload, lambda: 40) == (None, 40)
