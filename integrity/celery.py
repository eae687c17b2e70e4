"""The Celery app. Configured from Django settings prefixed ``CELERY_``; tasks found in each app's
``tasks.py``. Model work goes to the ``gpu`` queue, everything else to ``cpu``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrity.settings.local")

app = Celery("slipcase")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
