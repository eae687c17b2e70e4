"""Writes to the audit log, tree-head signing, verification and proofs.

* ``audit_append`` is the only way an entry is written. Call it inside the transaction of the change
  it records. Appenders serialise: on PostgreSQL a transaction-level advisory lock is held from
  the append to the commit, so ``seq`` is taken in commit order without gaps; SQLite has one
  writer at a time anyway, and the unique ``seq`` refuses any race that slips through.
* ``tree_head_sign`` signs the tree as it is now (Ed25519, optionally RFC 3161 time stamp) and
  records the signed head as an entry of kind ``audit.tree_head``.
* ``audit_verify`` recomputes every leaf and every signed root from the rows in one pass (O(n)
  time, O(log n) memory) and reports problems in log order.
* ``inclusion_proof_for`` / ``consistency_proof_between`` return JSON-able proofs for
  ``scripts/verify_audit_proof.py``.

Settings (all optional): ``SLIPCASE_AUDIT_SIGNING_KEY`` (path of a PEM Ed25519 private key;
default ``<VAR_DIR>/keys/audit-ed25519.pem``, generated on first use with mode 0600),
``SLIPCASE_AUDIT_PUBLIC_KEYS`` (paths of PEM public keys of retired signing keys, still trusted to
verify old heads), ``SLIPCASE_TSA_URL``, ``SLIPCASE_TSA_CERT`` (PEM/DER certificate the TSA must
chain to), ``SLIPCASE_TSA_TIMEOUT`` (seconds, default 10), ``SLIPCASE_TSA_REQUIRED`` (refuse to
sign without a time stamp; default: sign, log the TSA failure).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from cases.audit import merkle, tsa
from cases.audit.models import (
    AuditEntry,
    TreeHead,
    format_at,
    leaf_data,
    tree_head_bytes,
)
from cases.errors import Conflict, NotFound

if TYPE_CHECKING:
    from cryptography import x509
    from django.contrib.auth.models import AnonymousUser, User

    from cases.models import Case

logger = logging.getLogger(__name__)

TREE_HEAD_KIND = "audit.tree_head"
MAX_KIND = 64
MAX_PROBLEMS = 1000
# pg_advisory_xact_lock key: b"slpcAUDT" as a big-endian signed 64-bit integer.
ADVISORY_LOCK_KEY = int.from_bytes(b"slpcAUDT", "big")
# Floats this large are written with an exponent, which PostgreSQL's jsonb does not keep.
_EXACT_FLOAT_LIMIT = 1e16
_ROW_FIELDS = ("seq", "at", "actor_id", "actor_label", "kind", "case__number", "payload")
_CHUNK = 2000


class AuditIntegrityError(Conflict):
    """The stored log does not match what was signed: run ``audit_verify``."""

    code = "audit_integrity"


# --- Appending ------------------------------------------------------------------------------------


def _normalise(value: Any, path: str = "payload") -> Any:
    """Plain JSON (dict with str keys, list, str, int, float, bool, None), as it reads back."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be strings, got {key!r}")
            out[key] = _normalise(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_normalise(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"{path}: NUL characters cannot be stored")
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{path}: NaN and infinities are not JSON")
        if abs(value) >= _EXACT_FLOAT_LIMIT and value.is_integer():
            return int(value)
        return value
    raise TypeError(f"{path}: {type(value).__name__} is not JSON; convert it first")


def _lock_log() -> None:
    """Serialise appenders until the end of the current transaction (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])


def audit_append(
    *,
    kind: str,
    actor: User | AnonymousUser | None = None,
    case: Case | None = None,
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry. Call it inside the transaction of the change it records.

    The lock it takes (PostgreSQL) is held until that transaction ends, so keep the rest of the
    transaction short; an append outside any transaction commits at once.
    """
    if not kind or len(kind) > MAX_KIND:
        raise ValueError(f"audit kind must be 1 to {MAX_KIND} characters, got {kind!r}")
    if at is not None and timezone.is_naive(at):
        raise ValueError("audit times must be aware datetimes")
    body = _normalise(payload if payload is not None else {})
    user = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic(savepoint=False):
        _lock_log()
        last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
        entry = AuditEntry(
            seq=0 if last is None else last + 1,
            at=at or timezone.now(),
            actor=user,
            actor_label=user.get_username() if user is not None else "",
            kind=kind,
            case=case,
            payload=body,
        )
        entry.leaf_hash = merkle.leaf_hash(entry.leaf_data()).hex()
        entry.save(force_insert=True)
    return entry


# --- Keys -----------------------------------------------------------------------------------------


def _key_path() -> tuple[Path, bool]:
    """The signing key's path, and whether it is the default one (generated when missing)."""
    configured = getattr(settings, "SLIPCASE_AUDIT_SIGNING_KEY", "") or ""
    if configured:
        return Path(configured), False
    return Path(settings.VAR_DIR) / "keys" / "audit-ed25519.pem", True


def _generate_key(path: Path) -> None:
    """Write a new key to ``path`` with mode 0600, atomically, unless another process won."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if the key exists: never replace a key
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    logger.warning("generated a new audit signing key at %s", path)


def signing_key(*, create: bool = False) -> Ed25519PrivateKey:
    """The Ed25519 key that signs tree heads; the default one is generated when ``create``."""
    path, default = _key_path()
    if not path.exists():
        if not (default and create):
            raise ImproperlyConfigured(f"audit signing key {path} does not exist")
        _generate_key(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"audit signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"audit signing key {path} is not an Ed25519 private key")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def trusted_public_keys() -> dict[str, Ed25519PublicKey]:
    """Keys that may have signed tree heads, by key id: the current key and retired ones."""
    keys: dict[str, Ed25519PublicKey] = {}
    path, _ = _key_path()
    if path.exists():
        current = signing_key().public_key()
        keys[key_id(current)] = current
    for retired in getattr(settings, "SLIPCASE_AUDIT_PUBLIC_KEYS", []) or []:
        loaded = serialization.load_pem_public_key(Path(retired).read_bytes())
        if not isinstance(loaded, Ed25519PublicKey):
            raise ImproperlyConfigured(f"{retired} is not an Ed25519 public key")
        keys[key_id(loaded)] = loaded
    return keys


def _trusted_tsa_cert() -> x509.Certificate | None:
    path = getattr(settings, "SLIPCASE_TSA_CERT", "") or ""
    return tsa.load_certificate(path) if path else None


# --- Streaming the log ----------------------------------------------------------------------------


def _rows(*, start: int = 0, stop: int | None = None) -> Iterator[tuple[Any, ...]]:
    """``(seq, at, actor_id, actor_label, kind, case_number, payload, leaf_hash)`` by seq."""
    rows = AuditEntry.objects.filter(seq__gte=start)
    if stop is not None:
        rows = rows.filter(seq__lt=stop)
    yield from rows.order_by("seq").values_list(*_ROW_FIELDS, "leaf_hash").iterator(_CHUNK)


def _stored_leaf_hashes(stop: int) -> Iterator[bytes]:
    """The stored leaf hashes of entries 0..stop-1, checked to be contiguous and complete."""
    expected = 0
    rows = AuditEntry.objects.filter(seq__lt=stop).order_by("seq")
    for seq, stored in rows.values_list("seq", "leaf_hash").iterator(_CHUNK):
        if seq != expected:
            raise AuditIntegrityError(f"sequence gap: {expected - 1} then {seq}; run audit_verify")
        yield bytes.fromhex(stored)
        expected += 1
    if expected != stop:
        raise AuditIntegrityError(f"the log has {expected} entries, fewer than {stop}")


def _recompute(row: tuple[Any, ...]) -> bytes:
    seq, at, actor_id, actor_label, kind, case_number, payload = row[:7]
    return merkle.leaf_hash(
        leaf_data(
            seq=seq,
            at=at,
            actor_id=actor_id,
            actor_label=actor_label,
            kind=kind,
            case_number=case_number,
            payload=payload,
        )
    )


# --- Signing --------------------------------------------------------------------------------------


def _latest_head() -> TreeHead | None:
    return TreeHead.objects.order_by("-tree_size", "-at", "-id").first()


def tree_head_sign(*, now: datetime | None = None) -> TreeHead:
    """Sign the tree of all entries now in the log and record the head in the log.

    Before signing it checks that the entries up to the latest head still give that head's root,
    and recomputes the leaf hashes of the entries since: a log that was changed is not signed
    (``AuditIntegrityError``). Returns the latest head unchanged when nothing but its own record
    was appended since. Time-stamps the head when ``SLIPCASE_TSA_URL`` is set; a TSA failure is
    logged and the head kept without a token, unless ``SLIPCASE_TSA_REQUIRED``.
    """
    key = signing_key(create=True)
    latest = _latest_head()
    builder = merkle.TreeBuilder()
    signed_size = latest.tree_size if latest is not None else 0
    builder.extend(_stored_leaf_hashes(signed_size))
    if latest is not None and builder.root().hex() != latest.root_hash:
        raise AuditIntegrityError(
            f"entries 0..{signed_size - 1} no longer give the root of tree head #{latest.pk}; "
            "run audit_verify"
        )
    news = 0
    for row in _rows(start=signed_size):
        seq, kind, stored = row[0], row[4], row[7]
        if seq != builder.size:
            raise AuditIntegrityError(f"sequence gap: {builder.size - 1} then {seq}")
        recomputed = _recompute(row)
        if recomputed.hex() != stored:
            raise AuditIntegrityError(f"entry {seq}: leaf hash mismatch; not signing")
        builder.append(recomputed)
        news += kind != TREE_HEAD_KIND
    if latest is not None and news == 0:
        return latest

    at = now or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("now must be an aware datetime")
    tree_size, root_hash = builder.size, builder.root().hex()
    message = tree_head_bytes(tree_size=tree_size, root_hash=root_hash, at=at)
    signature = key.sign(message).hex()
    stamp = _timestamp(message)

    with transaction.atomic():
        head = TreeHead.objects.create(
            tree_size=tree_size,
            root_hash=root_hash,
            at=at,
            signature=signature,
            key_id=key_id(key.public_key()),
            tsa_token=stamp.token if stamp else None,
            tsa_url=stamp.url if stamp else "",
            tsa_time=stamp.gen_time if stamp else None,
        )
        audit_append(kind=TREE_HEAD_KIND, payload=_head_record(head))
    return head


def _timestamp(message: bytes) -> tsa.Timestamp | None:
    url = getattr(settings, "SLIPCASE_TSA_URL", "") or ""
    if not url:
        return None
    try:
        return tsa.request_timestamp(
            url,
            message,
            trusted_cert=_trusted_tsa_cert(),
            timeout=float(getattr(settings, "SLIPCASE_TSA_TIMEOUT", 10)),
        )
    except tsa.TSAError:
        if getattr(settings, "SLIPCASE_TSA_REQUIRED", False):
            raise
        logger.exception("time stamp from %s failed; tree head signed without one", url)
        return None


def _head_record(head: TreeHead) -> dict[str, Any]:
    """What the log records of a head it signed (the payload of its ``audit.tree_head`` entry)."""
    token = bytes(head.tsa_token) if head.tsa_token is not None else None
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "at": format_at(head.at),
        "key_id": head.key_id,
        "signature": head.signature,
        "tsa_token_sha256": hashlib.sha256(token).hexdigest() if token else None,
    }


# --- Verification ---------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    entries: int = 0
    heads: int = 0
    timestamped_heads: int = 0
    latest_head: dict[str, Any] | None = None
    unsigned_entries: int = 0
    problems: list[str] = field(default_factory=list)
    problems_left_out: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> str | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "heads": self.heads,
            "timestamped_heads": self.timestamped_heads,
            "latest_head": self.latest_head,
            "unsigned_entries": self.unsigned_entries,
            "problems": self.problems,
            "problems_left_out": self.problems_left_out,
        }


def _describe(head: TreeHead) -> str:
    return f"tree head #{head.pk} (size {head.tree_size}, signed {format_at(head.at)})"


def audit_verify() -> VerifyReport:
    """Recompute the log from the rows and check every signed head; problems in log order.

    Entries: ``seq`` runs 0, 1, 2, ... and each stored leaf hash is the hash of the entry's fields.
    Heads: each root is the root of the first ``tree_size`` recomputed leaves, the signature
    verifies with a trusted key, the TSA token (if any) verifies, later heads are not smaller,
    consecutive heads are consistent (RFC 9162 proof), and heads and their ``audit.tree_head``
    entries match one to one.
    """
    found: list[tuple[float, str]] = []
    heads = list(TreeHead.objects.order_by("tree_size", "at", "id"))
    capture: set[merkle.Range] = {(0, h.tree_size) for h in heads if h.tree_size > 0}
    for first, second in zip(heads, heads[1:], strict=False):
        capture.update(merkle.consistency_ranges(first.tree_size, second.tree_size))
    builder = merkle.TreeBuilder(capture=capture)
    records: list[tuple[int, dict[str, Any]]] = []

    expected = 0
    for row in _rows():
        seq = row[0]
        if seq != expected:
            where = "log starts at" if expected == 0 else f"{expected - 1} then"
            found.append((seq, f"sequence gap: {where} {seq}"))
        recomputed = _recompute(row)
        if recomputed.hex() != row[7]:
            found.append((seq, f"entry {seq}: leaf hash mismatch"))
        builder.append(recomputed)
        if row[4] == TREE_HEAD_KIND:
            records.append((seq, row[6] if isinstance(row[6], dict) else {}))
        expected = seq + 1
    report = VerifyReport(entries=builder.size, heads=len(heads))

    found.extend(_check_heads(heads, builder))
    found.extend(_check_head_records(heads, records))

    if heads:
        latest = max(heads, key=lambda h: (h.at, h.pk))
        report.latest_head = {
            "id": latest.pk,
            "tree_size": latest.tree_size,
            "root_hash": latest.root_hash,
            "at": format_at(latest.at),
            "timestamped": latest.tsa_token is not None,
        }
        report.unsigned_entries = max(0, builder.size - max(h.tree_size for h in heads))
    else:
        report.unsigned_entries = builder.size
    report.timestamped_heads = sum(1 for h in heads if h.tsa_token is not None)

    ordered = [message for _, message in sorted(found, key=lambda item: item[0])]
    report.problems = ordered[:MAX_PROBLEMS]
    report.problems_left_out = max(0, len(ordered) - MAX_PROBLEMS)
    return report


def _check_heads(heads: list[TreeHead], builder: merkle.TreeBuilder) -> list[tuple[float, str]]:
    found: list[tuple[float, str]] = []
    try:
        keys = trusted_public_keys()
    except (ImproperlyConfigured, OSError, ValueError) as exc:
        keys = {}
        if heads:
            found.append((0, f"cannot load the audit keys: {exc}"))
    try:
        tsa_cert = _trusted_tsa_cert()
    except (tsa.TSAError, OSError) as exc:
        tsa_cert = None
        found.append((0, f"cannot load SLIPCASE_TSA_CERT: {exc}"))

    last_good = 0  # size of the largest head so far that the entries still match
    root_ok: dict[int | None, bool] = {}
    for head in heads:
        where = head.tree_size - 0.5  # after the entries it covers, before the next one
        size = head.tree_size
        if size > builder.size:
            found.append(
                (where, f"{_describe(head)}: covers {size} entries but the log has {builder.size}")
            )
            root_ok[head.pk] = False
        else:
            root = builder.captured[(0, size)] if size else merkle.EMPTY_ROOT
            root_ok[head.pk] = root.hex() == head.root_hash
            if root_ok[head.pk]:
                last_good = size
            else:
                found.append(
                    (
                        where,
                        f"{_describe(head)}: root hash does not match entries 0..{size - 1} "
                        f"(entries {last_good}..{size - 1} or the head were changed)",
                    )
                )
        key = keys.get(head.key_id)
        if key is None:
            found.append((where, f"{_describe(head)}: signed by unknown key {head.key_id}"))
        else:
            try:
                key.verify(bytes.fromhex(head.signature), head.signed_bytes())
            except (InvalidSignature, ValueError):
                found.append((where, f"{_describe(head)}: signature does not verify"))
        if head.tsa_token is not None:
            try:
                gen_time = tsa.verify_token(bytes(head.tsa_token), head.signed_bytes(), tsa_cert)
            except tsa.TSAError as exc:
                found.append((where, f"{_describe(head)}: time stamp does not verify: {exc}"))
            else:
                if head.tsa_time is not None and gen_time != head.tsa_time:
                    found.append((where, f"{_describe(head)}: time stamp time was changed"))

    by_time = sorted(heads, key=lambda h: (h.at, h.pk))
    for earlier, later in zip(by_time, by_time[1:], strict=False):
        if later.tree_size < earlier.tree_size:
            found.append(
                (
                    later.tree_size - 0.5,
                    f"{_describe(later)} is smaller than the earlier {_describe(earlier)}: "
                    "the log shrank",
                )
            )
    for first, second in zip(heads, heads[1:], strict=False):
        if not (root_ok[first.pk] and root_ok[second.pk]):
            continue  # already reported: the log no longer matches one of them
        proof = [
            builder.captured[r]
            for r in merkle.consistency_ranges(first.tree_size, second.tree_size)
        ]
        if not merkle.verify_consistency(
            first.tree_size,
            second.tree_size,
            bytes.fromhex(first.root_hash),
            bytes.fromhex(second.root_hash),
            proof,
        ):
            found.append(
                (
                    second.tree_size - 0.5,
                    f"{_describe(first)} and {_describe(second)} are not consistent",
                )
            )
    return found


def _check_head_records(
    heads: list[TreeHead], records: list[tuple[int, dict[str, Any]]]
) -> list[tuple[float, str]]:
    """Each head has its ``audit.tree_head`` entry, recorded after it, and vice versa."""
    found: list[tuple[float, str]] = []
    unmatched = {head.pk: head for head in heads}
    expected = {head.pk: _head_record(head) for head in heads}
    by_signature: dict[tuple[Any, Any], list[int]] = {}
    for head in heads:
        by_signature.setdefault((head.tree_size, head.signature), []).append(head.pk)
    for seq, payload in records:
        candidates = by_signature.get((payload.get("tree_size"), payload.get("signature")), [])
        match = candidates.pop(0) if candidates else None
        if match is None:
            found.append(
                (
                    seq,
                    f"entry {seq} records tree head of size {payload.get('tree_size')} "
                    f"signed {payload.get('at')}, which is missing",
                )
            )
            continue
        head = unmatched.pop(match)
        if expected[match] != payload:
            changed = sorted(
                k
                for k in payload.keys() | expected[match].keys()
                if payload.get(k) != expected[match].get(k)
            )
            found.append(
                (
                    seq,
                    f"{_describe(head)} differs from its record in entry {seq}: "
                    + ", ".join(changed),
                )
            )
        if seq < head.tree_size:
            found.append((seq, f"entry {seq} records {_describe(head)}, which covers it"))
    for head in unmatched.values():
        found.append(
            (head.tree_size - 0.5, f"{_describe(head)} has no {TREE_HEAD_KIND} entry in the log")
        )
    return found


# --- Proofs ---------------------------------------------------------------------------------------


def _public_key_for(head: TreeHead) -> Ed25519PublicKey:
    key = trusted_public_keys().get(head.key_id)
    if key is None:
        raise Conflict(f"the key {head.key_id} that signed tree head #{head.pk} is not configured")
    return key


def head_to_dict(head: TreeHead) -> dict[str, Any]:
    """A signed tree head with what a verifier needs: signed bytes, signature, public key."""
    token = bytes(head.tsa_token) if head.tsa_token is not None else None
    return {
        "id": head.pk,
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "at": format_at(head.at),
        "signed_bytes": head.signed_bytes().decode("ascii"),
        "signature": head.signature,
        "signature_algorithm": "ed25519",
        "key_id": head.key_id,
        "public_key_pem": public_key_pem(_public_key_for(head)),
        "tsa_token": base64.b64encode(token).decode("ascii") if token else None,
        "tsa_time": format_at(head.tsa_time) if head.tsa_time else None,
        "tsa_url": head.tsa_url or None,
    }


def _proof_nodes(head: TreeHead, ranges: list[merkle.Range]) -> list[bytes]:
    """Roots of ``ranges`` over the stored leaves, after checking they still give the head."""
    builder = merkle.TreeBuilder(
        capture=[*ranges, (0, head.tree_size)] if head.tree_size else ranges
    )
    builder.extend(_stored_leaf_hashes(head.tree_size))
    if builder.root().hex() != head.root_hash:
        raise AuditIntegrityError(
            f"the stored log no longer gives the root of tree head #{head.pk}; run audit_verify"
        )
    return [builder.captured[r] for r in ranges]


def inclusion_proof_for(entry_id: int | None = None, *, seq: int | None = None) -> dict[str, Any]:
    """Inclusion proof of one entry (by primary key, or by ``seq``) in the latest signed head."""
    if (entry_id is None) == (seq is None):
        raise ValueError("give exactly one of entry_id and seq")
    entries = AuditEntry.objects.select_related("case")
    if entry_id is not None:
        entry = entries.filter(pk=entry_id).first()
    else:
        assert seq is not None  # noqa: S101 (checked above; narrows the type)
        entry = entries.filter(seq=seq).first()
    if entry is None:
        what = f"id {entry_id}" if entry_id is not None else f"seq {seq}"
        raise NotFound(f"no audit entry with {what}")
    data = entry.leaf_data()
    if merkle.leaf_hash(data).hex() != entry.leaf_hash:
        raise AuditIntegrityError(f"entry {entry.seq}: leaf hash mismatch; run audit_verify")
    head = (
        TreeHead.objects.filter(tree_size__gt=entry.seq)
        .order_by("-tree_size", "-at", "-id")
        .first()
    )
    if head is None:
        raise Conflict(
            f"entry {entry.seq} is not yet covered by a signed tree head; run audit_sign"
        )
    path = _proof_nodes(head, merkle.inclusion_ranges(entry.seq, head.tree_size))
    return {
        "format": "slipcase-audit-inclusion-proof/v1",
        "hash": "sha256",
        "leaf_hash_prefix": "00",
        "node_hash_prefix": "01",
        "entry": {
            "id": entry.pk,
            "seq": entry.seq,
            "kind": entry.kind,
            "leaf_data": data.decode("utf-8"),
            "leaf_hash": entry.leaf_hash,
        },
        "leaf_index": entry.seq,
        "tree_size": head.tree_size,
        "audit_path": [node.hex() for node in path],
        "tree_head": head_to_dict(head),
    }


def _head_of_size(size: int) -> TreeHead:
    head = TreeHead.objects.filter(tree_size=size).order_by("-at", "-id").first()
    if head is None:
        raise NotFound(f"no signed tree head of size {size}")
    return head


def consistency_proof_between(first_size: int, second_size: int) -> dict[str, Any]:
    """RFC 9162 consistency proof between the signed heads of these two sizes."""
    if not 0 <= first_size <= second_size:
        raise ValueError(f"need 0 <= first size <= second size, got {first_size}, {second_size}")
    first, second = _head_of_size(first_size), _head_of_size(second_size)
    proof = _proof_nodes(second, merkle.consistency_ranges(first_size, second_size))
    return {
        "format": "slipcase-audit-consistency-proof/v1",
        "hash": "sha256",
        "leaf_hash_prefix": "00",
        "node_hash_prefix": "01",
        "first": head_to_dict(first),
        "second": head_to_dict(second),
        "proof": [node.hex() for node in proof],
    }


def dumps(document: dict[str, Any]) -> str:
    """Proof JSON as the commands print it."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "AuditIntegrityError",
    "VerifyReport",
    "audit_append",
    "audit_verify",
    "consistency_proof_between",
    "inclusion_proof_for",
    "tree_head_sign",
]
