"""The clinician's side: a triage queue, the summary, review, print/text/FHIR views, links.

Built only from ModelAdmin's documented hooks. Who sees what:

* ``view_summary`` (Clinicians): the summary and answers, print, text and FHIR views. Every one
  of those looks writes an :class:`AccessEvent`.
* ``review_encounter`` (Clinicians): "Mark reviewed".
* ``acknowledge_emergency`` (Clinicians), with ``view_summary``: acknowledge an emergency,
  submitted or not (how, a note): it leaves the banner's count of unreviewed emergencies and
  keeps its level.
* ``issue_link`` (Front desk): send the patient their link (an invitation, or a new link), by
  email or text message through the queue, never shown on screen; or print a letter with the
  link as a QR code, only while the intake holds no answers (then whoever saw it could open
  them). Each link issued is an access event. The patient's contact details and the delivery
  record are on the encounter for whoever may see it; the queue flags a message that failed.
* Without ``view_summary`` (Front desk) the queue shows no level or flags and the encounter page
  only the patient's details.

Answers are never editable here: they are not a form field at all. After submission the
patient's name, date of birth and record number are read-only for all but superusers, whose
changes are logged and shown in the summary.

Each view takes only the HTTP methods it needs (a 405 otherwise, before anything is read), and
the queue takes only the lookups its own filters make: the admin would otherwise render a page
for OPTIONS or PUT as for GET, and filter on any field, answers included.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import BadRequest, FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from phonenumber_field.formfields import PhoneNumberField

from . import display, fhir, letters, services, summary, triage
from .branding import site_context
from .conf import app_settings
from .mfa import requires_second_factor
from .models import (
    AccessEvent,
    Acknowledgement,
    Channel,
    Encounter,
    LevelChoice,
    Status,
    awaiting_emergency,
    queue_order,
    queue_rank,
)
from .queue_paging import EstimatedCountPaginator, VisitDateFilter
from .ratelimit import client_address
from .validators import validate_one_line

if TYPE_CHECKING:
    # The host's user model (AUTH_USER_MODEL), as django-stubs resolves it.
    from django.contrib.auth.models import _User

    # ModelAdmin is generic in django-stubs only; at run time it takes no type argument.
    _EncounterAdminBase = admin.ModelAdmin[Encounter]
    _AccessEventAdminBase = admin.ModelAdmin[AccessEvent]
    _StaffScreensBase = admin.ModelAdmin[Any]
else:
    _EncounterAdminBase = _AccessEventAdminBase = admin.ModelAdmin
    _StaffScreensBase = object

PERM_SUMMARY = "twitch_intake.view_summary"
PERM_REVIEW = "twitch_intake.review_encounter"
PERM_LINK = "twitch_intake.issue_link"
PERM_ACKNOWLEDGE = "twitch_intake.acknowledge_emergency"

#: The longest acknowledgement note taken: a line or two, not a record of the call.
ACKNOWLEDGEMENT_NOTE_MAX = 500


def in_clinic_language(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Clinicians read summaries in the clinic's language, whatever the patient answered in.

    Template responses render lazily, after the view returns, so they are rendered here,
    inside the override.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> HttpResponse:
        with translation.override(settings.LANGUAGE_CODE):
            response = view(*args, **kwargs)
            if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
                response.render()
        response.headers.setdefault("Content-Language", settings.LANGUAGE_CODE)
        return response

    return wrapper


def allow_methods(
    *methods: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Only these methods reach the view; any other is a 405 before anything is read or rendered.

    The admin renders any method but POST as it renders a GET: OPTIONS, TRACE or PUT would show a
    summary with no access event.
    """
    return method_decorator(require_http_methods(list(methods)))


def record_access(request: HttpRequest, encounter: Encounter, action: str) -> None:
    # Only admin views record access, and admin_view lets in signed-in staff alone.
    services.record_access(encounter, cast("_User", request.user), action, client_address(request))


#: Visit dates the queue can be filtered to. Wide enough for any real visit, narrow enough that
#: no bound overflows ``datetime`` (year 9999 + 1) or PostgreSQL on the way to the query.
QUEUE_YEARS = range(1900, 2201)


def _queue_year(value: str) -> bool:
    return re.fullmatch(r"[0-9]{4}", value) is not None and int(value) in QUEUE_YEARS


def _number_in(low: int, high: int) -> Callable[[str], bool]:
    return lambda value: (
        re.fullmatch(r"[0-9]{1,2}", value) is not None and low <= int(value) <= high
    )


def _queue_moment(value: str) -> bool:
    """A date or datetime as the visit filter writes it ("2031-03-10 00:00:00-04:00")."""
    try:
        parsed = parse_datetime(value) or parse_date(value)
    except ValueError:
        return False
    if parsed is None or parsed.year not in QUEUE_YEARS:
        return False
    # Offsets as the world uses them (UTC-12 to UTC+14); PostgreSQL refuses beyond 15:59.
    offset = parsed.utcoffset() if isinstance(parsed, dt.datetime) else None
    return offset is None or abs(offset) <= dt.timedelta(hours=14)


class StaffScreens(_StaffScreensBase):
    """Every page of a ModelAdmin of this app under the app's own title (``SITE_TITLE``), and
    without the host's navigation sidebar, whose 290 px the queue needs at 1440 px; only
    through the context the admin's views take, so the host's own pages are left as they are."""

    def _staff_context(self, extra_context: dict[str, Any] | None) -> dict[str, Any]:
        return {**site_context(), "is_nav_sidebar_enabled": False, **(extra_context or {})}

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().changelist_view(request, self._staff_context(extra_context))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return super().changeform_view(
            request, object_id, form_url, self._staff_context(extra_context)
        )

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().delete_view(request, object_id, self._staff_context(extra_context))

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().history_view(request, object_id, self._staff_context(extra_context))


class FlagFilter(admin.SimpleListFilter):
    title = _("flag")
    parameter_name = "flag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(rule.code, rule.label) for rule in triage.rules()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Encounter]) -> QuerySet[Encounter]:
        if self.value() in triage.flag_codes():
            return queryset.filter(flags__contains=[self.value()])  # uses the GIN index
        return queryset


class EmergencyFilter(admin.SimpleListFilter):
    """The banner's link: emergencies nobody has reviewed or acknowledged, submitted or not."""

    title = _("Emergencies")
    parameter_name = "emergencies"
    AWAITING = "awaiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(self.AWAITING, _("Unreviewed emergencies"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Encounter]) -> QuerySet[Encounter]:
        if self.value() == self.AWAITING:
            return queryset.filter(awaiting_emergency())
        return queryset


class AcknowledgeForm(forms.Form):
    """How a clinician dealt with an emergency, and a note (the clinician's words about a
    patient: health data, kept on the encounter, never logged)."""

    kind = forms.ChoiceField(
        label=_("How it was dealt with"),
        choices=Acknowledgement.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how the emergency was dealt with.")},
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=ACKNOWLEDGEMENT_NOTE_MAX,
        validators=[validate_one_line],
        widget=forms.TextInput(attrs={"size": 60}),
        error_messages={
            "max_length": _("Keep the note to %(limit_value)d characters or fewer."),
        },
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("kind") == Acknowledgement.SOMETHING_ELSE and not cleaned.get("note"):
            self.add_error("note", _("Say in the note what was done."))
        return cleaned


class EncounterForm(forms.ModelForm):  # type: ignore[type-arg]  # the admin binds the model
    """The front desk's encounter: who, when, and how to reach the patient.

    A mobile number without a country code is read with the clinic's region (``PHONE_REGION``,
    read when the form is made); the chosen channel must have its address or number.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "mobile" in self.fields:
            old = self.fields["mobile"]
            self.fields["mobile"] = PhoneNumberField(
                region=app_settings.PHONE_REGION,
                required=False,
                label=old.label,
                help_text=old.help_text,
                error_messages={
                    "invalid": _(
                        "Enter a valid mobile number, e.g. %(example)s, or leave it empty."
                    )
                    % {"example": _example_number()}
                },
            )
        if "language" in self.fields:
            self.fields["language"] = forms.ChoiceField(
                label=capfirst(Encounter._meta.get_field("language").verbose_name),
                choices=[("", _("The clinic's language")), *settings.LANGUAGES],
                required=False,
                help_text=_("Messages to the patient are in this language."),
            )

    def _given(self, name: str) -> bool:
        """Whether the form has an address for ``name``: typed (and valid), or on record where
        the field is read-only (after the patient has answered)."""
        if name not in self.fields:
            return bool(getattr(self.instance, name, None))
        return bool(self.cleaned_data.get(name)) or name in self.errors

    def clean_mobile(self) -> Any:
        """A number that can receive a text: a landline, a free or premium-rate number would
        fail at the provider (or cost the clinic), so it is refused here, beside the field."""
        import phonenumbers

        number = self.cleaned_data.get("mobile")
        if not number:
            return number
        kind = phonenumbers.number_type(number)
        if kind not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            raise forms.ValidationError(
                _("This is not a mobile number: enter one that can receive text messages."),
                code="not_mobile",
            )
        return number

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        channel = cleaned.get("preferred_channel")
        if channel == Channel.EMAIL and not self._given("email"):
            self.add_error(
                "email",
                forms.ValidationError(_("Enter the email to send the link to."), code="required"),
            )
        if channel == Channel.SMS and not self._given("mobile"):
            self.add_error(
                "mobile",
                forms.ValidationError(
                    _("Enter the mobile number to text the link to."), code="required"
                ),
            )
        if channel == Channel.SMS and not app_settings.SMS_BACKEND:
            self.add_error(
                "preferred_channel",
                forms.ValidationError(
                    _("This clinic does not send text messages: choose email or a letter."),
                    code="no_sms",
                ),
            )
        return cleaned


def _example_number() -> str:
    import phonenumbers

    example = phonenumbers.example_number_for_type(
        app_settings.PHONE_REGION, phonenumbers.PhoneNumberType.MOBILE
    )
    if example is None:
        return "+1 201 555 0123"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)


def undelivered_count() -> int:
    """Encounters whose latest message could not be delivered: staff phone the patient."""
    return Encounter.objects.filter(services.undelivered()).count()


class UndeliveredFilter(admin.SimpleListFilter):
    """The queue's notice: patients whose link may not have reached them."""

    title = _("messages")
    parameter_name = "undelivered"
    YES = "1"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(self.YES, _("Not delivered: phone the patient"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Encounter]) -> QuerySet[Encounter]:
        if self.value() == self.YES:
            return queryset.filter(services.undelivered())
        return queryset


def may_acknowledge(user: Any) -> bool:
    """``acknowledge_emergency`` and ``view_summary`` both: whoever acts on an emergency reads
    it first, and reading it asks for the second factor (``mfa.mfa_required``)."""
    return bool(user.has_perm(PERM_ACKNOWLEDGE) and user.has_perm(PERM_SUMMARY))


def failed_alert_count() -> int:
    """Encounters whose last alert attempt failed with none delivered: nobody may know."""
    return Encounter.objects.filter(alert_sent_at__isnull=True).exclude(alert_last_error="").count()


def _chip_class(rule: triage.Rule | None) -> str:
    """A flag's look in the queue, from what its rule declares (never from its code): an
    emergency, a highlighted red flag, another red flag, or context (a retired rule's code)."""
    if rule is None or not rule.is_red:
        return "ti-chip-context"
    if rule.is_emergency:
        return "ti-chip-emergency"
    return "ti-chip-highlight" if rule.highlight is not None else "ti-chip-red"


#: Flags shown in a queue row; the others are one click away in the same cell ("+3 more"), so
#: that a row stays one line high and a working day's queue fits a screen.
QUEUE_CHIPS = 2


@admin.register(Encounter)
class EncounterAdmin(StaffScreens, _EncounterAdminBase):
    #: The order a clinician reads a row at 1440 px: who (name, date of birth, record number),
    #: when, how urgent and why, where it stands; then an emergency's report.
    list_display = (
        "patient_name",
        "born",
        "record_number",
        "visit",
        "level_badge",
        "flag_chips",
        "status",
        "emergency_state",
    )
    list_display_links = ("patient_name",)
    list_filter = (
        EmergencyFilter,
        "level",
        FlagFilter,
        UndeliveredFilter,
        "status",
        ("visit_at", VisitDateFilter),
    )
    search_fields = ("patient_name", "record_number")
    # No date hierarchy: it reads every row's date on each view. The visit filter's fixed
    # ranges, the paginator's estimate and no facet counts keep the queue from scanning.
    paginator = EstimatedCountPaginator
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    show_full_result_count = False
    # The one bulk action is inviting (front desk, a day's schedule from the date filter):
    # health records are never deleted in bulk, and nobody else gets checkboxes.
    actions = ["send_invitations"]
    form = EncounterForm
    #: What the intake itself set: shown, never edited here.
    #: Times as the clinic reads them (:func:`display.local_datetime`), not the admin's
    #: ``DATETIME_FORMAT`` ("Dec. 1, 2026, 2:05 p.m.").
    intake_fields = (
        "status",
        "submitted",
        "reviewed",
        "reviewed_by",
        "link_expires",
        "questionnaire_version",
    )
    contact_fields = ("email", "mobile", "preferred_channel", "language", "reminders_off")
    fieldsets = (
        (_("Patient"), {"fields": ("patient_name", "date_of_birth", "record_number", "visit_at")}),
        (_("Contact"), {"fields": contact_fields}),
        (_("Intake"), {"fields": intake_fields}),
    )
    readonly_fields = intake_fields
    change_form_template = "admin/twitch_intake/encounter/change_form.html"
    change_list_template = "admin/twitch_intake/encounter/change_list.html"

    class Media:
        css = {"all": ["twitch_intake/summary.css", "twitch_intake/admin.css"]}

    # --- the queue ------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Encounter]:
        queryset = super().get_queryset(request)
        if request.user.has_perm(PERM_SUMMARY):
            # Who acknowledged each emergency shown, in one query for the page, not one a row.
            queryset = queryset.prefetch_related("emergency_acknowledged_by")
        return queryset

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # ``action_location`` is Django 6.1's (named, or 6.1 warns); 5.2 calls without it.
        if not request.user.has_perm(PERM_LINK):
            return {}
        given = super().get_actions
        actions = (
            given(request)
            if action_location is None
            else given(request, action_location=action_location)  # type: ignore[call-arg]
        )
        return {name: action for name, action in actions.items() if name != "delete_selected"}

    @admin.action(description=_("Send invitations (those with contact details, not yet invited)"))
    def send_invitations(self, request: HttpRequest, queryset: QuerySet[Encounter]) -> None:
        if not request.user.has_perm(PERM_LINK):
            raise PermissionDenied
        ids = list(queryset.order_by("visit_at").values_list("pk", flat=True))
        report = services.invite_all(ids, request.user, client_address(request))
        self.message_user(
            request,
            gettext(
                "%(invited)d of %(total)d invited; %(already)d invited before; %(refused)d "
                "without contact details or already submitted."
            )
            % {
                "invited": len(report.invited),
                "total": len(ids),
                "already": len(report.already),
                "refused": len(report.refused),
            },
            messages.SUCCESS if report.invited else messages.WARNING,
        )

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        if request.user.has_perm(PERM_SUMMARY):
            return self.list_display
        return ("patient_name", "born", "record_number", "visit", "status")

    def get_list_filter(self, request: HttpRequest) -> tuple[Any, ...]:
        if request.user.has_perm(PERM_SUMMARY):
            return self.list_filter
        return (UndeliveredFilter, "status", ("visit_at", VisitDateFilter))

    #: Every lookup the queue's own filters make (and the year, month and day a date hierarchy
    #: made, still taken in a hand-made address), with a check of its value:
    #: nothing else reaches the database (a 400). A lookup into the answers or another stored
    #: field (``?answers__notes__contains=...``, ``?token_hash__startswith=...``) would show what
    #: matched by the rows left, with no access event; a value the database or ``datetime``
    #: cannot take (a bad regex, a NUL, year 10000) would be a 500.
    QUEUE_LOOKUPS: ClassVar[dict[str, Callable[[str], bool]]] = {
        "status__exact": lambda value: value in Status.values,
        "visit_at__gte": _queue_moment,
        "visit_at__lt": _queue_moment,
        "visit_at__year": _queue_year,
        "visit_at__month": _number_in(1, 12),
        "visit_at__day": _number_in(1, 31),
        "level__exact": lambda value: value in LevelChoice.values,
        "level__isnull": lambda value: value in {"True", "False"},
        "flag": lambda value: len(value) <= 32,  # FlagFilter itself ignores an unknown code
        EmergencyFilter.parameter_name: lambda value: value == EmergencyFilter.AWAITING,
        UndeliveredFilter.parameter_name: lambda value: value == UndeliveredFilter.YES,
    }
    #: Of those, the ones taken from the answers: only for those who may read a summary, or a
    #: hand-made ``?level__exact=emergency`` would show the front desk who is an emergency.
    SUMMARY_LOOKUPS = frozenset(
        {"level__exact", "level__isnull", "flag", EmergencyFilter.parameter_name}
    )

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        check = self.QUEUE_LOOKUPS.get(lookup)
        if check is None or not check(value):
            return False
        return lookup not in self.SUMMARY_LOOKUPS or request.user.has_perm(PERM_SUMMARY)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """What the address fills in on "Add encounter" (``?visit_at=2026-12-01``, as the admin
        allows for any field), with a date or a time read as its field reads one: Django hands
        the text itself to the date and time widgets, which fail on it (a 500). A value its
        field cannot read, or that is no time in the clinic's zone (a crafted
        ``0001-01-01T00:00:00+14:00``), is left out: the form opens as if it was never there."""
        initial: dict[str, Any] = dict(super().get_changeform_initial_data(request))
        for name, value in list(initial.items()):
            try:
                field = Encounter._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            reader = field.formfield() if isinstance(field, models.DateField) else None
            if reader is None:  # not a date (a DateTimeField is one too), or not editable
                continue
            try:
                read = reader.to_python(value)
                if isinstance(read, dt.datetime):
                    timezone.localtime(read)  # as the widget will show it: year 0 or 10000?
                initial[name] = read
            except (ValidationError, OverflowError, ValueError):
                del initial[name]
        return initial

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Encounter], search_term: str
    ) -> tuple[QuerySet[Encounter], bool]:
        """Names and record numbers as the admin searches them, and a date of birth however it
        is typed ("27/3/1980", "1980-03-27", "27 Mar 1980"; day and month in the clinic's
        order, ``display.parse_typed_date``), on the same filtered queue. A term that is no
        real date searches names and numbers alone."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        born = display.parse_typed_date(search_term)
        if born is not None:
            found = found | queryset.filter(date_of_birth=born)
        return found, may_have_duplicates

    def get_ordering(self, request: HttpRequest) -> Any:
        if request.user.has_perm(PERM_SUMMARY):
            return queue_order()
        # The queue's own order is the triage result, emergencies first: visit order reveals nothing.
        return ("visit_at",)

    @admin.display(description=_("level"), ordering=queue_rank())
    def level_badge(self, obj: Encounter) -> str:
        if not obj.level:
            return "–"
        return format_html(
            '<span class="ti-level ti-level-{}">{}</span>', obj.level, obj.get_level_display()
        )

    @admin.display(description=_("submitted"))
    def submitted(self, obj: Encounter) -> str:
        return display.local_datetime(obj.submitted_at)

    @admin.display(description=_("reviewed"))
    def reviewed(self, obj: Encounter) -> str:
        return display.local_datetime(obj.reviewed_at)

    @admin.display(description=_("link expires"))
    def link_expires(self, obj: Encounter) -> str:
        """When the link stops working; and, while wrong dates of birth have paused it, until
        when, so that front desk can tell a patient who calls (and correct the date on file,
        which opens it, or send a new link)."""
        expires = display.local_datetime(obj.token_expires_at)
        now = timezone.now()
        if obj.locked_until is None or obj.locked_until <= now:
            return expires
        if obj.token_expires_at is not None and obj.token_expires_at <= now:
            return expires
        return gettext("%(expires)s; paused until %(until)s after wrong dates of birth") % {
            "expires": expires,
            "until": display.local_datetime(obj.locked_until),
        }

    @admin.display(description=_("date of birth"), ordering="date_of_birth")
    def born(self, obj: Encounter) -> str:
        return display.local_date(obj.date_of_birth)

    @admin.display(description=_("visit"), ordering="visit_at")
    def visit(self, obj: Encounter) -> str:
        """The clinic's time, whole ("1 Dec 2026, 14:05"), never wrapped or cut."""
        return format_html('<span class="ti-when">{}</span>', display.local_datetime(obj.visit_at))

    @admin.display(description=_("flags"), ordering="-flag_count")
    def flag_chips(self, obj: Encounter) -> str:
        """The most urgent flags first (emergency, highlighted, red, context), the first
        :data:`QUEUE_CHIPS` of them in the row and the rest behind "+N more"."""
        rules = {rule.code: rule for rule in triage.rules()}
        weight = {"ti-chip-emergency": 0, "ti-chip-highlight": 1, "ti-chip-red": 2}
        ordered = sorted(obj.flags, key=lambda code: weight.get(_chip_class(rules.get(code)), 3))
        chips = [
            format_html(
                '<span class="ti-chip {}" data-flag="{}">{}</span>',
                _chip_class(rules.get(code)),
                code,
                rules[code].label if code in rules else code,
            )
            for code in ordered
        ]
        shown = format_html_join(" ", "{}", ((chip,) for chip in chips[:QUEUE_CHIPS]))
        if len(chips) <= QUEUE_CHIPS:
            return shown
        return format_html(
            '{} <details class="ti-more-flags"><summary>{}</summary>{}</details>',
            shown,
            gettext("+%(count)d more") % {"count": len(chips) - QUEUE_CHIPS},
            format_html_join(" ", "{}", ((chip,) for chip in chips[QUEUE_CHIPS:])),
        )

    @admin.display(description=_("Emergency report"))
    def emergency_state(self, obj: Encounter) -> str:
        """When the sign was reported, the clinic's alert, the patient's answer on the get-care
        page, and whether someone acknowledged it."""
        if not obj.is_emergency:
            return "–"
        report = summary.emergency_report(obj, summary.intake_of(obj))
        lines: list[Any] = []
        if report.reported_at is not None:
            lines.append(
                format_html("{} {}", gettext("Reported"), summary.when(report.reported_at))
            )
        lines.append(
            format_html(
                '<span class="ti-alert-state{}">{}</span>',
                " ti-alert-failed" if report.alert_failed else "",
                report.alert_text,
            )
        )
        if report.response:
            lines.append(
                format_html(
                    '{}: <span class="ti-emergency-response">{}</span>',
                    report.response_question,
                    "; ".join(str(label) for label in report.response),
                )
            )
        if report.acknowledged_at is not None:
            lines.append(
                format_html(
                    '<span class="ti-acknowledged">{}</span>',
                    gettext("Acknowledged by {who} at {when}: {kind}").format(
                        who=report.acknowledged_by,
                        when=summary.when(report.acknowledged_at),
                        kind=report.acknowledgement,
                    ),
                )
            )
            if report.note:
                lines.append(
                    format_html('<span class="ti-acknowledgement-note">{}</span>', report.note)
                )
            headline = format_html(
                '<span class="ti-acknowledged-state">{}</span>', gettext("Acknowledged")
            )
        else:
            headline = format_html(
                '<strong class="ti-unacknowledged">{}</strong>', gettext("Not acknowledged")
            )
        if report.alert_failed:
            headline = format_html(
                '{} <strong class="ti-alert-failed">{}</strong>', headline, gettext("Alert failed")
            )
        # One line in the row (whether someone acted, whether the clinic knows); the report
        # itself one click away, so that an emergency does not push the queue off the screen.
        return format_html(
            '<details class="ti-emergency-details"><summary>{}</summary>{}</details>',
            headline,
            format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)),
        )

    @requires_second_factor
    @in_clinic_language
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # A NUL is refused by PostgreSQL in any string, and would be echoed into the page's
        # links; a search term with one is refused with a message by the admin's own search form.
        if any(
            "\x00" in key or (key != "q" and any("\x00" in value for value in values))
            for key, values in request.GET.lists()
        ):
            raise BadRequest("NUL in the queue's address")
        extra_context = extra_context or {}
        if request.user.has_perm(PERM_SUMMARY):
            # Submitted or not: a patient who left at the get-care page is counted at once.
            extra_context["unreviewed_emergencies"] = Encounter.objects.awaiting_emergency().count()
            extra_context["emergency_filter_query"] = (
                f"?{EmergencyFilter.parameter_name}={EmergencyFilter.AWAITING}"
            )
            extra_context["failed_alerts"] = failed_alert_count()
        extra_context["undelivered_messages"] = undelivered_count()
        extra_context["undelivered_query"] = (
            f"?{UndeliveredFilter.parameter_name}={UndeliveredFilter.YES}"
        )
        return super().changelist_view(request, extra_context)

    # --- the encounter page -----------------------------------------------------------------

    def has_delete_permission(self, request: HttpRequest, obj: Encounter | None = None) -> bool:
        # Health records are kept; an encounter someone has looked at cannot go (its access
        # log holds it), and one that has answers should not be removed from the admin.
        if obj is not None and (obj.answers or obj.is_submitted):
            return False
        return super().has_delete_permission(request, obj)

    #: Model fields that, read-only, are shown as staff read them (``display``) rather than in
    #: the admin's formats ("Dec. 1, 2026, 2:05 p.m."): the field and its display method.
    READONLY_IN_WORDS: ClassVar[dict[str, str]] = {"visit_at": "visit", "date_of_birth": "born"}

    def get_fieldsets(self, request: HttpRequest, obj: Encounter | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        if self.has_change_permission(request, obj):
            readonly = set(self.get_readonly_fields(request, obj))
        else:  # a page to view only: every field is read-only
            readonly = set(self.READONLY_IN_WORDS)
        words = {name: shown for name, shown in self.READONLY_IN_WORDS.items() if name in readonly}
        return [
            (
                title,
                {
                    **options,
                    "fields": tuple(
                        words.get(f, f) if isinstance(f, str) else f for f in options["fields"]
                    ),
                },
            )
            for title, options in fieldsets
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Encounter | None = None) -> Any:
        # Once submitted, the summary was made for this person: who they are is fixed, but for
        # a superuser's correction, which every summary then shows.
        readonly = tuple(super().get_readonly_fields(request, obj))
        readonly += tuple(self.READONLY_IN_WORDS.values())
        if obj is not None and obj.is_submitted and not request.user.is_superuser:
            readonly += services.IDENTITY_FIELDS
        if obj is not None and obj.answers and not request.user.is_superuser:
            # Once the patient has answered, a new link opens their answers: it may go only to
            # the contact on record, never to an address changed at the desk (one's own).
            readonly += ("email", "mobile")
        return readonly

    def save_model(
        self, request: HttpRequest, obj: Encounter, form: ModelForm[Encounter], change: bool
    ) -> None:
        if not change:
            # The add form validated the whole encounter; the link follows in response_add.
            services.create_encounter(obj, request.user)
            return
        model_fields = {f.name for f in Encounter._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in model_fields]
        kept = services.save_patient_details(
            obj,
            changed,
            request.user,
            client_address(request),
            may_change_identity=request.user.is_superuser,
        )
        if set(changed) & services.PLAN_FIELDS:
            services.replan_messages(obj.pk, request.user)
        if kept:
            self.message_user(
                request,
                gettext(
                    "The patient submitted while this page was open: their name, date of birth "
                    "and record number were left as they were."
                ),
                messages.WARNING,
            )

    @allow_methods("GET", "HEAD", "POST")
    @requires_second_factor
    @in_clinic_language
    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        user = request.user
        if obj is not None and self.has_view_or_change_permission(request, obj):
            refusal = services.link_refusal(obj)
            may_link = user.has_perm(PERM_LINK)
            invite_refusal = services.invite_refusal(obj)
            delivery = list(obj.messages.all())
            extra_context.update(
                can_view_summary=user.has_perm(PERM_SUMMARY),
                can_review=user.has_perm(PERM_REVIEW) and obj.status == Status.SUBMITTED,
                can_invite=may_link and invite_refusal is None,
                invite_label=_("Send new link") if delivery else _("Send invitation"),
                invite_needs_contact=may_link
                and invite_refusal
                in {services.InviteRefused.NO_CONTACT, services.InviteRefused.NO_SMS},
                can_print_letter=may_link and refusal is None,
                link_withheld=may_link and refusal == services.LinkRefused.STARTED,
                delivery=delivery,
                undelivered=Encounter.objects.filter(services.undelivered(), pk=obj.pk).exists(),
                can_acknowledge=may_acknowledge(user)
                and obj.is_emergency
                and obj.emergency_acknowledged_at is None,
                # Nobody may know of this emergency: said in red, to those who may see levels.
                alert_failed=user.has_perm(PERM_SUMMARY) and obj.alert_failed,
                alert_error=obj.alert_last_error,
            )
            if extra_context["can_acknowledge"]:
                extra_context["acknowledge_form"] = AcknowledgeForm()
            if user.has_perm(PERM_SUMMARY) and obj.answers:
                intake = summary.intake_of(obj)
                extra_context["summary"] = summary.build(obj, intake)
                extra_context["answer_sections"] = display.answer_sections(obj.answers, intake)
        response = _bad_form_is_400(
            request, super().change_view(request, object_id, form_url, extra_context)
        )
        if "summary" in extra_context:
            response["Cache-Control"] = "no-store, private"
            # Logged whenever the page is rendered with the summary, whatever the method (a GET,
            # a HEAD, a superuser's invalid POST); a saved POST redirects and shows nothing.
            rendered = isinstance(response, TemplateResponse) and response.status_code in {200, 400}
            if rendered and obj is not None:
                record_access(request, obj, AccessEvent.Action.VIEW)
        return response

    @allow_methods("GET", "HEAD", "POST")
    @in_clinic_language
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return _bad_form_is_400(request, super().add_view(request, form_url, extra_context))

    def response_add(
        self, request: HttpRequest, obj: Encounter, post_url_continue: str | None = None
    ) -> HttpResponse:
        """The new encounter's invitation goes at once by its channel (never on screen); then
        the usual redirect, so a reload sends nothing again."""
        if request.user.has_perm(PERM_LINK) and services.invite_refusal(obj) is None:
            self._send(request, obj.pk)
        response = super().response_add(request, obj, post_url_continue)
        if "_addanother" in request.POST or IS_POPUP_VAR in request.POST:
            return response
        # To the new encounter's page (its delivery record), not the queue.
        return HttpResponseRedirect(reverse("admin:twitch_intake_encounter_change", args=[obj.pk]))

    # --- extra views ------------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/print/", wrap(self.print_view), name="twitch_intake_encounter_print"),
            path("<int:pk>/text/", wrap(self.text_view), name="twitch_intake_encounter_text"),
            path(
                "<int:pk>/chart-text/",
                wrap(self.chart_text_view),
                name="twitch_intake_encounter_chart_text",
            ),
            path("<int:pk>/fhir/", wrap(self.fhir_view), name="twitch_intake_encounter_fhir"),
            path("<int:pk>/review/", wrap(self.review_view), name="twitch_intake_encounter_review"),
            path("<int:pk>/link/", wrap(self.link_view), name="twitch_intake_encounter_link"),
            path("<int:pk>/letter/", wrap(self.letter_view), name="twitch_intake_encounter_letter"),
            path(
                "<int:pk>/acknowledge/",
                wrap(self.acknowledge_view),
                name="twitch_intake_encounter_acknowledge",
            ),
            *super().get_urls(),
        ]

    def _summary_object(self, request: HttpRequest, pk: int) -> Encounter:
        if not request.user.has_perm(PERM_SUMMARY):
            raise PermissionDenied
        return get_object_or_404(Encounter, pk=pk)

    def _summary_response(
        self,
        request: HttpRequest,
        pk: int,
        action: str,
        respond: Callable[[Encounter], HttpResponse],
    ) -> HttpResponse:
        """Every way out for a summary: permission, one access event, never cached."""
        encounter = self._summary_object(request, pk)
        record_access(request, encounter, action)
        response = respond(encounter)
        response["Cache-Control"] = "no-store, private"
        return response

    @allow_methods("GET", "HEAD")
    @requires_second_factor
    @in_clinic_language
    def print_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._summary_response(
            request,
            pk,
            AccessEvent.Action.PRINT,
            lambda encounter: TemplateResponse(
                request,
                "twitch_intake/summary/print.html",
                {"summary": summary.build(encounter), "clinic_name": app_settings.CLINIC_NAME},
            ),
        )

    @allow_methods("GET", "HEAD")
    @requires_second_factor
    @in_clinic_language
    def text_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._summary_response(
            request,
            pk,
            AccessEvent.Action.TEXT,
            lambda encounter: HttpResponse(
                summary.render_text(encounter), content_type="text/plain; charset=utf-8"
            ),
        )

    @allow_methods("GET", "HEAD")
    @requires_second_factor
    @in_clinic_language
    def chart_text_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The plain text for the chart on a page of the admin, with a Copy button (a static
        script: the CSP allows no inline one) that falls back to selecting the text. The same
        text as ``text/`` and the same access event."""
        return self._summary_response(
            request,
            pk,
            AccessEvent.Action.TEXT,
            lambda encounter: TemplateResponse(
                request,
                "admin/twitch_intake/encounter/chart_text.html",
                {
                    **self.admin_site.each_context(request),
                    **self._staff_context(None),
                    "title": gettext("Text for the chart"),
                    "opts": self.model._meta,
                    "original": encounter,
                    "text": summary.render_text(encounter),
                },
            ),
        )

    @allow_methods("GET", "HEAD")
    @requires_second_factor
    @in_clinic_language
    def fhir_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        def download(encounter: Encounter) -> HttpResponse:
            response = HttpResponse(
                json.dumps(fhir.response_json(encounter), indent=2, ensure_ascii=False),
                content_type="application/fhir+json; charset=utf-8",
            )
            response["Content-Disposition"] = (
                f'attachment; filename="questionnaire-response-{encounter.pk}.json"'
            )
            return response

        return self._summary_response(request, pk, AccessEvent.Action.EXPORT, download)

    @allow_methods("POST")
    @requires_second_factor
    @in_clinic_language
    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm(PERM_REVIEW):
            raise PermissionDenied
        encounter = get_object_or_404(Encounter, pk=pk)
        if encounter.status == Status.SUBMITTED:
            services.mark_reviewed(encounter.pk, request.user)
            self.message_user(request, gettext("Marked reviewed."), messages.SUCCESS)
            self.message_user(request, self._next_unreviewed(pk), messages.INFO)
        else:
            self.message_user(
                request,
                gettext("Only a submitted intake can be marked reviewed."),
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:twitch_intake_encounter_change", args=[pk]))

    @staticmethod
    def _next_unreviewed(pk: int) -> str:
        """The way on after "Marked reviewed.": the next submitted intake nobody has reviewed,
        in the queue's order, or that none is left. Only its address, never a name: messages
        travel in a cookie."""
        following = (
            Encounter.objects.filter(status=Status.SUBMITTED)
            .exclude(pk=pk)
            .in_queue_order()
            .values_list("pk", flat=True)
            .first()
        )
        if following is None:
            return gettext("No unreviewed intakes are left.")
        return format_html(
            '<a class="ti-next-unreviewed" href="{}">{}</a>',
            reverse("admin:twitch_intake_encounter_change", args=[following]),
            gettext("Open the next unreviewed intake"),
        )

    @allow_methods("POST")
    @requires_second_factor
    @in_clinic_language
    def acknowledge_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Acknowledge an emergency (submitted or not) from its page; any problem with the form
        is a message on that page. The note is never logged."""
        if not may_acknowledge(request.user):
            raise PermissionDenied
        get_object_or_404(Encounter, pk=pk)
        back = HttpResponseRedirect(reverse("admin:twitch_intake_encounter_change", args=[pk]))
        form = AcknowledgeForm(request.POST)
        if not form.is_valid():
            for name, errors in form.errors.items():
                for error in errors:
                    label = form.fields[name].label if name in form.fields else ""
                    self.message_user(request, f"{label}: {error}", messages.ERROR)
            return back
        result = services.acknowledge_emergency(
            pk,
            request.user,
            form.cleaned_data["kind"],
            form.cleaned_data["note"],
            client_address(request),
        )
        if result.refused == services.AcknowledgeRefused.NOT_EMERGENCY:
            self.message_user(
                request, gettext("Only an emergency can be acknowledged."), messages.WARNING
            )
        elif result.refused == services.AcknowledgeRefused.ALREADY:
            self.message_user(
                request,
                gettext("Someone acknowledged this emergency first; theirs is kept."),
                messages.WARNING,
            )
        else:
            self.message_user(request, gettext("Emergency acknowledged."), messages.SUCCESS)
        return back

    @allow_methods("POST")
    @in_clinic_language
    def link_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """ "Send invitation" / "Send new link": a new link to the patient's own contact, by
        the queue; the page only says it is on its way."""
        if not request.user.has_perm(PERM_LINK):
            raise PermissionDenied
        get_object_or_404(Encounter, pk=pk)
        self._send(request, pk)
        return HttpResponseRedirect(reverse("admin:twitch_intake_encounter_change", args=[pk]))

    @allow_methods("POST")
    def letter_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A printable invitation with a new link as a QR code, for a patient without email or a
        phone; only while the intake holds no answers (whoever sees a link could open them).
        A POST, since it revokes the link before; the page is never cached."""
        if not request.user.has_perm(PERM_LINK):
            raise PermissionDenied
        get_object_or_404(Encounter, pk=pk)
        issued = services.issue_link(pk, request.user, client_address(request))
        if issued.refused:
            self.message_user(
                request,
                gettext(
                    "The patient has started answering, so a new link cannot be shown here or "
                    "printed: anyone who saw it could open their answers. A new link can only be "
                    "sent to the patient's own contact on record."
                )
                if issued.refused == services.LinkRefused.STARTED
                else gettext("This intake was already sent; it needs no new link."),
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:twitch_intake_encounter_change", args=[pk]))
        encounter = issued.encounter
        with translation.override(services.patient_language(encounter)):
            context = services.message_context(encounter, issued.token)
            context["qr"] = letters.qr_data_uri(context["link"])
            context["expires_at"] = encounter.token_expires_at
            context["patient_name"] = encounter.patient_name
            response = TemplateResponse(request, "twitch_intake/letter.html", context)
            response.render()
        response["Cache-Control"] = "no-store, private"
        return response

    def _send(self, request: HttpRequest, pk: int) -> None:
        result = services.send_invitation(pk, request.user, client_address(request))
        if result.refused == services.InviteRefused.SUBMITTED:
            self.message_user(
                request,
                gettext("This intake was already sent; it needs no new link."),
                messages.WARNING,
            )
        elif result.refused == services.InviteRefused.VISIT_PASSED:
            self.message_user(
                request,
                gettext("The visit is over: no link was sent. Change the visit first."),
                messages.ERROR,
            )
        elif result.refused == services.InviteRefused.NO_SMS:
            self.message_user(
                request,
                gettext("This clinic does not send text messages: choose email or a letter."),
                messages.ERROR,
            )
        elif result.refused:
            self.message_user(
                request,
                gettext(
                    "Enter the patient's email or mobile number and how to send the link, then "
                    "send it. The link is never shown here."
                ),
                messages.ERROR,
            )
        else:
            channel = Channel(result.encounter.preferred_channel).label
            self.message_user(
                request,
                gettext(
                    "The link is on its way to the patient by %(channel)s; any earlier link no "
                    "longer works. Its delivery is recorded below."
                )
                % {"channel": str(channel).lower()},
                messages.SUCCESS,
            )


def _bad_form_is_400(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A POST whose form came back with errors (an invalid email or number) is a 400: the page
    with the form and the messages beside the fields, never a 500 or a 200 that looks saved."""
    if request.method == "POST" and isinstance(response, TemplateResponse):
        adminform = (response.context_data or {}).get("adminform")
        if adminform is not None and adminform.form.errors:
            response.status_code = 400
    return response


def _who(event: AccessEvent) -> str:
    """Who looked: the person's name and username ("Ana Ruiz (aruiz)"); "–" for the patient
    (their link: the action says so)."""
    if event.user is None:
        return "–"
    name = event.user.get_full_name()
    return f"{name} ({event.user.get_username()})" if name else event.user.get_username()


@admin.register(AccessEvent)
class AccessEventAdmin(StaffScreens, _AccessEventAdminBase):
    """The access log: superusers may read it; nobody may change it (the database agrees).
    Who by name and when in the clinic's time, on the list and on each entry."""

    list_display = ("when", "action", "who", "encounter_id", "client_address")
    fields = ("when", "action", "who", "encounter", "client_address")
    readonly_fields = ("when", "who")

    class Media:
        css = {"all": ["twitch_intake/admin.css"]}

    list_filter = ("action", "at")
    date_hierarchy = "at"
    list_select_related = ("user",)
    search_fields = ("=encounter__id", "user__username")

    @admin.display(description=_("at"), ordering="at")
    def when(self, obj: AccessEvent) -> str:
        return format_html('<span class="ti-when">{}</span>', display.local_datetime(obj.at))

    @admin.display(description=_("user"), ordering="user__username")
    def who(self, obj: AccessEvent) -> str:
        return _who(obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: AccessEvent | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AccessEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AccessEvent | None = None) -> bool:
        return False
