"""Round trip through the broker, a worker and the result store: send a task by name, wait."""

from typing import Any

from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrity.celery import app


class Command(BaseCommand):
    help = (
        "Send a task by name to the broker and wait for a worker to run it; exits non-zero if it "
        "does not succeed in time. Checks the broker, a worker and the result backend together."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--task", default="cases.tasks.clocks_sweep", help="task name to send")
        parser.add_argument(
            "--timeout", type=float, default=60.0, help="seconds to wait for the result"
        )

    def handle(self, *args: Any, task: str, timeout: float, **options: Any) -> None:
        result = app.send_task(task)
        self.stdout.write(f"sent {task} as {result.id}; waiting up to {timeout:g} s")
        try:
            value = result.get(timeout=timeout, propagate=False)
        except CeleryTimeoutError:
            raise CommandError(
                f"{task} ({result.id}) gave no result within {timeout:g} s (state {result.state}); "
                f"is a worker consuming its queue?"
            ) from None
        if not result.successful():
            raise CommandError(
                f"{task} ({result.id}) ended in state {result.state}: {value!r}\n"
                f"{result.traceback or ''}"
            )
        self.stdout.write(self.style.SUCCESS(f"{task} succeeded: {value!r}"))
