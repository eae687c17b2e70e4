"""Slipcase project package: settings, URL map, Celery app, health check and API error mapping.

Holds no business logic; that lives in the apps (``cases``, ``analysis``) behind their services and
selectors.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
