"""The one rule for correlation ids, which every surface (HTTP headers included) reuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobledger.domain.errors import InvalidCommand
from jobledger.domain.values import CommandMeta

ALLOWED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-"


@given(st.text(alphabet=ALLOWED, min_size=1, max_size=128))
def test_a_short_id_of_plain_characters_is_kept_as_given(correlation_id: str) -> None:
    assert CommandMeta(correlation_id=correlation_id).correlation_id == correlation_id


@given(st.text(min_size=1, max_size=40).filter(lambda text: any(c not in ALLOWED for c in text)))
def test_any_other_character_is_refused_naming_the_field(correlation_id: str) -> None:
    with pytest.raises(InvalidCommand, match=r"^correlation_id: 1 to 128 characters"):
        CommandMeta(correlation_id=correlation_id)


@pytest.mark.parametrize("correlation_id", ["", "x" * 129])
def test_an_empty_or_overlong_id_is_refused(correlation_id: str) -> None:
    with pytest.raises(InvalidCommand, match="correlation_id"):
        CommandMeta(correlation_id=correlation_id)


def test_a_command_that_names_none_gets_a_new_one_each_time() -> None:
    assert CommandMeta().correlation_id != CommandMeta().correlation_id
