"""Project-level tasks: only a round-trip check for the broker, the worker and the result store."""

from celery import shared_task


@shared_task(name="integrity.tasks.ping")
def ping() -> str:
    return "pong"
