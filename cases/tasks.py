"""Celery tasks of the case core: interfaces only (load, call a service)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from cases import services


@shared_task(name="cases.tasks.clocks_sweep", acks_late=True)
def clocks_sweep() -> dict[str, int]:
    """Write warning and overdue events for clocks that reached those points (idempotent)."""
    return services.clocks_sweep()


SNAPSHOT_MAX_RETRIES = 4


@shared_task(
    bind=True,
    name="cases.tasks.evidence_snapshot",
    acks_late=True,
    max_retries=SNAPSHOT_MAX_RETRIES,
)
def evidence_snapshot(self: Any, item_id: int) -> dict[str, Any]:
    """Acquire a queued snapshot. Transient failures retry with backoff; after the last retry,
    or on a permanent failure (the source is gone), the reason is recorded on the item."""
    from cases.evidence import services as evidence
    from cases.vault.errors import AcquisitionError

    try:
        item = evidence.snapshot_run(item_id=item_id)
    except AcquisitionError as exc:
        if self.request.retries >= self.max_retries:
            evidence.snapshot_fail(
                item_id=item_id, reason=f"{exc} (after {self.max_retries} retries)"
            )
            return {"item": item_id, "status": "failed"}
        raise self.retry(exc=exc, countdown=min(600, 15 * 2**self.request.retries)) from exc
    return {"item": item.pk, "status": item.status, "sha256": item.sha256}


@shared_task(name="cases.tasks.evidence_verify", acks_late=True)
def evidence_verify() -> dict[str, Any]:
    """Re-hash all stored evidence; problems are recorded on each exhibit's custody chain."""
    from cases.evidence import services as evidence

    checked, problems = evidence.evidence_verify_all()
    return {"checked": checked, "problems": [p.__dict__ for p in problems]}


@shared_task(name="cases.tasks.audit_sign", acks_late=True)
def audit_sign() -> dict[str, Any]:
    """Sign a tree head over the audit log (time-stamped when a TSA is configured)."""
    from cases.audit.services import tree_head_sign

    head = tree_head_sign()
    return {"tree_size": head.tree_size, "root": head.root_hash}
