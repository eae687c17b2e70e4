"""Recompute the audit log's Merkle tree from the stored rows and check every signed tree head.

Prints ``OK`` with the entry count and the latest head, or the problems in log order (the first
one names the first bad entry); exits 1 on any problem. ``--json`` prints the full report.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.audit.services import audit_verify


class Command(BaseCommand):
    help = "Verify the tamper-evident audit log; exit 1 and name the first problem if any."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify()
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict(), indent=2))
        elif report.ok:
            head = report.latest_head
            latest = (
                f"latest tree head #{head['id']}: size {head['tree_size']}, root "
                f"{head['root_hash']}, signed {head['at']}"
                + (", time-stamped" if head["timestamped"] else "")
                if head
                else "no signed tree head yet"
            )
            self.stdout.write(
                f"OK: {report.entries} entries, {report.heads} tree heads "
                f"({report.timestamped_heads} time-stamped); {latest}; "
                f"{report.unsigned_entries} entries not yet signed"
            )
        else:
            for problem in report.problems:
                self.stdout.write(f"FAIL: {problem}")
            if report.problems_left_out:
                self.stdout.write(f"... and {report.problems_left_out} more problems")
        if not report.ok:
            raise CommandError(f"audit log verification failed: {report.first_problem}")
