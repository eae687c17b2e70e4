"""Running the project's own commands in child processes, with a controlled environment."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Variables a test decides about explicitly; inherited values would make results depend on the
# shell that ran pytest.
_CONTROLLED = (
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "SLIPCASE_VAR_DIR",
    "SLIPCASE_WORKFLOW_DAYS",
    "SLIPCASE_TIME_ZONE",
)


def child_env(var_dir: Path, settings: str, **overrides: str | None) -> dict[str, str]:
    """The current environment with Slipcase's variables reset; ``None`` unsets a variable.

    DATABASE_URL and CELERY_BROKER_URL are inherited unless overridden, so the children use the
    same services as the test run.
    """
    env = {key: value for key, value in os.environ.items() if key not in _CONTROLLED}
    env["DJANGO_SETTINGS_MODULE"] = settings
    env["SLIPCASE_VAR_DIR"] = str(var_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_python(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python <args>`` with the test run's interpreter, from the repository root."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
