"""Re-hash every stored exhibit; report (and record on custody chains) anything that changed.

Exit status 1 when any stored bytes no longer match their SHA-256 or are missing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cases.evidence.services import evidence_verify_all


class Command(BaseCommand):
    help = "Verify the SHA-256 of every stored evidence blob; exit 1 on any mismatch."

    def handle(self, *args: Any, **options: Any) -> None:
        checked, problems = evidence_verify_all()
        for problem in problems:
            self.stderr.write(
                f"BAD {problem.sha256}: {problem.problem}; exhibits: {', '.join(problem.items)}"
            )
        if problems:
            raise CommandError(f"{len(problems)} of {checked} stored blobs failed verification.")
        self.stdout.write(self.style.SUCCESS(f"OK: {checked} stored blobs verified."))
