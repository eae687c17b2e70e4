"""Sign a tree head of the audit log now (and time-stamp it when SLIPCASE_TSA_URL is set).

Exits 1 if the log no longer matches the last head (nothing is signed), or if a TSA is configured
but the head could not be time-stamped (the head is then signed and kept without a time stamp).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.audit.models import format_at
from cases.audit.services import tree_head_sign
from cases.audit.tsa import TSAError
from cases.errors import ApplicationError


class Command(BaseCommand):
    help = "Sign (and time-stamp, if configured) a tree head of the audit log."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            head = tree_head_sign()
        except (ApplicationError, TSAError) as exc:
            raise CommandError(str(exc)) from exc
        stamped = f", time-stamped {format_at(head.tsa_time)}" if head.tsa_time else ""
        self.stdout.write(
            f"tree head #{head.pk}: size {head.tree_size}, root {head.root_hash}, "
            f"signed {format_at(head.at)} by key {head.key_id}{stamped}"
        )
        if getattr(settings, "SLIPCASE_TSA_URL", "") and head.tsa_token is None:
            raise CommandError("the TSA did not time-stamp this head (see the log); head kept")
