"""Invite every encounter of a day's schedule that has contact details and no invitation yet.

    manage.py twitch_intake_invite 2031-03-10 --user frontdesk

The messages go through the queue (a worker sends them). Only counts are printed: never a
name, an address or a link.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date

from twitch_intake import services


class Command(BaseCommand):
    help = (
        "Queue the invitation of every encounter on a day's schedule that has contact details "
        "and no invitation yet."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("day", help="The visits' day, YYYY-MM-DD (the clinic's time zone).")
        parser.add_argument(
            "--user",
            required=True,
            help="The staff username the invitations are sent as (the access log names them).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = parse_date(options["day"])
        except ValueError:
            day = None
        if day is None:
            raise CommandError("Give the day as YYYY-MM-DD.")
        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None or not user.has_perm("twitch_intake.issue_link"):
            raise CommandError("No active user of that name who may send patients' links.")
        ids = list(services.day_schedule(day).values_list("pk", flat=True))

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"\r{done}/{total}", ending="")

        report = services.invite_all(ids, user, None, progress)
        if ids:
            self.stdout.write("")
        self.stdout.write(
            f"{len(report.invited)} invited, {len(report.already)} invited before, "
            f"{len(report.refused)} without contact details or already submitted "
            f"({len(ids)} on {day.isoformat()})."
        )
