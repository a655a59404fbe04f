"""What is stored: one Encounter per patient visit, and an append-only log of who looked.

Answers are one JSONB document per encounter, keyed by the questionnaire's linkIds, rather than
a row per answer or a column per question. The questionnaire is fixed and versioned in code
(``questionnaire.py``), a page save is then one UPDATE of one row, reading a whole response is
one row (so the query count never grows with the answers), and FHIR, triage and the summary all
take the same mapping. The database still guards the shape it can see (a JSON object, known
levels, a flag count that matches the flags, results present once submitted); the questionnaire
checks the rest. Flag codes are not pinned here: they are the rules' (``triage.flag_codes()``),
written only by ``services``, and a new rule must not need a migration. Nor is the questionnaire
version: new rows take ``questionnaire.current_version()`` when they are made.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pghistory
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models, router
from django.db.models import Case, F, Func, OrderBy, Q, Value, When
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from . import display, questionnaire
from .conf import app_settings
from .triage import Level
from .validators import validate_one_line


def hash_token(token: str) -> str:
    """Links are stored only as this hash: a database leak reveals no working link."""
    return hashlib.sha256(token.encode()).hexdigest()


def link_token(nonce: str) -> str:
    """The link made from a stored nonce and the site's ``SECRET_KEY`` (Django's password-reset
    tokens are made the same way), so that the queue's worker can send a reminder with the link
    the patient already has instead of revoking it. The database alone (nonce and hash) still
    reveals no working link; a new ``SECRET_KEY`` makes new links at the next message."""
    digest = salted_hmac("twitch_intake.link", nonce, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --- Plausible dates ------------------------------------------------------------------------
# One typo (a visit in year 9999, which is year 10000 in UTC west of Greenwich) stores in
# PostgreSQL but cannot be read back into Python, and every queue page listing it fails. The
# database holds fixed bounds on every row; where a person types a date, the model holds it to
# today as well. Forms and the FHIR import read the same rule from here.

#: The earliest date of birth taken anywhere; the latest is today.
EARLIEST_BIRTH = date(1900, 1, 1)
#: Fixed bounds on every stored visit (the database's check constraints).
EARLIEST_VISIT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_VISIT = datetime(2100, 1, 1, tzinfo=UTC)
#: A visit typed in or changed in the admin: a late entry up to a year back, a booking up to
#: three years ahead. Wider than either is a typo in the year.
VISIT_BACK = timedelta(days=366)
VISIT_AHEAD = timedelta(days=3 * 365 + 1)


def birth_date_plausible(born: date) -> bool:
    return EARLIEST_BIRTH <= born <= timezone.localdate()


def validate_date_of_birth(born: date) -> None:
    if not birth_date_plausible(born):
        raise ValidationError(
            _("Enter a date of birth from %(earliest)s to today."),
            code="implausible",
            params={"earliest": EARLIEST_BIRTH.isoformat()},
        )


def visit_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Where a newly typed visit may fall: never wider than the database's fixed bounds."""
    now = now or timezone.now()
    return max(now - VISIT_BACK, EARLIEST_VISIT), min(now + VISIT_AHEAD, LATEST_VISIT)


def _visit_range_error(earliest: datetime, latest: datetime) -> ValidationError:
    return ValidationError(
        _("Enter a visit between %(earliest)s and %(latest)s."),
        code="out_of_range",
        params={
            "earliest": timezone.localdate(earliest).isoformat(),
            "latest": timezone.localdate(latest).isoformat(),
        },
    )


def validate_visit_at(visit: datetime) -> None:
    """Every visit, however old: the database's bounds (a stored old visit stays editable)."""
    if not EARLIEST_VISIT <= visit < LATEST_VISIT:
        raise _visit_range_error(*visit_window())


class Status(models.TextChoices):
    INVITED = "invited", _("Invited")
    IN_PROGRESS = "in_progress", _("In progress")
    SUBMITTED = "submitted", _("Submitted")
    REVIEWED = "reviewed", _("Reviewed")


class LevelChoice(models.TextChoices):
    EMERGENCY = Level.EMERGENCY.value, _("Emergency")
    PRIORITY = Level.PRIORITY.value, _("Priority")
    ROUTINE = Level.ROUTINE.value, _("Routine")


# --- The clinician's queue ------------------------------------------------------------------

#: Within a level, unreviewed intakes come before reviewed ones.
QUEUE_STATUSES = (Status.SUBMITTED, Status.REVIEWED)
#: An emergency is on the queue from the save that stored its sign, submitted or not.
EMERGENCY_STATUSES = (Status.INVITED, Status.IN_PROGRESS, Status.SUBMITTED)


def awaiting_emergency() -> Q:
    """An emergency nobody has dealt with yet: not reviewed and not acknowledged, submitted or
    not (the patient may have left at the get-care page). The banner counts these."""
    return Q(
        level=Level.EMERGENCY.value,
        status__in=EMERGENCY_STATUSES,
        emergency_acknowledged_at__isnull=True,
    )


def queue_rank() -> Case:
    """The queue's order of level and status as one number, 0 first.

    By level, most urgent first (the rank ``triage`` gives each level, never the alphabet);
    within a level, unreviewed before reviewed, and for an emergency, unreviewed and
    unacknowledged (:func:`awaiting_emergency`, the patient's answers submitted or not) before
    the rest. Everything else not yet submitted (no level) comes after all of them. Rank 0 is
    then an emergency nobody has dealt with, 1 one reviewed or acknowledged, 2 an unreviewed
    priority intake, and so on.
    """
    places = len(QUEUE_STATUSES)
    whens: list[When] = []
    for level in sorted(Level, key=lambda level: level.rank):
        first = level.rank * places
        if level is Level.EMERGENCY:
            whens += [
                When(awaiting_emergency(), then=Value(first)),
                When(level=level.value, then=Value(first + 1)),
            ]
            continue
        whens += [
            When(level=level.value, status=status, then=Value(first + i))
            for i, status in enumerate(QUEUE_STATUSES)
        ]
    return Case(
        *whens,
        default=Value(len(Level) * places),
        output_field=models.PositiveSmallIntegerField(),
    )


def queue_order() -> tuple[OrderBy, ...]:
    """The clinician's queue: :func:`queue_rank`, then most red flags (context flags never
    raise rank), then soonest visit."""
    return (queue_rank().asc(), F("red_flag_count").desc(), F("visit_at").asc())


#: Who the intake is about. Once submitted, the summary was made for this person.
IDENTITY_FIELDS = ("patient_name", "date_of_birth", "record_number")


#: The UPDATE of :meth:`Encounter.save_fields`, written once per database and list of fields.
_UPDATES: dict[tuple[str, tuple[str, ...]], tuple[str, list[Any]]] = {}

#: The SQL of :meth:`EncounterQuerySet.by_pk`, compiled once per database and lock mode.
_BY_PK: dict[tuple[str, bool], tuple[str, list[str], dict[int, Any]]] = {}


class EncounterQuerySet(models.QuerySet["Encounter"]):
    def with_token(self, token: str) -> EncounterQuerySet:
        return self.filter(token_hash=hash_token(token))

    def by_pk(self, pk: int, *, lock: bool = False) -> Encounter | None:
        """The encounter with this primary key, every field loaded, or ``None``; ``lock``: with
        its row locked (``SELECT ... FOR UPDATE``, in the caller's transaction).

        What ``filter(pk=pk).first()`` returns, without building and compiling that query on
        every call: every patient request loads its encounter by primary key, and compiling
        the query of a model of fifty fields costs more CPU than PostgreSQL spends running it.
        The SQL is Django's own, compiled on first use; the row goes through the fields'
        converters and ``from_db`` as any queryset's does.
        """
        from django.db import connections
        from django.db.transaction import TransactionManagementError

        if self.query.has_filters():
            raise TypeError("by_pk() reads by primary key alone: call it on the manager.")
        using: str | None = getattr(self, "_db", None)  # as using() set it
        alias = using or (
            router.db_for_write(self.model) if lock else router.db_for_read(self.model)
        )
        connection = connections[alias]
        if lock and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        compiled = _BY_PK.get((alias, lock))
        if compiled is None:
            query = self.model._base_manager.using(alias).filter(pk=0).order_by()
            if lock:
                query = query.select_for_update()
            compiler = query.query.get_compiler(alias)
            sql, _params = compiler.as_sql()
            columns = [column for column, _sql, _alias in compiler.select]
            names = [column.target.attname for column in columns]
            compiled = _BY_PK[(alias, lock)] = (sql, names, compiler.get_converters(columns))
        sql, names, converters = compiled
        with connection.cursor() as cursor:
            cursor.execute(sql, [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for position, (functions, expression) in converters.items():
            for convert in functions:
                values[position] = convert(values[position], expression, connection)
        return self.model.from_db(alias, names, values)

    def in_queue_order(self) -> EncounterQuerySet:
        """In the clinician's queue order (:func:`queue_order`)."""
        return self.order_by(*queue_order())

    def awaiting_emergency(self) -> EncounterQuerySet:
        """The banner's "unreviewed emergencies" (:func:`awaiting_emergency`)."""
        return self.filter(awaiting_emergency())


class Channel(models.TextChoices):
    """How the patient's link reaches them."""

    EMAIL = "email", _("Email")
    SMS = "sms", _("Text message")
    LETTER = "letter", _("Printed letter")


class Acknowledgement(models.TextChoices):
    """How a clinician dealt with an emergency before the visit."""

    CONTACTED = "contacted", _("Patient contacted")
    IN_CARE = "in_care", _("Already being cared for")
    SOMETHING_ELSE = "something_else", _("Other (see the note)")


class Encounter(models.Model):
    Status = Status
    Level = LevelChoice
    Acknowledgement = Acknowledgement
    Channel = Channel

    patient_name = models.CharField(
        _("patient name"), max_length=200, validators=[validate_one_line]
    )
    date_of_birth = models.DateField(_("date of birth"), validators=[validate_date_of_birth])
    record_number = models.CharField(
        _("record number"),
        max_length=64,
        blank=True,
        help_text=_("The clinic's own patient number, if any."),
        validators=[validate_one_line],
    )
    visit_at = models.DateTimeField(_("visit"), validators=[validate_visit_at])
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
        _("questionnaire version"), max_length=16, default=questionnaire.current_version
    )
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    # The pages of the patient form completed (``steps.Steps``), by page slug. A group's first
    # page is named after the group, so a list stored when each group was one page (group
    # linkIds) still reads, as those first pages; ``Steps.stored`` fills in the rest from the
    # answers. The name stays, so that no migration is needed.
    completed_groups = ArrayField(
        models.CharField(max_length=32), default=list, blank=True, verbose_name=_("pages completed")
    )
    language = models.CharField(_("patient's language"), max_length=10, blank=True)

    # How to reach the patient: patient data, shown only to staff who may see the encounter and
    # never logged; messages to these carry the link and no health details.
    email = models.EmailField(_("email"), blank=True, default="", db_default="")
    mobile = PhoneNumberField(
        _("mobile number"),
        blank=True,
        default="",
        db_default="",
        help_text=_("Without a country code it is read as a number of the clinic's region."),
    )
    preferred_channel = models.CharField(
        _("send the link by"),
        max_length=8,
        choices=Channel.choices,
        blank=True,
        default="",
        db_default="",
    )
    reminders_off = models.BooleanField(
        _("no reminders"),
        default=False,
        db_default=False,
        help_text=_("Send no reminders to this patient (the invitation is still sent)."),
    )

    # The current link is made from this and SECRET_KEY (``link_token``); the hash finds it.
    link_nonce = models.CharField(
        max_length=64, blank=True, default="", db_default="", editable=False
    )
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    token_expires_at = models.DateTimeField(
        _("link expires"), null=True, blank=True, editable=False
    )
    dob_failures = models.PositiveSmallIntegerField(default=0, editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    #: How many times this link has locked since its date of birth was last given right: each
    #: lock lasts twice the one before (``lockout.period``).
    dob_lockouts = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    alerted_at = models.DateTimeField(_("clinic alerted"), null=True, blank=True, editable=False)
    # Set by the page save that first stores an emergency sign, and never cleared: from then on
    # the intake is an emergency until a clinician deals with it, whatever the patient changes.
    emergency_reported_at = models.DateTimeField(
        _("emergency sign reported"), null=True, blank=True, editable=False
    )
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
    # A clinician dealt with the emergency (it leaves the banner's count; the level stays).
    # The note is the clinician's words about a patient: health data, never logged.
    emergency_acknowledged_at = models.DateTimeField(
        _("emergency acknowledged"), null=True, blank=True, editable=False
    )
    emergency_acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("emergency acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    emergency_acknowledgement = models.CharField(
        _("acknowledgement"),
        max_length=16,
        choices=Acknowledgement.choices,
        blank=True,
        default="",
        db_default="",
        editable=False,
    )
    emergency_acknowledgement_note = models.TextField(
        _("acknowledgement note"), blank=True, default="", db_default="", editable=False
    )

    # NULL, not "", until assessed: no level is a level's code (queue_rank puts these last).
    level = models.CharField(  # noqa: DJ001
        _("level"), max_length=16, choices=LevelChoice.choices, null=True, blank=True, db_index=True
    )
    flags = ArrayField(
        models.CharField(max_length=32), default=list, blank=True, verbose_name=_("flags")
    )
    flag_count = models.PositiveSmallIntegerField(_("flag count"), default=0)
    # The red flags among ``flags`` (context flags never raise rank): the queue's second key.
    red_flag_count = models.PositiveSmallIntegerField(_("red flag count"), default=0, db_default=0)
    answers_digest = models.CharField(max_length=64, blank=True, editable=False)

    objects = EncounterQuerySet.as_manager()

    class Meta:
        verbose_name = _("encounter")
        verbose_name_plural = _("encounters")
        # Soonest visit first. The clinician's queue has an order of its own: in_queue_order().
        ordering = ["visit_at"]
        permissions = [
            ("view_summary", _("Can view a patient's answers and summary")),
            ("review_encounter", _("Can mark an encounter reviewed")),
            ("issue_link", _("Can make a patient's intake link")),
            ("acknowledge_emergency", _("Can acknowledge an emergency")),
        ]
        indexes = [
            GinIndex(fields=["flags"], name="encounter_flags_gin"),
            # The clinician's queue in its order (queue_order()), so that a page of it is read
            # from an index, not sorted from every row: the whole queue, and the unreviewed one.
            models.Index(
                queue_rank(), F("red_flag_count").desc(), F("visit_at"), name="encounter_queue"
            ),
            models.Index(
                queue_rank(),
                F("red_flag_count").desc(),
                F("visit_at"),
                condition=Q(status=Status.SUBMITTED),
                name="encounter_unreviewed_queue",
            ),
            # The queue filtered by status or by level ("invited", "routine", no level yet), in
            # its order: without these, a page of a rare status reads most of the queue index
            # to find its 50 rows (seconds at a million encounters).
            models.Index(
                F("status"),
                queue_rank(),
                F("red_flag_count").desc(),
                F("visit_at"),
                name="encounter_status_queue",
            ),
            models.Index(
                F("level"),
                queue_rank(),
                F("red_flag_count").desc(),
                F("visit_at"),
                name="encounter_level_queue",
            ),
            # "No level yet" (not sent): IS NULL is no equality, so the index above cannot give
            # these rows in queue order; a partial index can.
            models.Index(
                queue_rank(),
                F("red_flag_count").desc(),
                F("visit_at"),
                condition=Q(level__isnull=True),
                name="encounter_unassessed_queue",
            ),
            models.Index(fields=["visit_at"], name="encounter_visit_at"),
            # The queue's search by a date of birth (``EncounterAdmin.get_search_results``).
            # Names and record numbers are searched with trigram indexes where the server has
            # pg_trgm (migration 0016): not declared here, as not every server can have them.
            models.Index(fields=["date_of_birth"], name="encounter_date_of_birth"),
            # The queue's red notice: alerts whose last try failed and none was delivered.
            models.Index(
                fields=["alerted_at"],
                condition=Q(alert_sent_at__isnull=True) & ~Q(alert_last_error=""),
                name="encounter_alert_failed",
            ),
            # The banner's count: emergencies nobody has acknowledged yet.
            models.Index(
                fields=["status"],
                condition=Q(level=Level.EMERGENCY.value, emergency_acknowledged_at__isnull=True),
                name="encounter_awaiting_emergency",
            ),
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
                condition=Exact(
                    F("flag_count"),
                    Func(F("flags"), function="cardinality", output_field=models.IntegerField()),
                ),
                name="encounter_flag_count_matches",
            ),
            models.CheckConstraint(
                condition=Q(emergency_acknowledged_at__isnull=True, emergency_acknowledgement="")
                | Q(
                    emergency_acknowledged_at__isnull=False,
                    emergency_acknowledgement__in=Acknowledgement.values,
                ),
                name="encounter_acknowledgement_complete",
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
                condition=Q(preferred_channel="") | Q(preferred_channel__in=Channel.values),
                name="encounter_channel_known",
            ),
            models.CheckConstraint(
                condition=Q(
                    date_of_birth__gte=EARLIEST_BIRTH, date_of_birth__lt=LATEST_VISIT.date()
                ),
                name="encounter_date_of_birth_plausible",
            ),
            models.CheckConstraint(
                condition=Q(visit_at__gte=EARLIEST_VISIT, visit_at__lt=LATEST_VISIT),
                name="encounter_visit_at_plausible",
            ),
        ]

    #: The visit as loaded from the database, so that ``clean`` can tell a typed one from it.
    _stored_visit_at: datetime | None = None

    def __str__(self) -> str:
        # The visit's day in the clinic's time zone (in UTC an evening visit is the next day).
        return f"{self.patient_name} ({display.local_date(timezone.localdate(self.visit_at))})"

    @classmethod
    def from_db(
        cls,
        db: str | None,
        field_names: Collection[str],
        values: Collection[Any],
        **kwargs: Any,  # Django 6's fetch_mode, passed on as given
    ) -> Encounter:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._stored_visit_at = instance.__dict__.get("visit_at")
        return instance

    def clean(self) -> None:
        super().clean()
        visit, stored = self.visit_at, self._stored_visit_at
        # Forms drop microseconds: compare to the second, or an unchanged visit would count.
        if visit and stored and visit.replace(microsecond=0) == stored.replace(microsecond=0):
            return
        if visit is not None and EARLIEST_VISIT <= visit < LATEST_VISIT:  # else the field said so
            earliest, latest = visit_window()
            if not earliest <= visit <= latest:
                raise ValidationError({"visit_at": _visit_range_error(earliest, latest)})

    @property
    def is_submitted(self) -> bool:
        return self.status in {self.Status.SUBMITTED, self.Status.REVIEWED}

    @property
    def is_emergency(self) -> bool:
        """The stored level (provisional before submission) is an emergency."""
        return self.level == Level.EMERGENCY.value

    @property
    def alert_failed(self) -> bool:
        """The last try to alert the clinic failed, and no try has succeeded."""
        return bool(self.alert_last_error) and self.alert_sent_at is None

    def save_fields(self, update_fields: Sequence[str]) -> None:
        """``save(update_fields=update_fields)`` for a loaded encounter, with the UPDATE's SQL
        written once per list of fields: a page save writes the same columns every time, and
        building that statement cost more CPU than PostgreSQL spends running it.

        Each value goes through its field as ``save()`` sends it (``pre_save``, so
        ``updated_at`` moves; ``get_db_prep_save``); no model signal is sent (nothing here
        listens to one; the history is the database's triggers, which see every UPDATE). A
        value that is an expression or a model is left to ``save()``.
        """
        from django.db import DatabaseError, connections

        alias = self._state.db or router.db_for_write(type(self), instance=self)
        connection = connections[alias]
        names = tuple(update_fields)
        compiled = _UPDATES.get((alias, names))
        if compiled is None:
            meta = self._meta
            fields = [
                f
                for f in meta.local_concrete_fields
                if not f.primary_key and (f.name in names or f.attname in names)
            ]
            if len(fields) != len(set(names)):
                raise ValueError(f"not all of these are fields of Encounter: {names}")
            quote = connection.ops.quote_name
            sql = (
                f"UPDATE {quote(meta.db_table)} SET "
                + ", ".join(f"{quote(f.column or f.attname)} = %s" for f in fields)
                + f" WHERE {quote(meta.pk.column or meta.pk.attname)} = %s"
            )
            compiled = _UPDATES[(alias, names)] = (sql, fields)
        sql, fields = compiled
        values = [field.pre_save(self, False) for field in fields]
        if any(
            hasattr(v, "resolve_expression") or hasattr(v, "prepare_database_save") for v in values
        ):
            self.save(update_fields=names)
            return
        params = [f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, self.pk])
            if cursor.rowcount != 1:
                raise DatabaseError("Save with update_fields did not affect any rows.")

    def issue_link(self, now: datetime | None = None) -> str:
        """Make a new link token (revoking any earlier one); the caller saves and sends it."""
        now = now or timezone.now()
        self.link_nonce = secrets.token_urlsafe(32)  # 256 bits
        token = link_token(self.link_nonce)
        self.token_hash = hash_token(token)
        self.token_expires_at = now + app_settings.LINK_LIFETIME
        self.dob_failures = 0
        self.locked_until = None
        self.dob_lockouts = 0
        return token

    def current_link(self, now: datetime) -> str | None:
        """The token of the link the patient holds, while it works; None when a new one is
        needed (none made yet, expired, or made under another ``SECRET_KEY``)."""
        if not self.link_nonce or not self.token_expires_at or self.token_expires_at <= now:
            return None
        token = link_token(self.link_nonce)
        return token if hash_token(token) == self.token_hash else None

    def link_usable(self, now: datetime) -> bool:
        return bool(
            self.token_expires_at
            and self.token_expires_at > now
            and not (self.locked_until and self.locked_until > now)
        )


class PatientMessage(models.Model):
    """One message to a patient (an invitation with their link, or a reminder): the delivery
    record front desk sees on the encounter, and what the queue's job reads to send it.

    Written only by ``services``; the job is ``tasks.send_patient_message``. ``last_error`` is
    the provider's error class and code (the patient's address or number taken out), never the
    message, which holds the link and is never stored.
    """

    class Kind(models.TextChoices):
        INVITATION = "invitation", _("Invitation")
        REMINDER = "reminder", _("Reminder")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        #: Not delivered after every try, or refused for good: staff phone the patient.
        FAILED = "failed", _("Failed")
        #: Not sent, and never will be: submitted, reminders off, replaced, or a day that
        #: already had a message.
        SKIPPED = "skipped", _("Not needed")

    encounter = models.ForeignKey(
        Encounter, verbose_name=_("encounter"), on_delete=models.CASCADE, related_name="messages"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    channel = models.CharField(
        _("channel"),
        max_length=8,
        choices=[(Channel.EMAIL, Channel.EMAIL.label), (Channel.SMS, Channel.SMS.label)],
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    due_at = models.DateTimeField(_("due"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("message to the patient")
        verbose_name_plural = _("messages to the patient")
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["encounter", "due_at"], name="patient_message_encounter"),
            # The queue's notice: messages that could not be delivered.
            models.Index(
                fields=["encounter"],
                condition=Q(status="failed"),
                name="patient_message_failed",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["invitation", "reminder"]), name="patient_message_kind_known"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=[Channel.EMAIL, Channel.SMS]),
                name="patient_message_channel_known",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "sent", "failed", "skipped"]),
                name="patient_message_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="patient_message_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.encounter_id} by {self.channel} ({self.status})"


class AccessEvent(models.Model):
    """One look at a patient's answers or summary, or one act that could lead to one (a link
    issued) or that changes what a summary is about (the patient's identity changed after they
    submitted). Append-only, enforced by the database.

    Migration 0005 installs the triggers: UPDATE, DELETE and TRUNCATE raise, whatever the session
    sets (they read no ``pgtrigger.ignore`` and fire even under ``session_replication_role``).
    Only the table's owner can drop or disable them: the app connects as a runtime role without
    that (``manage.py twitch_intake_grant_runtime_role``).
    """

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed the summary")
        PRINT = "print", _("Opened the print view")
        TEXT = "text", _("Opened the text view")
        EXPORT = "export", _("Exported FHIR")
        LINK = "link", _("Issued a patient link")
        IDENTITY = "identity", _("Changed the patient's identity after submission")
        ACKNOWLEDGE = "acknowledge", _("Acknowledged an emergency")
        #: The only event without a user: whoever had the link and the date of birth.
        PATIENT = "patient", _("Opened with the patient's link")

    encounter = models.ForeignKey(
        Encounter,
        verbose_name=_("encounter"),
        on_delete=models.PROTECT,
        related_name="access_events",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    client_address = models.GenericIPAddressField(_("client address"), null=True, blank=True)

    class Meta:
        verbose_name = _("access event")
        verbose_name_plural = _("access events")
        ordering = ["-at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(action="patient"),
                name="access_event_staff_have_a_user",
            )
        ]

    def __str__(self) -> str:
        who = self.user.get_username() if self.user is not None else "the patient"
        at = display.local_datetime(self.at)
        return f"{self.get_action_display()} #{self.encounter_id} by {who} at {at}"


class EncounterHistory(
    pghistory.create_event_model(  # type: ignore[misc]  # a model class made at import
        Encounter,
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        fields=["answers", *IDENTITY_FIELDS],
        # Who, in the row itself (not pghistory's shared, updatable context table), so that
        # the row that says what changed also says who changed it, under the same protection.
        context_field=pghistory.ContextJSONField(),
        obj_field=pghistory.ObjForeignKey(related_name="+"),  # read from this side only
    )
):
    """Every saved change to an encounter's answers or to who it is about: one row per insert,
    update or delete of the encounter that changed ``answers`` or an identity field, holding
    the row's values after it (before it, for a delete), when (``pgh_created_at``, the
    transaction's time) and who (``pgh_context``: ``{"user": <id>}`` for staff,
    ``{"session": <keyed hash>}`` for a patient, from ``history.acting``; empty when a write
    came from outside the app). The change is the difference from the row before.

    Written by pghistory's triggers on the encounter table, so no code path can skip it (the
    triggers fire even under ``session_replication_role = replica``: migration 0011 enables
    them ``ALWAYS``). Append-only like the access log: UPDATE, DELETE and TRUNCATE raise in any
    session (0011's triggers read no setting), and the runtime role may only read and insert.
    """

    class Meta:
        verbose_name = _("answer history")
        verbose_name_plural = _("answer history")
        ordering = ["pgh_created_at", "pgh_id"]
        indexes = [
            models.Index(fields=["pgh_obj", "pgh_created_at"], name="encounter_history_obj_at")
        ]

    def __str__(self) -> str:
        return f"{self.pgh_label} #{self.pgh_obj_id} at {self.pgh_created_at:%Y-%m-%d %H:%M}"


class RateLimitCounter(models.Model):
    """Tries from one client address in one scope, in the window that began at ``window_start``.

    A row, not the cache: one ``INSERT ... ON CONFLICT DO UPDATE`` counts atomically for every
    app server (see ``ratelimit.py``), where a cache's get-then-set loses parallel counts. Never
    shown to anyone (no admin, no form), so its names are not translated.
    """

    key = models.CharField(
        "key",
        max_length=100,
        primary_key=True,
        help_text="The scope and a keyed hash of the client address; never the address itself.",
    )
    window_start = models.DateTimeField("window start")
    count = models.PositiveIntegerField("count", default=0)

    class Meta:
        verbose_name = "rate-limit counter"
        verbose_name_plural = "rate-limit counters"
        ordering = ["key"]
        indexes = [models.Index(fields=["window_start"], name="rate_limit_window_start")]

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.window_start:%Y-%m-%d %H:%M}"
