from django.apps import AppConfig


class IntegrityConfig(AppConfig):
    """Project-level app, installed so that its management commands (``celery_smoke``) and tasks
    are discovered. It has no models."""

    name = "integrity"
    verbose_name = "Slipcase"
