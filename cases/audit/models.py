"""Rows of the audit log and its signed tree heads. Written only by ``cases.audit.services``.

What is hashed and signed is defined here (``leaf_data``, ``tree_head_bytes``) and nowhere else,
so that services, proofs and ``docs/audit.md`` agree byte for byte.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import models

TREE_HEAD_DOMAIN = "slipcase-audit-tree-head-v1"


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, non-ASCII kept as is; NaN and infinities refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def format_at(at: datetime) -> str:
    """ISO 8601 in UTC with microseconds, e.g. ``2026-01-02T03:04:05.000006Z``."""
    if at.tzinfo is None:
        raise ValueError("audit times must be aware datetimes")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaf_data(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_label: str,
    kind: str,
    case_number: str | None,
    payload: Any,
) -> bytes:
    """The bytes of one leaf: canonical JSON of ``{seq, at, actor, kind, case, payload}``, UTF-8.

    ``actor`` is ``{"id": ..., "username": ...}`` or ``null``; ``case`` is the case number or
    ``null``.
    """
    actor = None if actor_id is None else {"id": actor_id, "username": actor_label}
    document = {
        "seq": seq,
        "at": format_at(at),
        "actor": actor,
        "kind": kind,
        "case": case_number,
        "payload": payload,
    }
    return canonical_json(document).encode("utf-8")


def tree_head_bytes(*, tree_size: int, root_hash: str, at: datetime) -> bytes:
    """What a tree head's Ed25519 signature covers (and what a TSA time-stamps).

    ``slipcase-audit-tree-head-v1|<tree_size>|<root hash, lowercase hex>|<at, as format_at>``,
    ASCII.
    """
    return f"{TREE_HEAD_DOMAIN}|{tree_size}|{root_hash}|{format_at(at)}".encode("ascii")


class AuditEntry(models.Model):
    """One event, one leaf. Never updated, never deleted."""

    seq = models.PositiveBigIntegerField(unique=True, help_text="Leaf index: 0, 1, 2, ...")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=150, blank=True, help_text="The actor's username when the event happened."
    )
    kind = models.CharField(max_length=64, db_index=True)
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    leaf_hash = models.CharField(max_length=64, help_text="SHA-256(0x00 || leaf data), hex.")

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"

    def leaf_data(self) -> bytes:
        return leaf_data(
            seq=self.seq,
            at=self.at,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            kind=self.kind,
            case_number=self.case.number if self.case is not None else None,
            payload=self.payload,
        )


class TreeHead(models.Model):
    """A signed statement: the first ``tree_size`` entries have Merkle root ``root_hash``."""

    tree_size = models.PositiveBigIntegerField()
    root_hash = models.CharField(max_length=64)
    at = models.DateTimeField()
    signature = models.CharField(max_length=128, help_text="Ed25519 over tree_head_bytes, hex.")
    key_id = models.CharField(max_length=64, help_text="SHA-256 of the raw public key, hex.")
    tsa_token = models.BinaryField(
        null=True, blank=True, help_text="RFC 3161 TimeStampToken (DER) over tree_head_bytes."
    )
    tsa_url = models.CharField(max_length=500, blank=True)
    tsa_time = models.DateTimeField(null=True, blank=True, help_text="genTime of the token.")

    class Meta:
        ordering = ["tree_size", "at", "id"]
        indexes = [models.Index(fields=["tree_size"], name="audit_treehead_size")]

    def __str__(self) -> str:
        return f"tree head {self.tree_size} {self.root_hash[:12]} at {format_at(self.at)}"

    def signed_bytes(self) -> bytes:
        return tree_head_bytes(tree_size=self.tree_size, root_hash=self.root_hash, at=self.at)
