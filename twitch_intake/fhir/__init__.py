"""The intake as FHIR R4: the Questionnaire out, a QuestionnaireResponse out and in.

Two modules, because they are two jobs with different risks. :mod:`.export` writes what we
already trust (the definition and a stored encounter) and is short. :mod:`.reading` reads what
a stranger sent: it distrusts every element, lists every problem and stores nothing unless all
is well, so it is long. The reader depends on the export's identifiers (the code system, the
Questionnaire's URL, where each type's answer goes), never the other way round.

Callers import the package (``from twitch_intake import fhir``) and use the names below; the
split is not part of the interface. No HTTP here: the admin, the management command or a future
API call these functions.
"""

from .export import (
    BASE_URL,
    CODE_SYSTEM,
    PATIENT_ID,
    QUESTIONNAIRE_URL,
    questionnaire_json,
    response_json,
)
from .reading import (
    ImportResult,
    ParsedResponse,
    import_json,
    import_response,
    read_response,
    summary,
)

__all__ = [
    "BASE_URL",
    "CODE_SYSTEM",
    "PATIENT_ID",
    "QUESTIONNAIRE_URL",
    "ImportResult",
    "ParsedResponse",
    "import_json",
    "import_response",
    "questionnaire_json",
    "read_response",
    "response_json",
    "summary",
]
