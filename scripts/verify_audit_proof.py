#!/usr/bin/env python3
"""Check a Slipcase audit-log proof without Slipcase: Python 3 stdlib plus ``cryptography``.

    python verify_audit_proof.py proof.json [--key-id HEX | --public-key FILE.pem]

``proof.json`` comes from ``manage.py audit_proof`` (an inclusion proof of one entry, or with
``--consistency`` a proof that one signed tree head extends another). For an inclusion proof it
recomputes the leaf hash from the leaf data, walks the audit path up to the root (RFC 9162
§2.1.3.2) and checks the tree head's Ed25519 signature; for a consistency proof it checks both
heads' signatures and the proof (RFC 9162 §2.1.4.2). It prints each check and exits 0 when all
pass, 1 otherwise.

The public key comes inside the proof, so the signature check alone proves nothing about who
signed: compare the printed key id with the one your integrity office publishes, or pass it with
``--key-id`` (or the public key with ``--public-key``). This file deliberately copies the small
verification algorithms instead of importing Slipcase: see docs/audit.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TREE_HEAD_DOMAIN = "slipcase-audit-tree-head-v1"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    m: int, n: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 (equal sizes and the empty tree handled first)."""
    if not 0 <= m <= n:
        return False
    if m == n:
        return not proof and first_root == second_root
    if m == 0:
        return not proof and first_root == hashlib.sha256(b"").digest()
    if not proof:
        return False
    path = ([first_root] if m & (m - 1) == 0 else []) + list(proof)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class Checker:
    def __init__(self) -> None:
        self.failed = False

    def check(self, ok: bool, what: str) -> bool:
        print(f"{'ok  ' if ok else 'FAIL'}  {what}")
        self.failed |= not ok
        return ok


def _hex(value: Any, size: int = 32) -> bytes:
    data = bytes.fromhex(str(value))
    if len(data) != size:
        raise ValueError(f"expected {size} bytes of hex, got {len(data)}")
    return data


def _format_at(text: str) -> str:
    """Normalise a head's time to the signed form (UTC, microseconds, Z)."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_head(
    c: Checker, head: dict[str, Any], label: str, pinned_key_id: str | None
) -> bytes | None:
    """Check a signed tree head; return its root when the signature holds."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_public_key,
    )

    size, root = int(head["tree_size"]), _hex(head["root_hash"])
    signed = f"{TREE_HEAD_DOMAIN}|{size}|{root.hex()}|{_format_at(head['at'])}".encode("ascii")
    if "signed_bytes" in head:
        c.check(head["signed_bytes"].encode("ascii") == signed, f"{label}: signed bytes {signed!r}")
    key = load_pem_public_key(head["public_key_pem"].encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        c.check(False, f"{label}: public key is Ed25519")
        return None
    key_id = hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()
    c.check(key_id == head["key_id"], f"{label}: key id {key_id} is SHA-256 of the public key")
    if pinned_key_id is not None:
        c.check(key_id == pinned_key_id, f"{label}: key id is the trusted one {pinned_key_id}")
    else:
        print(f"note  {label}: key not pinned; compare {key_id} with the published key id")
    try:
        key.verify(_hex(head["signature"], 64), signed)
        good = True
    except InvalidSignature:
        good = False
    c.check(good, f"{label}: Ed25519 signature over size {size}, root {root.hex()}")
    if head.get("tsa_token"):
        print(f"note  {label}: has an RFC 3161 time stamp ({head.get('tsa_time')}); check it with")
        print("      openssl ts -verify (see docs/audit.md)")
    return root if good else None


def verify_inclusion_document(c: Checker, doc: dict[str, Any], key_id: str | None) -> None:
    entry, head = doc["entry"], doc["tree_head"]
    data = entry["leaf_data"].encode("utf-8")
    leaf = leaf_hash(data)
    c.check(leaf.hex() == entry["leaf_hash"], f"leaf hash {leaf.hex()} = SHA-256(00 || leaf data)")
    fields = json.loads(data)
    index, size = int(doc["leaf_index"]), int(doc["tree_size"])
    c.check(fields.get("seq") == index, f"leaf data names seq {fields.get('seq')} = leaf index")
    c.check(size == int(head["tree_size"]), f"proof is for the tree head's size {size}")
    root = check_head(c, head, "tree head", key_id)
    path = [_hex(p) for p in doc["audit_path"]]
    c.check(
        root is not None and verify_inclusion(leaf, index, size, path, root),
        f"entry {index} is included in the tree of size {size} ({len(path)} path hashes)",
    )
    if not c.failed:
        print(f"entry: {fields.get('kind')} at {fields.get('at')} by {fields.get('actor')}")


def verify_consistency_document(c: Checker, doc: dict[str, Any], key_id: str | None) -> None:
    first, second = doc["first"], doc["second"]
    m, n = int(first["tree_size"]), int(second["tree_size"])
    r1 = check_head(c, first, "first head", key_id)
    r2 = check_head(c, second, "second head", key_id)
    proof = [_hex(p) for p in doc["proof"]]
    c.check(
        r1 is not None and r2 is not None and verify_consistency(m, n, r1, r2, proof),
        f"the tree of size {m} is a prefix of the tree of size {n} ({len(proof)} proof hashes)",
    )


def pinned_key_id(key_id: str | None, public_key: Path | None) -> str | None:
    if public_key is None:
        return key_id.lower() if key_id else None
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_public_key,
    )

    raw = load_pem_public_key(public_key.read_bytes()).public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("proof", type=Path, help="JSON from manage.py audit_proof ('-': stdin)")
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument("--key-id", help="the published key id (SHA-256 of the raw public key)")
    pin.add_argument("--public-key", type=Path, help="the published public key (PEM)")
    args = parser.parse_args(argv)

    c = Checker()
    try:
        key_id = pinned_key_id(args.key_id, args.public_key)
        text = sys.stdin.read() if str(args.proof) == "-" else args.proof.read_text("utf-8")
        doc = json.loads(text)
        kind = doc.get("format")
        if kind == "slipcase-audit-inclusion-proof/v1":
            verify_inclusion_document(c, doc, key_id)
        elif kind == "slipcase-audit-consistency-proof/v1":
            verify_consistency_document(c, doc, key_id)
        else:
            c.check(False, f"unknown proof format {kind!r}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        c.check(False, f"malformed proof: {type(exc).__name__}: {exc}")
    print("VERIFIED" if not c.failed else "NOT VERIFIED")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
