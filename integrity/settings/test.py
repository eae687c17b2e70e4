"""Tests: fast hashing, tasks run inline, media in a throwaway directory.

The database comes from DATABASE_URL as in base; Django tests SQLite in memory and PostgreSQL in a
``test_<name>`` database, so neither touches real data.
"""

import atexit
import shutil
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import STORAGES

DEBUG = False
SECRET_KEY = "insecure-test-only-secret-key-not-for-any-real-deployment-0123456789"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="slipcase-test-media-"))
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
EVIDENCE_ROOT = MEDIA_ROOT / "evidence"
STORAGES = {
    **STORAGES,
    "evidence": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(EVIDENCE_ROOT), "file_permissions_mode": 0o440},
    },
}

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing.
