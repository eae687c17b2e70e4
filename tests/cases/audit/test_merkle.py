"""The RFC 6962 / 9162 Merkle tree, checked against a naive recursive reading of the RFC."""

from __future__ import annotations

import hashlib

import pytest

from cases.audit import merkle

# --- A naive reference: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 as written -------------------------


def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: list[bytes]) -> bytes:
    """MTH over leaf *hashes* (the leaf level is already hashed)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = ref_split(len(leaves))
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = ref_split(len(leaves))
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [ref_mth(leaves)]
    k = ref_split(n)
    if m <= k:
        return ref_subproof(m, leaves[:k], whole) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def inclusion_shape(index: int, size: int) -> list[bool]:
    """Which audit-path nodes are left siblings: all the verifier learns from the tree size.

    A proof alone does not bind the tree size: two sizes whose paths have the same shape accept the
    same proof (the signed tree head binds the size). Any other wrong size must fail.
    """
    return [lo < index for lo, _ in merkle.inclusion_ranges(index, size)]


def consistency_shape(m: int, n: int) -> list[bool]:
    """Which proof nodes lie in the first tree (left siblings), as for ``inclusion_shape``."""
    return [lo < m for lo, _ in merkle.consistency_ranges(m, n)]


LEAVES = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(40)]


def flip(value: bytes, at: int = 0) -> bytes:
    return value[:at] + bytes([value[at] ^ 0x01]) + value[at + 1 :]


# --- Hashes and roots -----------------------------------------------------------------------------


def test_leaf_and_node_hashes_carry_the_rfc_prefixes() -> None:
    assert merkle.leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert merkle.node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


def test_roots_match_the_certificate_transparency_test_vectors() -> None:
    # The eight leaves and roots used by the RFC 6962 reference implementations' tests.
    data = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]
    data.append("606162636465666768696a6b6c6d6e6f")
    roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    leaves = [merkle.leaf_hash(bytes.fromhex(d)) for d in data]
    for size, expected in enumerate(roots, start=1):
        assert merkle.root(leaves[:size]).hex() == expected


@pytest.mark.parametrize("size", range(34))
def test_root_of_every_size_up_to_33_matches_the_naive_mth(size: int) -> None:
    assert merkle.root(LEAVES[:size]) == ref_mth(LEAVES[:size])


def test_the_empty_tree_has_the_hash_of_the_empty_string() -> None:
    assert merkle.root([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


def test_the_builder_gives_the_root_after_each_append() -> None:
    builder = merkle.TreeBuilder()
    for size in range(1, 40):
        builder.append(LEAVES[size - 1])
        assert builder.size == size
        assert builder.root() == ref_mth(LEAVES[:size])


def test_the_builder_keeps_only_a_logarithmic_stack() -> None:
    builder = merkle.TreeBuilder()
    for i in range(4097):
        builder.append(merkle.leaf_hash(i.to_bytes(4, "big")))
        assert len(builder._stack) == bin(builder.size).count("1")
    assert len(builder._stack) == 2


def test_the_builder_captures_complete_and_right_edge_subtrees() -> None:
    wanted = [(0, 8), (8, 12), (12, 13), (8, 13), (0, 13), (4, 6)]
    builder = merkle.TreeBuilder(capture=wanted)
    builder.extend(LEAVES[:20])
    for lo, hi in wanted:
        assert builder.captured[(lo, hi)] == ref_mth(LEAVES[lo:hi])


def test_the_builder_refuses_a_leaf_that_is_not_a_hash() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        merkle.TreeBuilder().append(b"short")


# --- Inclusion proofs -----------------------------------------------------------------------------

SIZES = range(1, 22)


@pytest.mark.parametrize("size", SIZES)
def test_inclusion_proofs_equal_the_rfc_path_and_verify(size: int) -> None:
    leaves, root = LEAVES[:size], ref_mth(LEAVES[:size])
    for index in range(size):
        proof = merkle.inclusion_proof(index, leaves)
        assert proof == ref_path(index, leaves)
        assert merkle.verify_inclusion(leaves[index], index, size, proof, root)


@pytest.mark.parametrize("size", SIZES)
def test_inclusion_proofs_fail_when_anything_is_changed(size: int) -> None:
    leaves, root = LEAVES[:size], ref_mth(LEAVES[:size])
    for index in range(size):
        proof = merkle.inclusion_proof(index, leaves)
        leaf = leaves[index]
        assert not merkle.verify_inclusion(flip(leaf), index, size, proof, root)
        assert not merkle.verify_inclusion(leaf, index, size, proof, flip(root, 31))
        for i in range(len(proof)):
            tampered = [*proof[:i], flip(proof[i], i % 32), *proof[i + 1 :]]
            assert not merkle.verify_inclusion(leaf, index, size, tampered, root)
        for other in range(size):
            if other != index:
                assert not merkle.verify_inclusion(leaf, other, size, proof, root)
        for other_size in range(index + 1, size + 5):
            if inclusion_shape(index, other_size) != inclusion_shape(index, size):
                assert not merkle.verify_inclusion(leaf, index, other_size, proof, root)
        assert not merkle.verify_inclusion(leaf, index, size, [*proof, LEAVES[0]], root)
        if proof:
            assert not merkle.verify_inclusion(leaf, index, size, proof[:-1], root)


def test_inclusion_of_an_index_outside_the_tree_is_refused() -> None:
    assert not merkle.verify_inclusion(LEAVES[0], 5, 5, [], LEAVES[0])
    assert not merkle.verify_inclusion(LEAVES[0], -1, 5, [], LEAVES[0])
    with pytest.raises(ValueError):
        merkle.inclusion_proof(3, LEAVES[:3])


# --- Consistency proofs ---------------------------------------------------------------------------


def pairs() -> list[tuple[int, int]]:
    return [(m, n) for n in range(0, 22) for m in range(0, n + 1)]


@pytest.mark.parametrize(("m", "n"), pairs())
def test_consistency_proofs_equal_the_rfc_proof_and_verify(m: int, n: int) -> None:
    leaves = LEAVES[:n]
    proof = merkle.consistency_proof(m, leaves)
    expected = ref_subproof(m, leaves, True) if 0 < m else []
    assert proof == expected
    assert merkle.verify_consistency(m, n, ref_mth(LEAVES[:m]), ref_mth(leaves), proof)


@pytest.mark.parametrize(("m", "n"), [(m, n) for m, n in pairs() if 0 < m < n])
def test_consistency_proofs_fail_when_anything_is_changed(m: int, n: int) -> None:
    first, second = ref_mth(LEAVES[:m]), ref_mth(LEAVES[:n])
    proof = merkle.consistency_proof(m, LEAVES[:n])
    assert not merkle.verify_consistency(m, n, flip(first), second, proof)
    assert not merkle.verify_consistency(m, n, first, flip(second, 7), proof)
    for i in range(len(proof)):
        tampered = [*proof[:i], flip(proof[i], 31 - i % 32), *proof[i + 1 :]]
        assert not merkle.verify_consistency(m, n, first, second, tampered)
    for other_m in range(1, n + 2):
        if other_m != m:
            assert not merkle.verify_consistency(other_m, n, first, second, proof)
    for other_n in range(m, n + 5):
        if other_n == m or consistency_shape(m, other_n) != consistency_shape(m, n):
            assert not merkle.verify_consistency(m, other_n, first, second, proof)
    assert not merkle.verify_consistency(m, n, first, second, [])
    assert not merkle.verify_consistency(m, n, first, second, [*proof, LEAVES[0]])
    assert not merkle.verify_consistency(m, n, first, second, proof[:-1])


def test_a_tree_is_not_consistent_with_a_rewritten_history() -> None:
    rewritten = [*LEAVES[:5], merkle.leaf_hash(b"forged"), *LEAVES[6:12]]
    proof = merkle.consistency_proof(8, rewritten)
    assert not merkle.verify_consistency(8, 12, ref_mth(LEAVES[:8]), ref_mth(rewritten), proof)


def test_trivial_consistency_cases() -> None:
    root = ref_mth(LEAVES[:4])
    assert merkle.verify_consistency(4, 4, root, root, [])
    assert not merkle.verify_consistency(4, 4, root, flip(root), [])
    assert not merkle.verify_consistency(4, 4, root, root, [root])
    assert merkle.verify_consistency(0, 4, merkle.EMPTY_ROOT, root, [])
    assert not merkle.verify_consistency(0, 4, root, root, [])
    assert not merkle.verify_consistency(5, 4, root, root, [root])
    with pytest.raises(ValueError):
        merkle.consistency_proof(5, LEAVES[:4])


def test_merkle_is_pure_python_without_django() -> None:
    source = open(merkle.__file__, encoding="utf-8").read()
    assert "django" not in source.lower().replace("no django", "")
