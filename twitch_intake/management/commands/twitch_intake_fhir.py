"""FHIR from the command line: print the Questionnaire, export an encounter, import responses.

``import`` is built for batches and scripts: each file is its own transaction (one bad file
does not hold back the good ones), the outcome is one JSON object per line in input order, and
the exit status is 1 when any file was refused. Bad input is reported, never a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twitch_intake import fhir
from twitch_intake.models import Encounter


class Command(BaseCommand):
    help = "Print the intake's FHIR Questionnaire, export a QuestionnaireResponse, or import some."
    #: ``call_command(..., stdin=...)`` feeds ``-`` without touching ``sys.stdin``.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        subcommands.add_parser("questionnaire", help="Print the Questionnaire (R4) as JSON.")
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
            self._print(fhir.questionnaire_json())
        elif subcommand == "export":
            encounter = Encounter.objects.filter(pk=options["encounter_id"]).first()
            if encounter is None:
                raise CommandError(f"No encounter with id {options['encounter_id']}.")
            self._print(fhir.response_json(encounter))
        else:
            self._import(options["paths"], options.get("stdin") or sys.stdin)

    def _print(self, resource: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(resource, indent=2, ensure_ascii=False))

    def _import(self, paths: list[str], stdin: Any) -> None:
        refused = 0
        for path in paths:
            try:
                data = self._read(path, stdin)
            except OSError as error:
                result = fhir.ImportResult(problems=[f"cannot read: {error.strerror or error}"])
            else:
                result = fhir.import_json(data)
            refused += not result.ok
            line = {"source": path, **fhir.summary(result)}
            # ASCII: a message may quote input that cannot be encoded (a lone surrogate).
            self.stdout.write(json.dumps(line))
        if refused:
            raise CommandError(f"{refused} of {len(paths)} refused.", returncode=1)

    @staticmethod
    def _read(path: str, stdin: Any) -> str | bytes:
        if path == "-":
            # Bytes when there are any, so json.loads detects the encoding as for a file.
            buffer = getattr(stdin, "buffer", None)
            return buffer.read() if buffer is not None else stdin.read()
        with open(path, "rb") as file:
            return file.read()
