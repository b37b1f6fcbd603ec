"""RFC 6962 / RFC 9162 Merkle tree hashing, as pure functions over index ranges.

Leaves are ``SHA-256(0x00 || leaf input)``, interior nodes ``SHA-256(0x01 || left || right)``,
and the hash of n leaves is the RFC's MTH: the left subtree holds the largest power of two
strictly below n. A tree of any size is then made of *perfect* subtrees aligned on their own
size, which the database stores (``audit_tree_nodes``): proofs are lists of index ranges
computed here without hashing, each range's hash assembled from O(log n) stored nodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

Range = tuple[int, int]  # leaves [start, end)
Coord = tuple[
    int, int
]  # (level, idx): the perfect subtree of leaves [idx·2^level, (idx+1)·2^level)


def leaf_hash(leaf_input: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaves: list[bytes]) -> bytes:
    """MTH by the RFC's recursive definition over leaf *hashes* (for tests and small trees)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def perfect_parts(start: int, end: int) -> list[Coord]:
    """The stored perfect subtrees whose MTH-combination is the hash of leaves [start, end).

    ``start`` is aligned as in every range the RFC's recursion produces (a multiple of the
    largest power of two not above ``end - start``).
    """
    parts: list[Coord] = []
    while end > start:
        size = end - start
        k = size if size & (size - 1) == 0 else split_point(size)
        level = k.bit_length() - 1
        parts.append((level, start >> level))
        start += k
    return parts


def combine(parts: list[bytes]) -> bytes:
    """Fold the perfect subtrees of :func:`perfect_parts` (largest first) into the MTH."""
    result = parts[-1]
    for part in reversed(parts[:-1]):
        result = node_hash(part, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 6962 §2.1.1 PATH(index, D[0:size]) as ranges, leaf side first."""
    ranges: list[Range] = []

    def path(m: int, start: int, end: int) -> None:
        n = end - start
        if n <= 1:
            return
        k = split_point(n)
        if m < k:
            path(m, start, start + k)
            ranges.append((start + k, end))
        else:
            path(m - k, start + k, end)
            ranges.append((start, start + k))

    path(index, 0, size)
    return ranges


def consistency_ranges(first: int, second: int) -> list[Range]:
    """RFC 6962 §2.1.2 PROOF(first, D[0:second]) as ranges (0 < first ≤ second)."""
    ranges: list[Range] = []

    def subproof(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                ranges.append((start, end))
            return
        k = split_point(n)
        if m <= k:
            subproof(m, start, start + k, whole)
            ranges.append((start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            ranges.append((start, start + k))

    subproof(first, 0, second, True)
    return ranges


def hash_ranges(
    ranges: Iterable[Range], fetch: Callable[[set[Coord]], dict[Coord, bytes]]
) -> list[bytes]:
    """The hash of each range, from the stored nodes ``fetch`` returns for a set of coords
    (one call, so one query). ``KeyError`` if the store lacks a node it should hold."""
    wanted = [perfect_parts(start, end) for start, end in ranges]
    nodes = fetch({coord for parts in wanted for coord in parts})
    return [combine([nodes[coord] for coord in parts]) for parts in wanted]


class Frontier:
    """The right edge of a growing tree: its perfect subtrees, largest first (a binary
    counter). Appending a leaf yields the new perfect nodes it completes."""

    def __init__(self, size: int = 0, parts: list[bytes] | None = None) -> None:
        self.size = size
        # (level, hash) pairs, levels strictly decreasing.
        levels = [c[0] for c in perfect_parts(0, size)]
        self.stack: list[tuple[int, bytes]] = list(zip(levels, parts or [], strict=True))

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return the nodes (level, idx, hash) it created, leaf included."""
        index = self.size
        created = [(0, index, leaf)]
        level, current = 0, leaf
        while self.stack and self.stack[-1][0] == level:
            _, left = self.stack.pop()
            current = node_hash(left, current)
            level += 1
            created.append((level, index >> level, current))
        self.stack.append((level, current))
        self.size += 1
        return created

    def root(self) -> bytes:
        if not self.stack:
            return hashlib.sha256(b"").digest()
        return combine([h for _, h in self.stack])
