import json
import secrets
from pathlib import Path

import pytest
from django.conf import settings

from tests.processes import child_env, run_python

SETUP = ["-c", "import django; django.setup()"]


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = child_env(tmp_path, "integrity.settings.production")
    result = run_python(SETUP, env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_short_secret_key(tmp_path: Path) -> None:
    env = child_env(tmp_path, "integrity.settings.production", DJANGO_SECRET_KEY="x" * 49)
    result = run_python(SETUP, env)
    assert result.returncode != 0
    assert "at least 50 characters" in result.stderr


@pytest.mark.slow
def test_production_passes_the_deployment_checklist_with_a_secret_key(tmp_path: Path) -> None:
    env = child_env(
        tmp_path,
        "integrity.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48)[:64],
        DJANGO_ALLOWED_HOSTS="example.org",
    )
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_local_settings_run_with_no_server_and_an_insecure_key(tmp_path: Path) -> None:
    env = child_env(tmp_path, "integrity.settings.local", DATABASE_URL=None, CELERY_BROKER_URL=None)
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'debug': s.DEBUG, 'key': s.SECRET_KEY, "
        "'db': s.DATABASES['default'], 'broker': s.CELERY_BROKER_URL, "
        "'transport': s.CELERY_BROKER_TRANSPORT_OPTIONS, 'media': str(s.MEDIA_ROOT)}))"
    )
    result = run_python(["-c", code], env)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["debug"] is True
    assert loaded["key"].startswith("django-insecure-")
    assert loaded["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert loaded["db"]["NAME"] == str(tmp_path / "slipcase.sqlite3")
    assert loaded["db"]["OPTIONS"] == {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",  # web and worker processes write the same file
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    assert loaded["broker"] == "filesystem://"
    assert loaded["transport"]["data_folder_in"] == loaded["transport"]["data_folder_out"]
    for folder in ("data_folder_in", "processed_folder", "control_folder"):
        path = Path(loaded["transport"][folder])
        assert path.is_dir()
        assert path.is_relative_to(tmp_path / "celery")
    assert loaded["media"] == str(tmp_path / "media")


def test_redis_broker_gets_a_visibility_timeout(tmp_path: Path) -> None:
    env = child_env(
        tmp_path,
        "integrity.settings.local",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        CELERY_VISIBILITY_TIMEOUT="7200",
    )
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CELERY_BROKER_TRANSPORT_OPTIONS)"
    )
    result = run_python(["-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'visibility_timeout': 7200}"


def test_workflow_days_are_read_from_json(tmp_path: Path) -> None:
    env = child_env(
        tmp_path, "integrity.settings.local", SLIPCASE_WORKFLOW_DAYS='{"course": {"review": 14}}'
    )
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SLIPCASE_WORKFLOW_DAYS)"
    )
    result = run_python(["-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'course': {'review': 14}}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SLIPCASE_WORKFLOW_DAYS", '{"course": {"review": "two weeks"}}', "whole number of days"),
        ("SLIPCASE_WORKFLOW_DAYS", "{course}", "must be valid JSON"),
        ("SLIPCASE_TIME_ZONE", "Mars/Olympus_Mons", "must be an IANA zone"),
    ],
)
def test_invalid_slipcase_settings_stop_start_up(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    env = child_env(tmp_path, "integrity.settings.local", **{variable: value})
    result = run_python(SETUP, env)
    assert result.returncode != 0
    assert variable in result.stderr
    assert message in result.stderr


def test_tests_run_with_fast_hashing_and_eager_tasks() -> None:
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    assert settings.CELERY_TASK_EAGER_PROPAGATES is True
    assert "slipcase-test-media-" in str(settings.MEDIA_ROOT)


def test_evidence_goes_to_s3_compatible_storage_when_a_bucket_is_configured(
    tmp_path: Path,
) -> None:
    env = child_env(
        tmp_path,
        "integrity.settings.local",
        SLIPCASE_EVIDENCE_S3_BUCKET="slipcase-evidence",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9",
    )
    probe = (
        "import django; django.setup();"
        "from django.core.files.storage import storages;"
        "s = storages['evidence'];"
        "print(type(s).__module__, type(s).__name__, s.bucket_name, s.file_overwrite)"
    )
    result = run_python(["-c", probe], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "storages.backends.s3",
        "S3Storage",
        "slipcase-evidence",
        "False",
    ]


def test_evidence_is_a_local_read_only_folder_by_default(tmp_path: Path) -> None:
    env = child_env(tmp_path, "integrity.settings.local")
    probe = (
        "import django; django.setup();"
        "from django.core.files.storage import storages;"
        "s = storages['evidence']; print(s.location, oct(s.file_permissions_mode))"
    )
    result = run_python(["-c", probe], env)
    assert result.returncode == 0, result.stderr
    location, mode = result.stdout.split()
    assert location == str(tmp_path / "evidence") and mode == "0o440"
