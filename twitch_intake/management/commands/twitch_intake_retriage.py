"""Recompute the stored level and flags of every submitted encounter from its answers.

The level and flags on an encounter sort the clinician's queue; they are computed once, at submit.
When the triage rules change (a new release), run this so that the queue agrees with the rules
the summary already applies. Output names encounters by id only: it goes to terminals and logs,
where patient names and answers do not belong.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from twitch_intake import services, triage
from twitch_intake.models import Encounter, Status

FIELDS = ("level", "flags", "flag_count")


def _state(encounter: Encounter) -> tuple[Any, ...]:
    return tuple(getattr(encounter, name) for name in FIELDS)


def _codes(codes: list[str]) -> str:
    return ", ".join(codes) or "none"


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
        checked = changed = 0
        submitted = Encounter.objects.filter(status__in=[Status.SUBMITTED, Status.REVIEWED])
        candidates = submitted.order_by("pk").only("pk", "answers", *FIELDS)
        for encounter in candidates.iterator(chunk_size=500):
            checked += 1
            before = _state(encounter)
            services.apply_assessment(encounter, triage.assess(encounter.answers))
            if _state(encounter) == before:
                continue
            if not dry_run:
                # Recompute on the locked row: it may have changed since it was read.
                with transaction.atomic():
                    locked = submitted.select_for_update().filter(pk=encounter.pk).first()
                    if locked is None:  # deleted, or no longer submitted
                        continue
                    encounter = locked
                    before = _state(encounter)
                    services.apply_assessment(encounter, triage.assess(encounter.answers))
                    if _state(encounter) == before:
                        continue
                    encounter.save(update_fields=[*FIELDS, "updated_at"])
            changed += 1
            old_level, old_flags, _ = before
            added = [code for code in encounter.flags if code not in old_flags]
            removed = [code for code in old_flags if code not in encounter.flags]
            self.stdout.write(
                f"Encounter {encounter.pk}: {old_level} -> {encounter.level}; "
                f"flags added: {_codes(added)}; removed: {_codes(removed)}"
            )
        if dry_run:
            self.stdout.write("Dry run: nothing was saved.")
        self.stdout.write(f"{checked} encounters checked, {changed} changed")
