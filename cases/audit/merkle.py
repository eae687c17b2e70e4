"""Merkle trees as in RFC 6962 / RFC 9162 (Certificate Transparency), stdlib only.

Pure: no Django, no I/O. Every hash is SHA-256 and every value is 32 raw bytes.

* ``leaf_hash(data) = SHA-256(0x00 || data)`` and ``node_hash(l, r) = SHA-256(0x01 || l || r)``.
* The tree functions take the *leaf hashes* (not the leaf data): ``root(leaf_hashes)`` is
  ``MTH(D[n])`` of RFC 9162 §2.1.1 for the entries whose leaf hashes are given; the empty tree's
  root is ``SHA-256("")``.
* ``inclusion_proof`` / ``consistency_proof`` build the proofs of RFC 9162 §2.1.3.1 / §2.1.4.1, and
  ``verify_inclusion`` / ``verify_consistency`` are the verification algorithms of §2.1.3.2 /
  §2.1.4.2, step by step.
* ``TreeBuilder`` computes the root of a stream of n leaf hashes in O(n) time and O(log n) memory
  (a stack of the roots of complete subtrees) and can capture the roots of chosen subtrees on the
  way, so that proofs over a large log are built in one pass without holding the log in memory.

A subtree is named by the half-open range ``(lo, hi)`` of leaf indices it covers. Every node of
the tree of size n is either a *complete* subtree (``hi - lo`` a power of two, ``lo`` a multiple of
it) or lies on the right edge (``hi == n``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

Range = tuple[int, int]


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry's leaf data."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_complete(lo: int, hi: int) -> bool:
    size = hi - lo
    return size > 0 and size & (size - 1) == 0 and lo % size == 0


class TreeBuilder:
    """Root of a growing list of leaf hashes, with O(log n) memory.

    The stack holds the roots of the complete subtrees that the binary digits of ``size`` name,
    largest (leftmost) first. ``append`` merges equal-sized neighbours as a binary counter
    carries, so each leaf costs amortised O(1) hashes.

    ``capture`` names subtrees ``(lo, hi)`` whose roots to keep while the leaves stream by (for
    proofs); they are in ``captured`` once ``size >= hi``. A complete subtree is captured when it
    is formed; any other range must end at a size the builder passes through (the right edge of
    the tree of that size), and is captured at that moment.
    """

    __slots__ = ("_size", "_stack", "_complete", "_edges", "captured")

    def __init__(self, capture: Iterable[Range] = ()) -> None:
        self._size = 0
        self._stack: list[tuple[int, int, bytes]] = []  # (lo, subtree size, root)
        self._complete: set[Range] = set()
        self._edges: dict[int, set[int]] = {}  # hi -> {lo}
        self.captured: dict[Range, bytes] = {}
        for lo, hi in capture:
            if not 0 <= lo < hi:
                raise ValueError(f"not a subtree range: ({lo}, {hi})")
            if _is_complete(lo, hi):
                self._complete.add((lo, hi))
            else:
                self._edges.setdefault(hi, set()).add(lo)

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash (32 bytes)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf)}")
        lo, width, node = self._size, 1, leaf
        self._maybe_capture(lo, lo + 1, node)
        stack = self._stack
        while stack and stack[-1][1] == width:
            left_lo, _, left = stack.pop()
            lo, width, node = left_lo, width * 2, node_hash(left, node)
            self._maybe_capture(lo, lo + width, node)
        stack.append((lo, width, node))
        self._size += 1
        los = self._edges.pop(self._size, None)
        if los:
            for edge_lo in los:
                self.captured[(edge_lo, self._size)] = self._fold_from(edge_lo)

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """``MTH`` of the leaves appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        return self._fold_from(0)

    def _maybe_capture(self, lo: int, hi: int, node: bytes) -> None:
        if (lo, hi) in self._complete:
            self.captured[(lo, hi)] = node

    def _fold_from(self, lo: int) -> bytes:
        """Root of the right-edge subtree ``(lo, size)``: a fold of the stack from ``lo``."""
        stack = self._stack
        index = next((i for i, item in enumerate(stack) if item[0] == lo), None)
        if index is None:
            raise ValueError(f"({lo}, {self._size}) is not a node of the tree of that size")
        node = stack[-1][2]
        for _, _, left in reversed(stack[index:-1]):
            node = node_hash(left, node)
        return node


def root(leaves: Iterable[bytes]) -> bytes:
    """``MTH`` of the tree whose leaf hashes are ``leaves`` (``SHA-256("")`` when empty)."""
    builder = TreeBuilder()
    builder.extend(leaves)
    return builder.root()


def inclusion_ranges(index: int, tree_size: int) -> list[Range]:
    """The subtrees whose roots form the audit path of leaf ``index``, leaf level first."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is not in a tree of size {tree_size}")
    path: list[Range] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_ranges(first_size: int, second_size: int) -> list[Range]:
    """The subtrees whose roots form ``PROOF(m, D[n])`` of RFC 9162 §2.1.4.1, in proof order.

    Empty when ``m == 0`` or ``m == n``.
    """
    m, n = first_size, second_size
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m in (0, n):
        return []
    out: list[Range] = []
    lo, hi, whole = 0, n, True
    while True:
        if m == hi:  # SUBPROOF(m, D[m], b): {} if b, else {MTH(D[m])}
            if not whole:
                out.append((lo, hi))
            break
        k = _split(hi - lo)
        if m - lo <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
            whole = False
    out.reverse()
    return out


def subtree_roots(leaves: Iterable[bytes], ranges: Sequence[Range]) -> list[bytes]:
    """The roots of ``ranges`` over the leaf hashes, in one pass, in the order of ``ranges``."""
    builder = TreeBuilder(capture=ranges)
    builder.extend(leaves)
    missing = [r for r in ranges if r not in builder.captured]
    if missing:
        raise ValueError(f"subtrees {missing} lie beyond the {builder.size} leaves given")
    return [builder.captured[r] for r in ranges]


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Audit path ``PATH(index, D[n])`` for the leaf at ``index`` in the tree of ``leaves``."""
    return subtree_roots(leaves, inclusion_ranges(index, len(leaves)))


def consistency_proof(first_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """``PROOF(first_size, D[n])``: the tree of the first ``first_size`` leaves is a prefix."""
    return subtree_roots(leaves, consistency_ranges(first_size, len(leaves)))


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` put ``leaf_hash`` at ``index`` in the tree ``root``?"""
    if not 0 <= index < tree_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first_size: int,
    second_size: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree ``(first_size, first_root)`` a prefix of the second?

    The trivial cases the RFC leaves to the caller: equal sizes need an empty proof and equal
    roots; the empty tree (root ``SHA-256("")``) is a prefix of every tree, with an empty proof.
    """
    if not 0 <= first_size <= second_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    if first_size == second_size:
        return not proof and first_root == second_root
    if first_size == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first_size & (first_size - 1) == 0:  # an exact power of two
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
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
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
