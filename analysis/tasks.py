"""Celery tasks of analyses: ids in, one service call. Model work goes to the ``gpu`` queue by
its name (``analysis.tasks.gpu_*``, see integrity/celery.py); everything here runs on ``cpu``."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="analysis.tasks.run_analysis", acks_late=True)
def run_analysis(run_id: int) -> dict[str, Any]:
    from analysis.services import analysis_execute

    run = analysis_execute(run_id=run_id)
    return {"run": run.pk, "status": run.status}


@shared_task(name="analysis.tasks.gpu_run_analysis", acks_late=True)
def gpu_run_analysis(run_id: int) -> dict[str, Any]:
    """Model work (weights, probes): routed to the ``gpu`` queue by its name."""
    from analysis.services import analysis_execute

    run = analysis_execute(run_id=run_id)
    return {"run": run.pk, "status": run.status}
