"""FHIR from the command line: print the Questionnaire (of any version), export an encounter,
import responses.

``import`` is built for batches and scripts: each file is its own transaction and its own
result (one bad file, even one that crashes the import, neither holds back nor undoes the
others), the outcome is one JSON object per line in input order, a count of imported and
refused files goes to stderr, and the exit status is 1 when any file was refused. Bad input is
reported, never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from twitch_intake import fhir, questionnaire
from twitch_intake.models import Encounter

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Print the intake's FHIR Questionnaire, export a QuestionnaireResponse, or import some."
    #: ``call_command(..., stdin=...)`` feeds ``-`` without touching ``sys.stdin``.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        definition = subcommands.add_parser(
            "questionnaire",
            help="Print the Questionnaire (R4) as JSON: the current version, or VERSION.",
        )
        definition.add_argument("version", nargs="?", default=None, metavar="VERSION")
        export = subcommands.add_parser(
            "export", help="Print one encounter's QuestionnaireResponse (R4) as JSON."
        )
        export.add_argument("encounter_id", type=int, metavar="ENCOUNTER_ID")
        load = subcommands.add_parser(
            "import",
            help="Store QuestionnaireResponse files as submitted encounters; '-' reads stdin.",
        )
        load.add_argument("paths", nargs="+", metavar="PATH")

    def handle(self, *args: Any, **options: Any) -> None:
        subcommand = options["subcommand"]
        if subcommand == "questionnaire":
            self._print(self._questionnaire(options["version"]))
        elif subcommand == "export":
            encounter = Encounter.objects.filter(pk=options["encounter_id"]).first()
            if encounter is None:
                raise CommandError(f"No encounter with id {options['encounter_id']}.")
            self._print(fhir.response_json(encounter))
        else:
            self._import(options["paths"], options.get("stdin") or sys.stdin)

    @staticmethod
    def _questionnaire(version: str | None) -> dict[str, Any]:
        try:
            return fhir.questionnaire_json(version)
        except ValueError:
            known = ", ".join(questionnaire.TWITCH_INTAKE.versions)
            raise CommandError(
                f"No questionnaire version {version!r}; this release knows {known}."
            ) from None

    def _print(self, resource: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(resource, indent=2, ensure_ascii=False))

    def _import(self, paths: list[str], stdin: Any) -> None:
        refused = 0
        for number, path in enumerate(paths, start=1):
            result = self._import_one(path, stdin, number, len(paths))
            refused += not result.ok
            line = {"source": path, **fhir.summary(result)}
            # ASCII: a message may quote input that cannot be encoded (a lone surrogate).
            self.stdout.write(json.dumps(line))
        counts = f"{len(paths) - refused} imported, {refused} refused."
        if refused:
            raise CommandError(counts, returncode=1)
        self.stderr.write(counts)

    def _import_one(self, path: str, stdin: Any, number: int, total: int) -> fhir.ImportResult:
        """One file, all or nothing; whatever goes wrong is this file's refusal, not the batch's.

        Everything the import writes is inside the transaction, so an error rolls it all back
        (the emergency alert runs after commit and handles its own failures).
        """
        try:
            data = self._read(path, stdin)
        except OSError as error:
            return fhir.ImportResult(problems=[f"cannot read: {error.strerror or error}"])
        except Exception as error:  # one file must never stop the batch
            return self._unexpected(error, number, total)
        try:
            with transaction.atomic():
                return fhir.import_json(data)
        except Exception as error:  # one file must never stop the batch
            return self._unexpected(error, number, total)

    @staticmethod
    def _unexpected(error: Exception, number: int, total: int) -> fhir.ImportResult:
        """Logged by class alone: the message, the traceback's locals and even the file's name
        may carry patient data."""
        kind = type(error).__name__
        logger.error("FHIR import of file %d of %d failed: %s", number, total, kind)
        return fhir.ImportResult(
            problems=[f"could not be imported: an unexpected error ({kind}); nothing was stored."]
        )

    @staticmethod
    def _read(path: str, stdin: Any) -> str | bytes:
        if path == "-":
            # Bytes when there are any, so json.loads detects the encoding as for a file.
            buffer = getattr(stdin, "buffer", None)
            # A text stream's buffer reads bytes; a stream without one reads str.
            data: str | bytes = buffer.read() if buffer is not None else stdin.read()
            return data
        with open(path, "rb") as file:
            return file.read()
