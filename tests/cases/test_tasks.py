"""Celery tasks of the case core, eagerly and on a real in-process worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth.models import User
from django.utils import timezone

from cases import services
from cases.models import Case, Clock, TimelineEvent
from cases.tasks import clocks_sweep
from integrity.celery import app


def _make_overdue(case: Case) -> Clock:
    clock = Clock.objects.create(
        case=case,
        key="inquiry",
        label="Inquiry to be completed",
        binds="committee",
        days=90,
        started_at=timezone.now() - timedelta(days=100),
        due_at=timezone.now() - timedelta(days=10),
        warn_at=timezone.now() - timedelta(days=24),
    )
    return clock


@pytest.mark.django_db
def test_the_clock_sweep_task_writes_warning_and_overdue_events_once(officer: User) -> None:
    case = services.case_open(actor=officer, workflow="research_misconduct", title="Sweep")
    _make_overdue(case)
    assert clocks_sweep.delay().get() == {"warned": 1, "overdue": 1}
    assert clocks_sweep.delay().get() == {"warned": 0, "overdue": 0}
    kinds = list(TimelineEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds.count("clock_warning") == 1 and kinds.count("clock_overdue") == 1


def _drop_connection_pools() -> None:
    """Forget pooled broker connections, so that producers use the broker configured now."""
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def in_process_worker() -> Iterator[None]:
    """A real Celery worker in this process, consuming from an in-memory broker."""
    saved = {
        key: app.conf[key]
        for key in ("task_always_eager", "broker_url", "broker_transport_options")
    }
    # Results go to the configured django-db backend: the test database, shared with the worker.
    app.conf.update(task_always_eager=False, broker_url="memory://", broker_transport_options={})
    _drop_connection_pools()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            yield
    finally:
        app.conf.update(saved)
        _drop_connection_pools()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_clock_sweep_runs_through_a_broker_on_a_real_worker(
    officer: User, in_process_worker: None
) -> None:
    case = services.case_open(actor=officer, workflow="research_misconduct", title="Worker sweep")
    _make_overdue(case)
    result = clocks_sweep.delay()
    assert result.get(timeout=30) == {"warned": 1, "overdue": 1}
    assert result.status == "SUCCESS"
    assert TimelineEvent.objects.filter(case=case, kind="clock_overdue").count() == 1


@pytest.mark.django_db
def test_the_audit_sign_task_signs_a_tree_head_over_the_case_events(officer: User) -> None:
    from cases.audit.models import AuditEntry
    from cases.tasks import audit_sign

    services.case_open(actor=officer, workflow="research_misconduct", title="Signed")
    result = audit_sign.delay().get()
    assert result["tree_size"] == AuditEntry.objects.count() - 1  # the head is itself logged
    assert len(result["root"]) == 64
    assert app.conf.beat_schedule["audit-sign"]["task"] == "cases.tasks.audit_sign"
