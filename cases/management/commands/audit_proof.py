"""Print an inclusion proof (or a consistency proof) of the audit log as JSON.

``audit_proof 17`` proves the entry with seq 17 (``--id`` to give its primary key instead) against
the latest signed tree head; ``audit_proof --consistency 10 20`` proves that the signed head of
size 10 is a prefix of the signed head of size 20. Check the output with
``python scripts/verify_audit_proof.py proof.json`` (see docs/audit.md).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.audit.services import consistency_proof_between, dumps, inclusion_proof_for
from cases.errors import ApplicationError


class Command(BaseCommand):
    help = "Print an inclusion or consistency proof of the audit log as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("entry", nargs="?", type=int, help="seq of the entry (leaf index)")
        parser.add_argument(
            "--id", action="store_true", help="ENTRY is the entry's primary key, not its seq"
        )
        parser.add_argument(
            "--consistency",
            nargs=2,
            type=int,
            metavar=("SIZE1", "SIZE2"),
            help="consistency proof between the signed tree heads of these sizes",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        entry, sizes = options["entry"], options["consistency"]
        if (entry is None) == (sizes is None):
            raise CommandError("give an entry seq (or --id ID), or --consistency SIZE1 SIZE2")
        try:
            if sizes is not None:
                document = consistency_proof_between(sizes[0], sizes[1])
            elif options["id"]:
                document = inclusion_proof_for(entry)
            else:
                document = inclusion_proof_for(seq=entry)
        except (ApplicationError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(dumps(document), ending="")
