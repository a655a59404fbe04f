"""Recompute the stored level and flags of every submitted encounter from its answers.

The level and flags on an encounter sort the clinician's queue; they are computed once, at submit.
When the triage rules change (a new release), run this so that the queue agrees with the rules
the summary already applies. Output names encounters by id only: it goes to terminals and logs,
where patient names and answers do not belong.
"""

from __future__ import annotations

from argparse import ArgumentParser
from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand

from twitch_intake import services


def _codes(codes: Sequence[str]) -> str:
    return ", ".join(codes) or "(none)"


class Command(BaseCommand):
    help = (
        "Recompute level and flags of every submitted or reviewed encounter from its stored "
        "answers; save and list those that changed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would change without saving anything.",
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        report = services.retriage(dry_run=dry_run)
        for change in report.changed:
            self.stdout.write(
                f"Encounter {change.encounter_id}: {change.old_level} -> {change.new_level}; "
                f"flags added: {_codes(change.added)}; removed: {_codes(change.removed)}"
            )
        if dry_run:
            self.stdout.write("Dry run: nothing was saved.")
        self.stdout.write(f"{report.checked} encounters checked, {len(report.changed)} changed")
