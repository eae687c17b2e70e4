"""Settings shared by every environment, all read from environment variables."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from integrity.env import (
    env_bool,
    env_int,
    env_json,
    env_list,
    env_str,
    parse_workflow_days,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Local state (SQLite database, media, collected static, filesystem broker, pid and log files).
VAR_DIR = Path(env_str("SLIPCASE_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -----------------------------------------------------------------------------------------

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
DEBUG = env_bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

ROOT_URLCONF = "integrity.urls"
WSGI_APPLICATION = "integrity.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_results",
    "integrity.apps.IntegrityConfig",
    "cases.apps.CasesConfig",
    "analysis.apps.AnalysisConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "integrity.middleware.UserTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'slipcase.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", default=0, minimum=0),
        conn_health_checks=True,
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker processes share the file: transactions take the write
    # lock when they begin (a deferred one that reads first and then writes fails at once with
    # "database is locked" when another process writes), and WAL lets readers run beside a writer.
    _sqlite_options = DATABASES["default"].setdefault("OPTIONS", {})
    _sqlite_options["timeout"] = 20
    _sqlite_options["transaction_mode"] = "IMMEDIATE"
    _sqlite_options["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"

# --- Auth -----------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation and time ----------------------------------------------------------------

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True

# Storage and the database are in UTC; legal deadlines count days in the institution's zone.
TIME_ZONE = "UTC"
USE_TZ = True
SLIPCASE_TIME_ZONE = env_str("SLIPCASE_TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(SLIPCASE_TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"SLIPCASE_TIME_ZONE must be an IANA zone such as 'Europe/Berlin', "
        f"got {SLIPCASE_TIME_ZONE!r}"
    ) from None

# --- Slipcase -------------------------------------------------------------------------------------

SLIPCASE_INSTITUTION = env_str("SLIPCASE_INSTITUTION", "Example University")
# {"<workflow>": {"<clock>": <days>}} overriding the day counts in cases.workflow.
SLIPCASE_WORKFLOW_DAYS = parse_workflow_days(
    "SLIPCASE_WORKFLOW_DAYS", env_json("SLIPCASE_WORKFLOW_DAYS", {})
)

# --- Static and media files -----------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Evidence vault -------------------------------------------------------------------------------

# Evidence bytes, content-addressed by SHA-256. Default: a local folder. With
# SLIPCASE_EVIDENCE_S3_BUCKET set, any S3-compatible store through django-storages (credentials and
# endpoint from the usual AWS_* variables, e.g. AWS_S3_ENDPOINT_URL for MinIO or Ceph).
EVIDENCE_ROOT = Path(env_str("SLIPCASE_EVIDENCE_ROOT", str(VAR_DIR / "evidence")))
_evidence_bucket = env_str("SLIPCASE_EVIDENCE_S3_BUCKET")
if _evidence_bucket:
    STORAGES["evidence"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _evidence_bucket,
            "file_overwrite": False,
            "default_acl": "private",
            "querystring_auth": True,
        },
    }
else:
    STORAGES["evidence"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(EVIDENCE_ROOT), "file_permissions_mode": 0o440},
    }
# Upload limits (bytes): one upload, and all evidence of one case together.
SLIPCASE_MAX_UPLOAD_BYTES = env_int("SLIPCASE_MAX_UPLOAD_BYTES", default=4 * 1024**3, minimum=1)
SLIPCASE_MAX_CASE_BYTES = env_int("SLIPCASE_MAX_CASE_BYTES", default=200 * 1024**3, minimum=1)
# Folders on this server from which officers may snapshot local git or model repositories
# (os.pathsep-separated). Empty: only URLs.
SLIPCASE_SNAPSHOT_ROOTS = [p for p in env_str("SLIPCASE_SNAPSHOT_ROOTS").split(":") if p]
# Model analyses on a worker without CUDA refuse weights larger than this (bytes).
SLIPCASE_CPU_MODEL_MAX_BYTES = env_int(
    "SLIPCASE_CPU_MODEL_MAX_BYTES", default=2 * 1024**3, minimum=1
)

# Audit log: Ed25519 signing key for tree heads (PEM path; default: generated once under
# var/keys/), public keys of retired signing keys (PEM paths, os.pathsep-separated), and an
# optional RFC 3161 time-stamping authority for tree heads.
SLIPCASE_AUDIT_SIGNING_KEY = env_str("SLIPCASE_AUDIT_SIGNING_KEY")
SLIPCASE_AUDIT_PUBLIC_KEYS = [p for p in env_str("SLIPCASE_AUDIT_PUBLIC_KEYS").split(":") if p]
SLIPCASE_TSA_URL = env_str("SLIPCASE_TSA_URL")
SLIPCASE_TSA_CERT = env_str("SLIPCASE_TSA_CERT")
SLIPCASE_TSA_TIMEOUT = env_int("SLIPCASE_TSA_TIMEOUT", default=10, minimum=1)
SLIPCASE_TSA_REQUIRED = env_bool("SLIPCASE_TSA_REQUIRED", default=False)

# --- E-mail ---------------------------------------------------------------------------------------

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "slipcase@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", default=25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)

# --- REST API -------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "integrity.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "integrity.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": "60/minute",
        "user": "600/minute",
        # ScopedRateThrottle scope for the public report-intake endpoint.
        "report_intake": "20/hour",
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Slipcase API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Case management for research-integrity offices: reports, cases, parties, allegations, "
        "workflow deadlines, responses, decisions, evidence and analysis runs. Authenticate with a "
        "session or with `Authorization: Token <key>` from `/api/auth/token/`."
    ),
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "AllegationKindEnum": "cases.models.AllegationKind",
        "PartyKindEnum": "cases.models.Party.Kind",
        "ResponseKindEnum": "cases.models.Response.Kind",
        "SanctionKindEnum": "cases.models.Sanction.Kind",
        "PartyRoleEnum": "cases.models.CaseParty.Role",
        "MemberRoleEnum": "cases.models.CaseMember.Role",
        "WorkflowEnum": "cases.models.WORKFLOW_CHOICES",
        "AnalysisKindEnum": "analysis.models.AnalysisRun.Kind",
        "EvidenceKindEnum": "cases.evidence.models.EvidenceItem.Kind",
    },
}

# --- Celery ---------------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_broker_scheme = urlsplit(CELERY_BROKER_URL).scheme
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {}
if _broker_scheme == "filesystem":
    # Producer and consumer share one folder. Processed messages are moved (an atomic rename on the
    # same file system, so two workers never take the same message) into processed/.
    _celery_dir = VAR_DIR / "celery"
    _celery_folders = {
        "data_folder_in": _celery_dir / "messages",
        "data_folder_out": _celery_dir / "messages",
        "processed_folder": _celery_dir / "processed",
        "control_folder": _celery_dir / "control",
    }
    for _folder in _celery_folders.values():
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {key: str(path) for key, path in _celery_folders.items()}
    CELERY_BROKER_TRANSPORT_OPTIONS["store_processed"] = True
elif _broker_scheme in {"redis", "rediss"}:
    # With late acks, a task not acknowledged within this time is delivered again: keep it above
    # the longest task (CELERY_TASK_TIME_LIMIT).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", default=3600 * 6, minimum=1),
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"

# A task is acknowledged after it finishes, so a worker that dies mid-task does not lose it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", default=3600 * 4, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int(
    "CELERY_TASK_SOFT_TIME_LIMIT", default=max(CELERY_TASK_TIME_LIMIT - 60, 1), minimum=1
)

CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ROUTES = {"analysis.tasks.gpu_*": {"queue": "gpu"}}

CELERY_BEAT_SCHEDULE = {
    "clocks-sweep": {
        "task": "cases.tasks.clocks_sweep",
        "schedule": crontab(minute="*/15"),
    },
    # A signed tree head for the audit log every hour (nothing is signed when nothing changed).
    "audit-sign": {
        "task": "cases.tasks.audit_sign",
        "schedule": crontab(minute=5),
    },
    # Re-hash all stored evidence every night.
    "evidence-verify": {
        "task": "cases.tasks.evidence_verify",
        "schedule": crontab(hour=3, minute=30),
    },
}

# --- Logging --------------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}
