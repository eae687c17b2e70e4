"""Celery tasks of the case core: interfaces only (load, call a service)."""

from __future__ import annotations

from celery import shared_task

from cases import services


@shared_task(name="cases.tasks.clocks_sweep", acks_late=True)
def clocks_sweep() -> dict[str, int]:
    """Write warning and overdue events for clocks that reached those points (idempotent)."""
    return services.clocks_sweep()
