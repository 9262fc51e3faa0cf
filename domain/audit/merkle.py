"""A Merkle tree in the shape of RFC 6962 (and 9162): root hashes, inclusion and
consistency proofs, and their verifiers.

The hashes of leaves and interior nodes are domain-separated (``0x00`` and ``0x01``
prefixes), so a leaf can never pass for a node. Proofs are built from subtree hashes
the caller supplies (``Subtree``), so a store can serve them from cached nodes
instead of re-reading every leaf; :class:`MemoryTree` serves them from a list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256

# The hash of the leaves ``[start, end)``, for 0 <= start < end <= tree size.
Subtree = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size >= 2): the left subtree's size."""
    return 1 << ((size - 1).bit_length() - 1)


class RootBuilder:
    """The root of a growing log in O(log n) memory: the perfect subtrees so far, left
    to right, folded on demand. Reading a log once yields the root at every size.

    The stack holds one perfect subtree per set bit of ``size``, largest first, so an
    append merges as many times as ``size`` has trailing one bits."""

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        stack, n, merged = self._stack, self.size, leaf
        while n & 1:
            merged = _sha256(b"\x01" + stack.pop() + merged).digest()
            n >>= 1
        stack.append(merged)
        self.size += 1

    def extend_perfect(self, root: bytes, size: int) -> None:
        """Push a whole perfect subtree of ``size`` leaves (a power of two), when the
        tree's size is a multiple of it: as if its leaves were appended one by one."""
        if size & (size - 1) or self.size % size:
            raise ValueError(f"cannot push a subtree of {size} at size {self.size}")
        n, merged = self.size // size, root
        while n & 1:
            merged = node_hash(self._stack.pop(), merged)
            n >>= 1
        self._stack.append(merged)
        self.size += size

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        found = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            found = node_hash(left, found)
        return found


def root_of(leaves: Iterable[bytes]) -> bytes:
    builder = RootBuilder()
    builder.extend(leaves)
    return builder.root()


class MemoryTree:
    """Subtree hashes of leaves held in memory, perfect subtrees cached."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = leaves
        self._perfect: dict[tuple[int, int], bytes] = {}

    def __call__(self, start: int, end: int) -> bytes:
        size = end - start
        if size == 1:
            return self.leaves[start]
        perfect = size & (size - 1) == 0
        if perfect and (start, end) in self._perfect:
            return self._perfect[(start, end)]
        k = split(size)
        found = node_hash(self(start, start + k), self(start + k, end))
        if perfect:
            self._perfect[(start, end)] = found
        return found


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """RFC 6962's PATH(m, D[n]): the siblings from leaf ``index`` up to the root."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index - start < k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
    path.reverse()  # leaf to root
    return path


def consistency_proof(old_size: int, new_size: int, subtree: Subtree) -> list[bytes]:
    """RFC 6962's PROOF(m, D[n]): what shows the first ``old_size`` leaves are unchanged."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot prove size {old_size} against size {new_size}")
    if old_size in (0, new_size):
        return []
    found: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                found.append(subtree(start, end))
            break
        k = split(n)
        if m <= k:
            found.append(subtree(start + k, end))
            end = start + k
        else:
            found.append(subtree(start, start + k))
            start += k
            m -= k
            complete = False
    found.reverse()
    return found


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root a leaf and its proof imply (RFC 9162, 2.1.3.2); None if malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, found = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            found = node_hash(sibling, found)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            found = node_hash(found, sibling)
        fn >>= 1
        sn >>= 1
    return found if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    return root_from_inclusion(index, size, leaf, proof) == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162, 2.1.4.2: whether the tree ``new_root`` extends the tree ``old_root``."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
