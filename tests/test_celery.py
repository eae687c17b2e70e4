import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from integrity.celery import app
from integrity.tasks import ping
from tests.processes import REPO_ROOT, child_env, run_python


def queue_for(task_name: str) -> str:
    route = app.amqp.router.route({}, task_name)
    return str(route["queue"].name)


def test_the_app_is_configured_from_django_settings() -> None:
    assert app.main == "slipcase"
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.result_backend == "django-db"
    assert app.conf.result_extended is True


def test_model_tasks_go_to_the_gpu_queue_and_the_rest_to_cpu() -> None:
    assert queue_for("analysis.tasks.gpu_probe_run") == "gpu"
    assert queue_for("analysis.tasks.codesim_run") == "cpu"
    assert queue_for("cases.tasks.clocks_sweep") == "cpu"


def test_clocks_are_swept_every_15_minutes() -> None:
    entry = app.conf.beat_schedule["clocks-sweep"]
    assert entry["task"] == "cases.tasks.clocks_sweep"
    schedule = entry["schedule"]
    assert schedule.minute == {0, 15, 30, 45}


def test_tasks_run_inline_in_tests() -> None:
    assert ping.delay().get(timeout=1) == "pong"


@pytest.fixture
def worker_env(tmp_path: Path) -> dict[str, str]:
    """A private SQLite database and filesystem broker, so no other worker can take the task."""
    env = child_env(
        tmp_path / "var",
        "integrity.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        CELERY_BROKER_URL="filesystem://",
    )
    migrate = run_python(["manage.py", "migrate", "--noinput"], env, timeout=300)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    return env


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """A real worker on queues cpu,gpu; yields its log file."""
    logfile = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "integrity", "worker"]
    command += ["-Q", "cpu,gpu", "--concurrency", "1", "--loglevel", "INFO", "--logfile"]
    command += [str(logfile)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=worker_env)
    try:
        yield logfile
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.worker
def test_celery_smoke_round_trips_a_task_through_a_real_worker(
    worker: Path, worker_env: dict[str, str]
) -> None:
    result = run_python(
        ["manage.py", "celery_smoke", "--task", "integrity.tasks.ping", "--timeout", "60"],
        worker_env,
    )
    log = worker.read_text() if worker.exists() else ""
    assert result.returncode == 0, result.stdout + result.stderr + log
    assert "integrity.tasks.ping succeeded: 'pong'" in result.stdout


@pytest.mark.slow
def test_celery_smoke_fails_when_no_worker_answers(worker_env: dict[str, str]) -> None:
    result = run_python(
        ["manage.py", "celery_smoke", "--task", "integrity.tasks.ping", "--timeout", "1"],
        worker_env,
    )
    assert result.returncode == 1
    assert "gave no result within 1 s" in result.stderr
