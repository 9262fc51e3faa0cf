"""The Merkle tree agrees with RFC 6962's definitions, written out plainly here, and its
proofs check exactly when the log they speak for is the log that was proved."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from jobledger.domain.audit.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    RootBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# -- the reference: RFC 6962 section 2.1, recursion as written --------------------


def ref_mth(data: list[bytes]) -> bytes:
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(data[:k]) + ref_mth(data[k:])).digest()


def ref_path(m: int, data: list[bytes]) -> list[bytes]:
    n = len(data)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, data[:k]), ref_mth(data[k:])]
    return [*ref_path(m - k, data[k:]), ref_mth(data[:k])]


def ref_subproof(m: int, data: list[bytes], complete: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if complete else [ref_mth(data)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, data[:k], complete), ref_mth(data[k:])]
    return [*ref_subproof(m - k, data[k:], False), ref_mth(data[:k])]


def ref_proof(m: int, data: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(data)) else ref_subproof(m, data, True)


def log_of(size: int, salt: int = 0) -> list[bytes]:
    return [f"event {i} {salt}".encode() for i in range(size)]


sizes = st.integers(min_value=1, max_value=70)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=70))
def test_the_root_is_rfc_6962s_tree_hash_at_every_size(size: int) -> None:
    data = log_of(size)
    builder = RootBuilder()
    assert builder.root() == EMPTY_ROOT
    for n, item in enumerate(data, start=1):
        builder.append(leaf_hash(item))
        assert builder.root() == ref_mth(data[:n])
    assert root_of(leaf_hash(d) for d in data) == ref_mth(data)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=sizes)
def test_inclusion_proofs_are_rfc_6962s_and_check(data: st.DataObject, size: int) -> None:
    log = log_of(size)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    tree = MemoryTree([leaf_hash(d) for d in log])
    proof = inclusion_proof(index, size, tree)
    assert proof == ref_path(index, log)
    assert verify_inclusion(index, size, leaf_hash(log[index]), proof, ref_mth(log))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=sizes)
def test_an_altered_event_or_a_wrong_place_fails_its_inclusion_proof(
    data: st.DataObject, size: int
) -> None:
    log = log_of(size)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    root = ref_mth(log)
    proof = ref_path(index, log)
    altered = leaf_hash(log[index] + b"!")
    assert not verify_inclusion(index, size, altered, proof, root)
    other = data.draw(st.integers(min_value=0, max_value=size - 1))
    if log[other] != log[index]:
        assert not verify_inclusion(index, size, leaf_hash(log[other]), proof, root)
    if size > 1:
        assert not verify_inclusion(index, size, leaf_hash(log[index]), proof[:-1], root)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), new_size=sizes)
def test_consistency_proofs_are_rfc_6962s_and_check(data: st.DataObject, new_size: int) -> None:
    log = log_of(new_size)
    old_size = data.draw(st.integers(min_value=0, max_value=new_size))
    tree = MemoryTree([leaf_hash(d) for d in log])
    proof = consistency_proof(old_size, new_size, tree)
    assert proof == ref_proof(old_size, log)
    assert verify_consistency(old_size, new_size, ref_mth(log[:old_size]), ref_mth(log), proof)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), new_size=st.integers(min_value=2, max_value=70))
def test_a_rewritten_prefix_fails_the_consistency_proof(data: st.DataObject, new_size: int) -> None:
    """The later log changed one of the first ``old_size`` events: no proof from the
    later log shows it extends the earlier checkpoint."""
    log = log_of(new_size)
    old_size = data.draw(st.integers(min_value=1, max_value=new_size - 1))
    changed = data.draw(st.integers(min_value=0, max_value=old_size - 1))
    rewritten = list(log)
    rewritten[changed] = b"forged"
    old_root = ref_mth(log[:old_size])
    proof = consistency_proof(old_size, new_size, MemoryTree([leaf_hash(d) for d in rewritten]))
    assert not verify_consistency(old_size, new_size, old_root, ref_mth(rewritten), proof)


def test_proofs_of_impossible_sizes_are_refused() -> None:
    root = ref_mth(log_of(4))
    assert not verify_consistency(5, 4, root, root, [])
    assert not verify_consistency(2, 4, root, root, [])
    assert not verify_inclusion(4, 4, leaf_hash(b"x"), [], root)


@settings(max_examples=30, deadline=None)
@given(blocks=st.integers(min_value=0, max_value=9), tail=st.integers(min_value=0, max_value=7))
def test_whole_perfect_subtrees_pushed_at_once_give_the_same_root(blocks: int, tail: int) -> None:
    leaves = [leaf_hash(d) for d in log_of(blocks * 8 + tail)]
    builder = RootBuilder()
    for b in range(blocks):
        builder.extend_perfect(root_of(leaves[b * 8 : b * 8 + 8]), 8)
    builder.extend(leaves[blocks * 8 :])
    assert (builder.size, builder.root()) == (len(leaves), root_of(leaves))
