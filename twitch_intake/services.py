"""The intake's writes: save a page, submit, import. Views, admin and commands call these.

Every write locks the encounter's row, so two tabs, a double-tap on Submit or two app servers
cannot interleave: a page save and a submit of the same encounter happen one after the other.
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum, StrEnum
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _
from django.utils.translation import override

from . import history, lockout, questionnaire, sms, tasks, triage, validation
from .conf import app_settings
from .models import IDENTITY_FIELDS as IDENTITY_FIELDS  # services.IDENTITY_FIELDS, as before
from .models import AccessEvent, Channel, Encounter, PatientMessage, Status
from .steps import Steps

logger = logging.getLogger(__name__)


def answers_digest(answers: Mapping[str, Any]) -> str:
    """SHA-256 of the answers in one canonical JSON form: changes if any answer changes."""
    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def digest_matches(encounter: Encounter) -> bool:
    return not encounter.answers_digest or encounter.answers_digest == answers_digest(
        encounter.answers
    )


def record_access(
    encounter: Encounter, user: Any, action: str, client_address: str | None
) -> AccessEvent:
    """One row of the append-only access log: who (``None`` only for the patient's link), what,
    from where."""
    return AccessEvent.objects.create(
        encounter=encounter, user=user, action=action, client_address=client_address or None
    )


def apply_assessment(encounter: Encounter, assessment: triage.Assessment) -> None:
    """Store a submitted intake's level and flags; once a sign was reported it stays an
    emergency (and keeps its emergency flags) even if the assessment says otherwise, which it
    can only do when the history of that sign was kept from it."""
    codes = assessment.codes
    level = assessment.level
    if encounter.emergency_reported_at is not None and not assessment.is_emergency:
        level = triage.Level.EMERGENCY
        codes = [*_emergency_codes(encounter, assessment), *codes]
    red = {r.code for r in triage.rules() if r.is_red}
    encounter.level = level.value
    encounter.flags = codes
    encounter.flag_count = len(codes)
    encounter.red_flag_count = len([code for code in codes if code in red])


def _emergency_codes(encounter: Encounter, assessment: triage.Assessment) -> list[str]:
    """The emergency rules' codes raised now or already stored, in rule order."""
    raised = {*assessment.codes, *encounter.flags}
    return [r.code for r in triage.rules() if r.is_emergency and r.code in raised]


def apply_provisional(encounter: Encounter, assessment: triage.Assessment, now: datetime) -> None:
    """An intake not yet submitted: no level ("not assessed"), except that the first save that
    stores an emergency sign makes it an emergency at once, with its emergency flags, and
    records when; it stays one through submission, even if the sign is taken back."""
    if assessment.is_emergency and encounter.emergency_reported_at is None:
        encounter.emergency_reported_at = now
    if encounter.emergency_reported_at is None:
        encounter.level, encounter.flags, encounter.flag_count = None, [], 0
        encounter.red_flag_count = 0
        return
    codes = _emergency_codes(encounter, assessment)
    encounter.level = triage.Level.EMERGENCY.value
    encounter.flags = codes
    encounter.flag_count = encounter.red_flag_count = len(codes)


#: Recorded as the last alert error when ``ALERT_EMAILS`` is empty: nobody could be told.
NO_ALERT_ROUTE = "No alert route: TWITCH_INTAKE['ALERT_EMAILS'] is empty."


def _queue_alert(encounter: Encounter, now: datetime) -> None:
    """Queue the clinic's one alert for this encounter, in the caller's transaction.

    The caller holds the row lock, so of two tabs, a double tap or two app servers only the
    first finds ``alerted_at`` empty. Once queued, the job retries on its own until the mail
    server accepts it: nothing here is ever reset for a "next save" that may never come.
    """
    if encounter.alerted_at is not None:
        return
    encounter.alerted_at = now
    tasks.queue_emergency_alert(encounter.pk)


def deliver_emergency_alert(encounter_id: int) -> None:
    """Send the clinic's alert email (a link to the admin, no health details), or record why
    it could not be sent. Run by the queue's worker, which retries while this raises.

    Send first, then mark sent: a worker that dies between the two runs the job again and sends
    a second email. The other order could lose the alert (marked sent, never sent); a duplicate
    "needs attention now" is the safe failure, zero is not. A retry after the mark sends nothing.
    Errors are recorded by class and the server's reply only: the email holds no patient data.
    """
    row = Encounter.objects.filter(pk=encounter_id).values("alert_sent_at").first()
    if row is None:
        logger.warning("Emergency alert for encounter %s dropped: it was deleted", encounter_id)
        return
    if row["alert_sent_at"] is not None:
        return  # accepted on an earlier try
    recipients = app_settings.ALERT_EMAILS
    if not recipients:
        _record_alert_attempt(encounter_id, NO_ALERT_ROUTE)
        logger.error("Emergency alert for encounter %s not sent: %s", encounter_id, NO_ALERT_ROUTE)
        return
    try:
        _send_emergency_alert(encounter_id, recipients)
    except Exception as error:
        _record_alert_attempt(encounter_id, _describe_mail_error(error))
        raise
    _record_alert_attempt(encounter_id, "", sent_at=timezone.now())


def _record_alert_attempt(encounter_id: int, error: str, sent_at: datetime | None = None) -> None:
    fields: dict[str, Any] = {"alert_attempts": F("alert_attempts") + 1, "alert_last_error": error}
    if sent_at is not None:
        fields["alert_sent_at"] = sent_at
    Encounter.objects.filter(pk=encounter_id, alert_sent_at__isnull=True).update(**fields)


def _describe_mail_error(error: Exception) -> str:
    """The error's class and the mail server's reply, e.g. "SMTPConnectError: 421 4.3.2 …"."""
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        detail = f"{error.smtp_code} {text}"
    else:
        detail = str(error)
    return f"{type(error).__name__}: {detail}"[:255]


def _send_emergency_alert(encounter_id: int, recipients: list[str]) -> None:
    url = app_settings.SITE_URL + reverse(
        "admin:twitch_intake_encounter_change", args=[encounter_id]
    )
    with override(settings.LANGUAGE_CODE):  # the clinic's, whatever the patient used
        subject = _("Intake needs attention now")
        body = _(
            "A patient's intake at %(clinic)s needs attention now.\n\nSign in to read it: %(url)s\n"
        ) % {"clinic": app_settings.CLINIC_NAME, "url": url}
    send_mail(subject, body, None, recipients)


@dataclass
class PageResult:
    encounter: Encounter
    #: True when the intake was already submitted and nothing was changed.
    already_submitted: bool = False
    #: True when the answers as stored now call for care now (the clinic's alert is queued).
    is_emergency: bool = False


#: What an acknowledgement sets, cleared when the patient reports a sign after it.
ACKNOWLEDGEMENT_FIELDS = (
    "emergency_acknowledged_at",
    "emergency_acknowledged_by",
    "emergency_acknowledgement",
    "emergency_acknowledgement_note",
)


def _signs(answers: Mapping[str, Any]) -> set[str]:
    """The codes ticked for the questions an emergency rule reads, "None of these" aside."""
    return {
        code
        for link_id in triage.emergency_questions()
        for code in triage.ticked_codes(answers, link_id)
    } - {questionnaire.NONE}


def _reports_a_new_sign(
    encounter_id: int, previous: Mapping[str, Any], answers: Mapping[str, Any]
) -> bool:
    """Whether ``answers`` tick a sign this intake never held before (its history and its
    stored answers): a new report, which the clinic must hear of even after it was alerted or
    the emergency was acknowledged. A sign taken back and ticked again is not new."""
    before = _signs(previous)
    held = history.earlier_answers(encounter_id, triage.emergency_questions())
    for link_id, values in held.items():
        for _at, value in values:
            before |= _signs({link_id: value})
    return bool(_signs(answers) - before)


def _reopen_emergency(encounter: Encounter) -> None:
    """A new sign after the clinic was alerted or a clinician acknowledged: alert again, and
    back into the banner's count, so that a worse sign never arrives silently."""
    encounter.alerted_at = None
    encounter.alert_sent_at = None
    encounter.emergency_acknowledged_at = None
    encounter.emergency_acknowledged_by = None
    encounter.emergency_acknowledgement = ""
    encounter.emergency_acknowledgement_note = ""


def _completed_pages(
    encounter: Encounter, saved: questionnaire.Page | questionnaire.Group, since: str | None
) -> list[str]:
    """The pages completed once ``saved`` is: a group saved whole completes all its pages.

    A list stored before groups had pages names groups, and an intake moving on from the
    older version ``since`` has pages to be shown again, for what was added to them: then
    completion is read again from the answers (:meth:`Steps.stored`).
    """
    pages = (saved,) if isinstance(saved, questionnaire.Page) else saved.pages
    slugs = [p.slug for p in pages]
    steps = Steps.stored(encounter.completed_groups, encounter.answers, since=since)
    for slug in slugs:
        steps = steps.completing(slug)
    return list(steps.completed_in_order)


def save_page(
    encounter_id: int,
    page: questionnaire.Page | questionnaire.Group,
    cleaned: Mapping[str, Any],
    language: str = "",
    *,
    session_key: str | None = None,
) -> PageResult:
    """Store one valid page (or a whole group), replacing its earlier answers and nothing else.

    An intake started under an older questionnaire version moves to the current one here: the
    newer version only adds questions, so its answers stay valid, and the patient is asked the
    new ones (CLINICAL.md, "Versions"). A submitted intake is never changed, so never moved.
    ``language`` is the one the patient is answering in: free text is shown marked with it.
    ``session_key`` is the patient's session, recorded (hashed) in the answer history.
    """
    now = timezone.now()
    with history.acting(history.patient(session_key), "save_page"), transaction.atomic():
        encounter = Encounter.objects.by_pk(encounter_id, lock=True)
        if encounter is None:
            raise Encounter.DoesNotExist(encounter_id)
        if encounter.is_submitted:
            return PageResult(encounter, already_submitted=True)
        previous = encounter.answers
        own = {q.link_id for q in page.questions}
        answers = {k: v for k, v in encounter.answers.items() if k not in own}
        answers.update(cleaned)
        encounter.answers = answers
        current = questionnaire.TWITCH_INTAKE.version
        older = encounter.questionnaire_version
        encounter.questionnaire_version = current
        encounter.completed_groups = _completed_pages(
            encounter, page, older if older != current else None
        )
        encounter.status = Status.IN_PROGRESS
        if language:
            encounter.language = language
        # The answers so far, assessed at every save: an emergency sign is acted on at once,
        # whichever page asked about it, not at submit.
        assessment = triage.assess(answers)
        is_emergency = assessment.is_emergency
        # Signs change only on a page that asks about them: other saves cost no history read.
        asks = own & triage.emergency_questions()
        if is_emergency and asks and _reports_a_new_sign(encounter.pk, previous, answers):
            _reopen_emergency(encounter)
        apply_provisional(encounter, assessment, now)
        if is_emergency:
            _queue_alert(encounter, now)
        encounter.save_fields(PAGE_FIELDS)
    return PageResult(encounter, is_emergency=is_emergency)


@dataclass
class SubmitResult:
    encounter: Encounter
    problems: list[validation.Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def submit(encounter_id: int, *, session_key: str | None = None) -> SubmitResult:
    """Validate the whole response, triage it and mark it submitted, all or nothing.

    Triage reads the answer history too: a sign saved earlier and taken back still makes it an
    emergency. A second call (double-tap, replay, Back then Submit) finds it submitted and
    changes nothing.
    """
    now = timezone.now()
    with history.acting(history.patient(session_key), "submit"), transaction.atomic():
        encounter = Encounter.objects.select_for_update().get(pk=encounter_id)
        if encounter.is_submitted:
            return SubmitResult(encounter)
        # Checked against the version it was answered under (a page save moves an intake to
        # the current one). An answer to a question that version does not ask (a content
        # version dropped it while the patient was part way through) is let go, not a page
        # they cannot leave.
        intake = questionnaire.stored_under(encounter.questionnaire_version)
        asked = {k: v for k, v in encounter.answers.items() if intake.has_question(k)}
        cleaned, problems = validation.validate(asked, intake)
        if problems:
            return SubmitResult(encounter, problems)
        earlier = history.earlier_answers(encounter.pk)
        assessment = triage.assess(cleaned, intake=intake, earlier=earlier)
        if assessment.is_emergency and encounter.emergency_reported_at is None:
            encounter.emergency_reported_at = now  # a sign stored other than by a page save
        encounter.answers = cleaned
        apply_assessment(encounter, assessment)
        encounter.answers_digest = answers_digest(cleaned)
        encounter.status = Status.SUBMITTED
        encounter.submitted_at = now
        if assessment.is_emergency:
            _queue_alert(encounter, now)
        encounter.save()
    return SubmitResult(encounter)


def create_submitted(
    *,
    patient_name: str,
    date_of_birth: date,
    answers: Mapping[str, Any],
    authored: datetime | None = None,
    visit_at: datetime | None = None,
    questionnaire_version: str | None = None,
) -> SubmitResult:
    """Store a complete response that arrived whole (a FHIR import) as a submitted encounter,
    answered under ``questionnaire_version`` (the current one when not given), which it keeps.

    The caller has validated it with :func:`validation.validate`; this re-checks, so that no
    path stores answers the web form would refuse.
    """
    intake = questionnaire.for_version(questionnaire_version)
    cleaned, problems = validation.validate(answers, intake)
    if problems:
        return SubmitResult(Encounter(), problems)
    now = timezone.now()
    assessment = triage.assess(cleaned, intake)
    with history.acting(None, "create_submitted"), transaction.atomic():
        encounter = Encounter(
            patient_name=patient_name,
            date_of_birth=date_of_birth,
            visit_at=visit_at or authored or now,
            answers=cleaned,
            completed_groups=list(Steps.of(()).all),
            status=Status.SUBMITTED,
            submitted_at=authored or now,
            answers_digest=answers_digest(cleaned),
            questionnaire_version=intake.version,
        )
        apply_assessment(encounter, assessment)
        emergency = assessment.is_emergency
        if emergency:
            encounter.alerted_at = encounter.emergency_reported_at = now
        encounter.save()
        if emergency:
            tasks.queue_emergency_alert(encounter.pk)
    return SubmitResult(encounter)


def create_encounter(encounter: Encounter, user: Any = None) -> Encounter:
    """Store a new encounter that staff entered (the admin's add form has validated it);
    ``user`` is who entered it, for the answer history.

    Its link is issued apart, by :func:`issue_link`, which the admin calls for those who may
    see one.
    """
    if encounter.pk is not None:
        raise ValueError("create_encounter stores new encounters only")
    with history.acting(history.staff(user), "create_encounter"):
        encounter.save()
    return encounter


def set_language(encounter_id: int, code: str) -> bool:
    """Remember the language the patient chose on their encounter, under the row lock.

    Not after submission: the intake was answered, and is shown marked, in the language it was
    sent in. Returns whether the language was stored.
    """
    with transaction.atomic():
        encounter = Encounter.objects.select_for_update().filter(pk=encounter_id).first()
        if encounter is None or encounter.is_submitted:
            return False
        if encounter.language != code:
            encounter.language = code
            encounter.save(update_fields=["language"])
    return True


def start_walk_in(
    *, patient_name: str, date_of_birth: date, visit_date: date, language: str = ""
) -> Encounter:
    """A walk-in patient's own encounter (self-start), bound to their browser by the caller.

    Its link is made only so that the session has one to be bound to: it is never shown.
    """
    visit = timezone.make_aware(datetime.combine(visit_date, time(9, 0)))
    encounter = Encounter(
        patient_name=patient_name, date_of_birth=date_of_birth, visit_at=visit, language=language
    )
    encounter.issue_link()
    with history.acting(None, "start_walk_in"):
        encounter.save()
    return encounter


# --- Bringing stored results in line with the rules ------------------------------------------

#: What an assessment stores on an encounter, and what a retriage compares.
RESULT_FIELDS = ("level", "flags", "flag_count", "red_flag_count")

#: What a page save writes.
PAGE_FIELDS = (
    "answers",
    "questionnaire_version",
    "completed_groups",
    "status",
    "alerted_at",
    "alert_sent_at",
    "emergency_reported_at",
    *ACKNOWLEDGEMENT_FIELDS,
    *RESULT_FIELDS,
    "language",
    "updated_at",
)


def _result(encounter: Encounter) -> tuple[Any, ...]:
    return tuple(getattr(encounter, name) for name in RESULT_FIELDS)


@dataclass(frozen=True)
class Retriaged:
    """One encounter whose stored level or flags disagreed with the rules."""

    encounter_id: int
    old_level: str | None
    new_level: str | None
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass
class RetriageReport:
    checked: int = 0
    changed: list[Retriaged] = field(default_factory=list)


def _assess_with_history(encounter: Encounter) -> triage.Assessment:
    """The encounter's assessment, with the history of its answers where a sign was reported
    (only there can a withdrawn sign be; the others need no query)."""
    earlier = history.earlier_answers(encounter.pk) if encounter.emergency_reported_at else None
    intake = questionnaire.stored_under(encounter.questionnaire_version)
    return triage.assess(encounter.answers, intake=intake, earlier=earlier)


def retriage(*, dry_run: bool = False) -> RetriageReport:
    """Recompute the level and flags of every submitted or reviewed encounter from its answers
    and store those that changed (none when ``dry_run``), each under its row lock.

    The queue sorts by the stored result, computed once at submit; run this when the rules
    change so that the queue agrees with the summary, which applies the rules of the day.
    """
    report = RetriageReport()
    submitted = Encounter.objects.filter(status__in=[Status.SUBMITTED, Status.REVIEWED])
    candidates = submitted.order_by("pk").only(
        "pk", "answers", "questionnaire_version", "emergency_reported_at", *RESULT_FIELDS
    )
    for encounter in candidates.iterator(chunk_size=500):
        report.checked += 1
        before = _result(encounter)
        apply_assessment(encounter, _assess_with_history(encounter))
        if _result(encounter) == before:
            continue
        if not dry_run:
            # Recompute on the locked row: it may have changed since it was read.
            with transaction.atomic():
                locked = submitted.select_for_update().filter(pk=encounter.pk).order_by().first()
                if locked is None:  # deleted, or no longer submitted
                    continue
                encounter = locked
                before = _result(encounter)
                assessment = _assess_with_history(encounter)
                apply_assessment(encounter, assessment)
                if _result(encounter) == before:
                    continue
                if assessment.is_emergency:
                    # Newer rules make it an emergency: the clinic is told, as at a save.
                    now = timezone.now()
                    encounter.emergency_reported_at = encounter.emergency_reported_at or now
                    _queue_alert(encounter, now)
                encounter.save(
                    update_fields=[
                        *RESULT_FIELDS,
                        "emergency_reported_at",
                        "alerted_at",
                        "updated_at",
                    ]
                )
        old_level, old_flags, *_counts = before
        report.changed.append(
            Retriaged(
                encounter_id=encounter.pk,
                old_level=old_level,
                new_level=encounter.level,
                added=tuple(code for code in encounter.flags if code not in old_flags),
                removed=tuple(code for code in old_flags if code not in encounter.flags),
            )
        )
    return report


def mark_reviewed(encounter_id: int, user: Any) -> Encounter:
    with transaction.atomic():
        encounter = Encounter.objects.select_for_update().get(pk=encounter_id)
        if encounter.status == Status.SUBMITTED:
            encounter.status = Status.REVIEWED
            encounter.reviewed_at = timezone.now()
            encounter.reviewed_by = user
            encounter.save(update_fields=["status", "reviewed_at", "reviewed_by", "updated_at"])
    return encounter


# --- The date of birth at the link ----------------------------------------------------------


class BirthDate(Enum):
    MATCHED = "matched"
    WRONG = "wrong"
    #: Locked after too many wrong dates, expired, or no such link: the patient sees one page.
    UNUSABLE = "unusable"


@dataclass(frozen=True)
class BirthDateCheck:
    outcome: BirthDate
    #: The encounter as its locked row had it, when the date matched.
    encounter: Encounter | None = None
    #: Wrong dates still allowed before the link locks; 0 when this one locked it.
    tries_left: int = 0
    #: Until when the link is locked, when this try locked it or found it locked.
    locked_until: datetime | None = None


def check_birth_date(
    token_hash: str, date_of_birth: date, now: datetime, client_address: str | None = None
) -> BirthDateCheck:
    """One guess at the date of birth of a link's patient, counted before the next is looked at.

    The row lock comes before the link's lock is read: parallel guesses queue on the row, so
    at most ``DOB_ATTEMPTS`` wrong dates are compared per lock period, and none at all while
    locked, the right one included (a locked link is locked for everyone, or a guesser who
    got lucky on guess 6 would be let in). Each lock lasts twice the one before, up to a day,
    until the right date is given (``lockout.period``).
    """
    attempts = app_settings.DOB_ATTEMPTS
    with transaction.atomic():
        encounter = (
            Encounter.objects.select_for_update().filter(token_hash=token_hash).order_by().first()
        )
        if encounter is None or not encounter.link_usable(now):
            # A lock is worth waiting for only on a link that has not expired as well.
            live = encounter is not None and bool(
                encounter.token_expires_at and encounter.token_expires_at > now
            )
            locked = encounter.locked_until if live and encounter is not None else None
            return BirthDateCheck(BirthDate.UNUSABLE, locked_until=locked)
        if encounter.date_of_birth == date_of_birth:
            if encounter.dob_failures or encounter.dob_lockouts:
                encounter.dob_failures = 0
                encounter.dob_lockouts = 0
                encounter.save(update_fields=["dob_failures", "dob_lockouts"])
            # Whoever holds the link and the date of birth is in: every such opening is logged
            # with its address, so a second person opening the intake shows in the summary.
            record_access(encounter, None, AccessEvent.Action.PATIENT, client_address)
            return BirthDateCheck(BirthDate.MATCHED, encounter)
        failures = encounter.dob_failures + 1
        encounter.dob_failures = failures
        if failures >= attempts:
            encounter.dob_failures = 0  # a fresh budget once the lock ends
            encounter.locked_until = now + lockout.period(encounter.dob_lockouts)
            encounter.dob_lockouts += 1
        encounter.save(update_fields=["dob_failures", "locked_until", "dob_lockouts"])
    return BirthDateCheck(
        BirthDate.WRONG, tries_left=max(attempts - failures, 0), locked_until=encounter.locked_until
    )


# --- Patient links and the patient's identity (staff writes) --------------------------------


class LinkRefused(StrEnum):
    """Why a new link may not be shown to staff (printed in a letter)."""

    #: The intake is sent: nothing is left to answer.
    SUBMITTED = "submitted"
    #: The patient has started answering: whoever sees a link, and knows the date of birth (the
    #: front desk does), could open the intake and read or change those answers.
    STARTED = "started"


def link_refusal(encounter: Encounter) -> LinkRefused | None:
    """Why a link for ``encounter`` may not be shown on screen, or None when it may.

    Once there are answers, a new link goes only to the patient's own contact on record.
    """
    if encounter.is_submitted:
        return LinkRefused.SUBMITTED
    if encounter.answers or encounter.completed_groups:
        return LinkRefused.STARTED
    return None


@dataclass
class LinkResult:
    encounter: Encounter
    #: The new link's token, to print this once in the letter; "" when refused.
    token: str = ""
    refused: LinkRefused | str = ""


def issue_link(encounter_id: int, user: Any, client_address: str | None) -> LinkResult:
    """A new link (revoking the one before) for the printed letter, or why not; a link sent by
    email or text is :func:`send_invitation`'s.

    Checked and issued under the row lock: a patient saving their first page at the same moment
    is either before (refused) or after (their old link is dead, they use the new one). Every
    link issued is an access event: a link opens the intake.
    """
    with transaction.atomic():
        encounter = Encounter.objects.select_for_update().get(pk=encounter_id)
        refused = link_refusal(encounter)
        if refused is not None:
            return LinkResult(encounter, refused=refused)
        token = encounter.issue_link()
        # The nonce too: a reminder then carries this link, the one printed on the letter.
        encounter.save(update_fields=[*_LINK_FIELDS, "updated_at"])
        record_access(encounter, user, AccessEvent.Action.LINK, client_address)
    return LinkResult(encounter, token=token)


def save_patient_details(
    encounter: Encounter,
    fields: Iterable[str],
    user: Any,
    client_address: str | None,
    *,
    may_change_identity: bool,
) -> list[str]:
    """Save the staff-edited ``fields`` of ``encounter``, and only those, under the row lock.

    Writing only those fields means a save never puts back answers or a status the patient
    saved while the form was open. After submission the identity changes only where
    ``may_change_identity`` (superusers), and each such change is an access event, for every
    summary to say so. Returns the identity fields left as they were because the intake is
    submitted (it may have been submitted while the form was open).
    """
    fields = list(fields)
    kept: list[str] = []
    with history.acting(history.staff(user), "save_patient_details"), transaction.atomic():
        current = Encounter.objects.select_for_update().get(pk=encounter.pk)
        if current.is_submitted:
            changed = [
                name
                for name in fields
                if name in IDENTITY_FIELDS and getattr(current, name) != getattr(encounter, name)
            ]
            if changed and not may_change_identity:
                kept = changed
                for name in kept:
                    setattr(encounter, name, getattr(current, name))
                fields = [name for name in fields if name not in kept]
            elif changed:
                record_access(current, user, AccessEvent.Action.IDENTITY, client_address)
        if "date_of_birth" in fields and encounter.date_of_birth != current.date_of_birth:
            # The wrong tries were made against a date the clinic has now corrected (the
            # patient who called to say so): the link opens again, its next lock a short one.
            encounter.dob_failures, encounter.dob_lockouts, encounter.locked_until = 0, 0, None
            fields += ["dob_failures", "dob_lockouts", "locked_until"]
        if fields:
            encounter.save(update_fields=[*fields, "updated_at"])
    return kept


# --- Acknowledging an emergency (clinician writes) -------------------------------------------


class AcknowledgeRefused(StrEnum):
    """Why an acknowledgement was not stored."""

    #: The encounter's stored level is not an emergency: there is nothing to acknowledge.
    NOT_EMERGENCY = "not_emergency"
    #: Someone acknowledged it first (two clinicians, a double tap): theirs stands.
    ALREADY = "already"


@dataclass
class AcknowledgeResult:
    encounter: Encounter
    refused: AcknowledgeRefused | None = None


def acknowledge_emergency(
    encounter_id: int, user: Any, kind: str, note: str, client_address: str | None
) -> AcknowledgeResult:
    """Record that a clinician dealt with an emergency, submitted or not: how, a note, who and
    when, under the row lock. The level never changes; the emergency leaves the banner's count.

    The first acknowledgement stands (a second is refused, not written over). The caller has
    validated ``kind`` and ``note`` (one of :class:`models.Acknowledgement`, one-line-safe
    text); the note is health data and is never logged. Each one is an access event: the
    clinician read the intake to act on it.
    """
    with transaction.atomic():
        encounter = Encounter.objects.select_for_update().get(pk=encounter_id)
        if not encounter.is_emergency:
            return AcknowledgeResult(encounter, AcknowledgeRefused.NOT_EMERGENCY)
        if encounter.emergency_acknowledged_at is not None:
            return AcknowledgeResult(encounter, AcknowledgeRefused.ALREADY)
        encounter.emergency_acknowledged_at = timezone.now()
        encounter.emergency_acknowledged_by = user
        encounter.emergency_acknowledgement = kind
        encounter.emergency_acknowledgement_note = note
        encounter.save(
            update_fields=[
                "emergency_acknowledged_at",
                "emergency_acknowledged_by",
                "emergency_acknowledgement",
                "emergency_acknowledgement_note",
                "updated_at",
            ]
        )
        record_access(encounter, user, AccessEvent.Action.ACKNOWLEDGE, client_address)
    logger.info("Emergency on encounter %s acknowledged by user %s", encounter_id, user.pk)
    return AcknowledgeResult(encounter)


# --- Invitations and reminders (front desk asks; the queue sends) -----------------------------
# A message is a row (the delivery record) and a job on the queue, written together in the
# front desk's transaction. The job sends it when due, outside the clinic's quiet hours, and
# records every try; the row is what front desk sees. The link is never shown to staff: it is
# made again from the encounter's nonce when the message is sent (``models.link_token``).


class InviteRefused(StrEnum):
    """Why no invitation was queued."""

    #: The intake is sent: nothing is left to answer.
    SUBMITTED = "submitted"
    #: No channel chosen, a printed letter, or no address or number for the chosen channel.
    NO_CONTACT = "no_contact"
    #: Text messages chosen, and the clinic has no ``SMS_BACKEND``.
    NO_SMS = "no_sms"
    #: The visit is over: a message would arrive too late, and the worker would skip it.
    VISIT_PASSED = "visit_passed"


@dataclass
class InviteResult:
    encounter: Encounter
    message: PatientMessage | None = None
    refused: InviteRefused | str = ""


def contact_for(encounter: Encounter, channel: str) -> str:
    """The address or E.164 number a message by ``channel`` goes to; "" when there is none."""
    if channel == Channel.EMAIL:
        return encounter.email
    if channel == Channel.SMS and encounter.mobile:
        return str(encounter.mobile.as_e164) if encounter.mobile.is_valid() else ""
    return ""


def invite_refusal(encounter: Encounter) -> InviteRefused | None:
    """Why an invitation cannot be sent to ``encounter`` now, or None when it can."""
    if encounter.is_submitted:
        return InviteRefused.SUBMITTED
    channel = encounter.preferred_channel
    if channel not in (Channel.EMAIL, Channel.SMS) or not contact_for(encounter, channel):
        return InviteRefused.NO_CONTACT
    if channel == Channel.SMS and not app_settings.SMS_BACKEND:
        return InviteRefused.NO_SMS
    if encounter.visit_at <= timezone.now():
        return InviteRefused.VISIT_PASSED
    return None


def next_sending_time(moment: datetime) -> datetime:
    """``moment``, or the end of the quiet hours (``QUIET_HOURS``, the clinic's time zone) it
    falls in: nobody is woken by a reminder."""
    start, end = app_settings.QUIET_HOURS
    local = timezone.localtime(moment)
    clock = local.time()
    if start == end:
        return moment
    if start > end:  # across midnight, e.g. 21:00 to 08:00
        if clock >= start:
            day = local.date() + timedelta(days=1)
        elif clock < end:
            day = local.date()
        else:
            return moment
    elif start <= clock < end:
        day = local.date()
    else:
        return moment
    return timezone.make_aware(datetime.combine(day, end))


def reminder_times(visit_at: datetime, first: datetime) -> list[datetime]:
    """When the reminders go (``REMINDERS`` before the visit), after the first message at
    ``first``: those already past or on the day of an earlier message are left out (a visit
    tomorrow gets its invitation now and no reminder), at most one message a day."""
    days = {timezone.localdate(first)}
    times: list[datetime] = []
    for before in sorted(app_settings.REMINDERS, reverse=True):
        due = next_sending_time(visit_at - before)
        if due <= first or due >= visit_at or timezone.localdate(due) in days:
            continue
        days.add(timezone.localdate(due))
        times.append(due)
    return times


def send_invitation(
    encounter_id: int, user: Any, client_address: str | None, *, now: datetime | None = None
) -> InviteResult:
    """Make a new link (revoking the one before) and queue its invitation and reminders by the
    patient's chosen channel, or say why not. The link reaches only the patient's own contact,
    so this is allowed once they have started answering too (they resume with it).

    Under the row lock: a new invitation replaces the messages still waiting from an earlier
    one, so a patient never gets two sets of reminders. A link made is an access event.
    """
    now = now or timezone.now()
    with transaction.atomic():
        encounter = Encounter.objects.select_for_update().get(pk=encounter_id)
        refused = invite_refusal(encounter)
        if refused is not None:
            return InviteResult(encounter, refused=refused)
        encounter.issue_link(now)
        encounter.save(update_fields=[*_LINK_FIELDS, "updated_at"])
        if user is not None:  # staff asked for it (a command without a user: no person did)
            record_access(encounter, user, AccessEvent.Action.LINK, client_address)
        encounter.messages.filter(status=PatientMessage.Status.QUEUED).update(
            status=PatientMessage.Status.SKIPPED
        )
        first = next_sending_time(now)
        invitation = _queue_message(encounter, PatientMessage.Kind.INVITATION, first, user)
        for due in reminder_times(encounter.visit_at, first):
            _queue_message(encounter, PatientMessage.Kind.REMINDER, due, user)
    return InviteResult(encounter, message=invitation)


#: The details a plan of messages rests on: when one changes, the messages still waiting follow.
PLAN_FIELDS = frozenset({"preferred_channel", "email", "mobile", "visit_at", "reminders_off"})


def replan_messages(encounter_id: int, user: Any, *, now: datetime | None = None) -> None:
    """After the channel, the contact, the visit or "no reminders" changed: the messages still
    waiting are dropped and planned again from the details as they are now, so a reminder never
    goes to the address given up for a letter, nor a week before a visit that moved.

    Nothing is planned where nothing was (no invitation sent or waiting), and nothing by a
    channel that cannot send (a letter, no address): those messages are dropped. The link is
    not renewed: the patient keeps the one they have.
    """
    now = now or timezone.now()
    with transaction.atomic():
        encounter = Encounter.objects.select_for_update().get(pk=encounter_id)
        waiting = encounter.messages.filter(status=PatientMessage.Status.QUEUED)
        kinds = set(waiting.values_list("kind", flat=True))
        if not kinds:
            return
        waiting.update(status=PatientMessage.Status.SKIPPED)
        if invite_refusal(encounter) is not None:
            return
        first = next_sending_time(now)
        if PatientMessage.Kind.INVITATION in kinds:
            _queue_message(encounter, PatientMessage.Kind.INVITATION, first, user)
        if not encounter.reminders_off:
            for due in reminder_times(encounter.visit_at, first):
                _queue_message(encounter, PatientMessage.Kind.REMINDER, due, user)


#: What a new link changes on the encounter.
_LINK_FIELDS = (
    "link_nonce",
    "token_hash",
    "token_expires_at",
    "dob_failures",
    "locked_until",
    "dob_lockouts",
)


def _queue_message(encounter: Encounter, kind: str, due: datetime, user: Any) -> PatientMessage:
    message = PatientMessage.objects.create(
        encounter=encounter,
        kind=kind,
        channel=encounter.preferred_channel,
        due_at=due,
        created_by=user if getattr(user, "pk", None) else None,
    )
    tasks.queue_patient_message(message.pk, encounter.pk, due)
    return message


def deliver_patient_message(message_id: int) -> None:
    """Send one message if it is still wanted, and record how it went. Run by the queue's
    worker, which retries while this raises.

    Skipped for good once the intake is submitted, a reminder once reminders are off or when a
    message went the same day; put back to the end of the quiet hours when run inside them.
    One that fails for good (the provider says so, or ``MESSAGE_ATTEMPTS`` tries) is marked
    failed for the queue to show, and raises no more. Sent first, then marked sent, like the
    alert: the job's lock keeps two from running at once, so only a worker dying between the
    two could send it twice. Neither the body (it holds the link) nor the contact is logged.
    """
    message = PatientMessage.objects.select_related("encounter").filter(pk=message_id).first()
    if message is None or message.status != PatientMessage.Status.QUEUED:
        return
    encounter, now = message.encounter, timezone.now()
    if _not_needed(message, now):
        _record_message(message, status=PatientMessage.Status.SKIPPED)
        return
    later = next_sending_time(now)
    if later > now:
        PatientMessage.objects.filter(pk=message.pk).update(due_at=later)
        tasks.queue_patient_message(message.pk, encounter.pk, later)
        return
    contact = contact_for(encounter, message.channel)
    if not contact:
        _record_message(
            message, status=PatientMessage.Status.FAILED, error=NO_CONTACT, attempt=True
        )
        return
    token = encounter.current_link(now) or _renew_link(encounter.pk, message.created_by, now)
    try:
        _send_patient_message(message, encounter, contact, token)
    except Exception as error:
        attempts = message.attempts + 1
        final = _is_permanent(error) or attempts >= app_settings.MESSAGE_ATTEMPTS
        described = _describe_delivery_error(error)
        _record_message(
            message,
            status=PatientMessage.Status.FAILED if final else PatientMessage.Status.QUEUED,
            error=described,
            attempt=True,
        )
        if final:
            logger.warning(
                "Message %s for encounter %s not delivered after %s tries",
                message.pk,
                encounter.pk,
                attempts,
            )
            return
        # The worker logs what it retries: our words only, never the provider's exception,
        # whose text and traceback may hold the address, the number or the message (the link).
        raise MessageNotSent(f"message {message.pk}: {described}") from None
    _record_message(message, status=PatientMessage.Status.SENT, sent_at=now, attempt=True)


class MessageNotSent(Exception):
    """A message to the patient failed and will be tried again; says only what was recorded."""


def _describe_delivery_error(error: Exception) -> str:
    """What the delivery record keeps of a failure: the error's class and the mail server's
    codes, or our text-message backends' own words. Never the provider's text, which may quote
    the address or number (rewritten, so no search and replace would find it) or the message,
    which holds the link."""
    from .sms import SMSError

    if isinstance(error, SMSError) and type(error) is SMSError:
        return f"{type(error).__name__}: {error}"[:255]
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _reply in error.recipients.values()})
        return f"{type(error).__name__}: {', '.join(map(str, codes))}"[:255]
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__}: {error.smtp_code}"
    return type(error).__name__


def _is_permanent(error: Exception) -> bool:
    """Trying again cannot help: the provider said so, or the mail server refused the address
    for good (a 5xx reply)."""
    if getattr(error, "permanent", False):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _reply in error.recipients.values())
    return False


#: Recorded when the chosen channel has no address or number on record any more.
NO_CONTACT = "No address or number on record for this channel."


def _not_needed(message: PatientMessage, now: datetime) -> bool:
    encounter = message.encounter
    if encounter.is_submitted or encounter.visit_at <= now:
        return True
    if message.kind != PatientMessage.Kind.REMINDER:
        return False
    if encounter.reminders_off:
        return True
    today = timezone.localdate(now)
    sent = encounter.messages.filter(status=PatientMessage.Status.SENT).values_list(
        "sent_at", flat=True
    )
    return any(at is not None and timezone.localdate(at) == today for at in sent)


def _record_message(
    message: PatientMessage,
    *,
    status: str,
    error: str = "",
    sent_at: datetime | None = None,
    attempt: bool = False,
) -> None:
    fields: dict[str, Any] = {"status": status, "last_error": error[:255]}
    if attempt:
        fields["attempts"] = F("attempts") + 1
    if sent_at is not None:
        fields["sent_at"] = sent_at
    PatientMessage.objects.filter(pk=message.pk, status=PatientMessage.Status.QUEUED).update(
        **fields
    )


def _renew_link(encounter_id: int, user: Any, now: datetime) -> str:
    """A new link for a message, when the one the patient holds has expired (or was made
    under another ``SECRET_KEY``); an access event when staff asked for the message."""
    with transaction.atomic():
        encounter = Encounter.objects.select_for_update().get(pk=encounter_id)
        token = encounter.current_link(now)
        if token is not None:  # another job renewed it first
            return token
        token = encounter.issue_link(now)
        encounter.save(update_fields=[*_LINK_FIELDS, "updated_at"])
        if user is not None:
            record_access(encounter, user, AccessEvent.Action.LINK, None)
    return token


def patient_link(token: str) -> str:
    """The full link in a message or letter, from ``SITE_URL`` (never the request's host)."""
    return app_settings.SITE_URL + reverse("twitch_intake:link", args=[token])


def message_context(encounter: Encounter, token: str) -> dict[str, Any]:
    """What every message and letter says: who, when, what, how long, the link, and whom to
    call; nothing about the patient's health. Rendered in the patient's language."""
    visit = timezone.localtime(encounter.visit_at)
    return {
        "clinic_name": app_settings.CLINIC_NAME,
        "clinic_phone": app_settings.CLINIC_PHONE,
        "emergency_number": app_settings.EMERGENCY_NUMBER,
        "visit_date": date_format(visit, "DATE_FORMAT"),
        "visit_time": time_format(visit, "TIME_FORMAT"),
        "about_minutes": ABOUT_MINUTES,
        "link": patient_link(token),
    }


#: About how long the intake takes, as messages tell the patient.
ABOUT_MINUTES = 10


def patient_language(encounter: Encounter) -> str:
    return encounter.language or settings.LANGUAGE_CODE


def render_patient_message(
    message: PatientMessage, encounter: Encounter, token: str
) -> tuple[str, str]:
    """The subject (email only) and text of ``message``, in the patient's language."""
    base = f"twitch_intake/messages/{message.kind}"
    with override(patient_language(encounter)):
        context = message_context(encounter, token)
        if message.channel == Channel.SMS:
            return "", render_to_string(f"{base}_sms.txt", context).strip()
        subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
        return subject, render_to_string(f"{base}_email.txt", context)


def _send_patient_message(
    message: PatientMessage, encounter: Encounter, contact: str, token: str
) -> None:
    subject, body = render_patient_message(message, encounter, token)
    if message.channel == Channel.SMS:
        sms.send_sms(contact, body)
    else:
        send_mail(subject, body, None, [contact])


def undelivered() -> Q:
    """Encounters with a message that failed for good and none delivered since: the patient
    may not have their link, so staff phone them."""
    delivered_since = PatientMessage.objects.filter(
        encounter=OuterRef("encounter"),
        status=PatientMessage.Status.SENT,
        created_at__gt=OuterRef("created_at"),
    )
    failed = PatientMessage.objects.filter(
        encounter=OuterRef("pk"), status=PatientMessage.Status.FAILED
    ).filter(~Exists(delivered_since))
    # Once the intake is sent, or the visit is over, there is nobody to phone about a link.
    waiting = Q(status__in=[Status.INVITED, Status.IN_PROGRESS], visit_at__gt=timezone.now())
    return Q(Exists(failed)) & waiting


@dataclass
class BulkInvitations:
    """What a bulk invitation did, by encounter id."""

    invited: list[int] = field(default_factory=list)
    #: Invited before (a message exists): left alone, never sent twice.
    already: list[int] = field(default_factory=list)
    #: No contact details, a letter chosen, no text messages here, or submitted.
    refused: list[int] = field(default_factory=list)


def day_schedule(day: date) -> Any:
    """The encounters whose visit falls on ``day`` in the clinic's time zone."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return Encounter.objects.filter(visit_at__gte=start, visit_at__lt=start + timedelta(days=1))


def invite_all(
    encounter_ids: Iterable[int],
    user: Any,
    client_address: str | None = None,
    progress: Any = None,
) -> BulkInvitations:
    """Invite each encounter that has contact details and no invitation yet, one transaction
    each (one refused never undoes the others); ``progress(done, total)`` after each."""
    ids = list(encounter_ids)
    report = BulkInvitations()
    invited_before = set(
        PatientMessage.objects.filter(
            encounter_id__in=ids, kind=PatientMessage.Kind.INVITATION
        ).values_list("encounter_id", flat=True)
    )
    for done, encounter_id in enumerate(ids, 1):
        if encounter_id in invited_before:
            report.already.append(encounter_id)
        elif send_invitation(encounter_id, user, client_address).refused:
            report.refused.append(encounter_id)
        else:
            report.invited.append(encounter_id)
        if progress is not None:
            progress(done, len(ids))
    return report
