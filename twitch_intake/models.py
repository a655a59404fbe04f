"""What is stored: one Encounter per patient visit, and an append-only log of who looked.

Answers are one JSONB document per encounter, keyed by the questionnaire's linkIds, rather than
a row per answer or a column per question. The questionnaire is fixed and versioned in code
(``questionnaire.py``), a page save is then one UPDATE of one row, reading a whole response is
one row (so the query count never grows with the answers), and FHIR, triage and the summary all
take the same mapping. The database still guards the shape it can see (a JSON object, known
levels and flags, results present once submitted); the questionnaire checks the rest.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, Func, Q, Value
from django.db.models.lookups import Exact, GreaterThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import questionnaire
from .conf import app_settings
from .triage import FLAG_CODES, Level


def hash_token(token: str) -> str:
    """Links are stored only as this hash: a database leak reveals no working link."""
    return hashlib.sha256(token.encode()).hexdigest()


class EncounterQuerySet(models.QuerySet["Encounter"]):
    def with_token(self, token: str) -> EncounterQuerySet:
        return self.filter(token_hash=hash_token(token))


class Status(models.TextChoices):
    INVITED = "invited", _("Invited")
    IN_PROGRESS = "in_progress", _("In progress")
    SUBMITTED = "submitted", _("Submitted")
    REVIEWED = "reviewed", _("Reviewed")


class LevelChoice(models.TextChoices):
    EMERGENCY = Level.EMERGENCY.value, _("Emergency")
    PRIORITY = Level.PRIORITY.value, _("Priority")
    ROUTINE = Level.ROUTINE.value, _("Routine")


class Encounter(models.Model):
    Status = Status
    Level = LevelChoice

    patient_name = models.CharField(_("patient name"), max_length=200)
    date_of_birth = models.DateField(_("date of birth"))
    record_number = models.CharField(
        _("record number"), max_length=64, blank=True, help_text=_("The clinic's own patient number, if any.")
    )
    visit_at = models.DateTimeField(_("visit"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.INVITED
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    questionnaire_version = models.CharField(
        _("questionnaire version"), max_length=16, default=questionnaire.VERSION
    )
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    completed_groups = ArrayField(
        models.CharField(max_length=32), default=list, blank=True, verbose_name=_("pages completed")
    )
    language = models.CharField(_("patient's language"), max_length=10, blank=True)

    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    token_expires_at = models.DateTimeField(_("link expires"), null=True, blank=True, editable=False)
    dob_failures = models.PositiveSmallIntegerField(default=0, editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    alerted_at = models.DateTimeField(_("clinic alerted"), null=True, blank=True, editable=False)
    # The alert's delivery, written by the queue's task (tasks.py): queued at ``alerted_at``,
    # accepted by the mail server at ``alert_sent_at``; the tries and the last refusal in between
    # (an error class and the server's reply, never patient data) are for the admin to show.
    alert_sent_at = models.DateTimeField(
        _("alert delivered"), null=True, blank=True, editable=False
    )
    # Database defaults too, so rows written in SQL (benchmarks, other tools) need not name them.
    alert_attempts = models.PositiveIntegerField(
        _("alert attempts"), default=0, db_default=0, editable=False
    )
    alert_last_error = models.CharField(
        _("last alert error"), max_length=255, blank=True, default="", db_default="", editable=False
    )

    # NULL, not "", until assessed: the queue sorts unassessed encounters last with NULLS LAST.
    level = models.CharField(  # noqa: DJ001
        _("level"), max_length=16, choices=LevelChoice.choices, null=True, blank=True, db_index=True
    )
    flags = ArrayField(models.CharField(max_length=32), default=list, blank=True, verbose_name=_("flags"))
    flag_count = models.PositiveSmallIntegerField(_("flag count"), default=0)
    answers_digest = models.CharField(max_length=64, blank=True, editable=False)

    objects = EncounterQuerySet.as_manager()

    class Meta:
        verbose_name = _("encounter")
        verbose_name_plural = _("encounters")
        # The clinician's queue: emergency, priority, routine (not yet submitted last); unreviewed
        # first; most flags; soonest visit.
        ordering = [
            F("level").asc(nulls_last=True),
            "-status",  # submitted (unreviewed) sorts before reviewed
            "-flag_count",
            "visit_at",
        ]
        permissions = [
            ("view_summary", _("Can view a patient's answers and summary")),
            ("review_encounter", _("Can mark an encounter reviewed")),
            ("issue_link", _("Can make a patient's intake link")),
        ]
        indexes = [
            GinIndex(fields=["flags"], name="encounter_flags_gin"),
            models.Index(
                F("level"),
                F("flag_count").desc(),
                F("visit_at"),
                condition=Q(status=Status.SUBMITTED),
                name="encounter_unreviewed_queue",
            ),
            models.Index(fields=["visit_at"], name="encounter_visit_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Exact(
                    Func(F("answers"), function="jsonb_typeof", output_field=models.CharField()),
                    Value("object"),
                ),
                name="encounter_answers_is_object",
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="encounter_status_known"
            ),
            models.CheckConstraint(
                condition=Q(level__isnull=True) | Q(level__in=LevelChoice.values),
                name="encounter_level_known",
            ),
            models.CheckConstraint(
                condition=Q(flags__contained_by=list(FLAG_CODES)), name="encounter_flags_known"
            ),
            models.CheckConstraint(
                condition=Exact(
                    F("flag_count"),
                    Func(F("flags"), function="cardinality", output_field=models.IntegerField()),
                ),
                name="encounter_flag_count_matches",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[Status.INVITED, Status.IN_PROGRESS])
                | Q(level__isnull=False, submitted_at__isnull=False),
                name="encounter_submitted_has_result",
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.REVIEWED) | Q(reviewed_at__isnull=False),
                name="encounter_reviewed_has_time",
            ),
            models.CheckConstraint(
                condition=Q(token_hash__isnull=True) | Q(token_expires_at__isnull=False),
                name="encounter_link_expires",
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(F("date_of_birth"), Value("1900-01-01")),
                name="encounter_date_of_birth_plausible",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient_name} ({self.visit_at:%Y-%m-%d})"

    @property
    def is_submitted(self) -> bool:
        return self.status in {self.Status.SUBMITTED, self.Status.REVIEWED}

    def issue_link(self, now: datetime | None = None) -> str:
        """Make a new link token (revoking any earlier one); the caller saves and shows it once."""
        now = now or timezone.now()
        token = secrets.token_urlsafe(32)  # 256 bits
        self.token_hash = hash_token(token)
        self.token_expires_at = now + app_settings.LINK_LIFETIME
        self.dob_failures = 0
        self.locked_until = None
        return token

    def link_usable(self, now: datetime) -> bool:
        return bool(
            self.token_expires_at
            and self.token_expires_at > now
            and not (self.locked_until and self.locked_until > now)
        )


class AccessEvent(models.Model):
    """One look at a patient's answers or summary. Append-only, enforced by the database."""

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed the summary")
        PRINT = "print", _("Opened the print view")
        TEXT = "text", _("Opened the text view")
        EXPORT = "export", _("Exported FHIR")

    encounter = models.ForeignKey(
        Encounter, verbose_name=_("encounter"), on_delete=models.PROTECT, related_name="access_events"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    client_address = models.GenericIPAddressField(_("client address"), null=True, blank=True)

    class Meta:
        verbose_name = _("access event")
        verbose_name_plural = _("access events")
        ordering = ["-at"]
        triggers = [
            pgtrigger.Protect(
                name="access_event_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.encounter_id} by {self.user_id} at {self.at:%Y-%m-%d %H:%M}"
