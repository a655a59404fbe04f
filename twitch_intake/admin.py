"""The clinician's side: a triage queue, the summary, review, print/text/FHIR views, links.

Built only from ModelAdmin's documented hooks. Who sees what:

* ``view_summary`` (Clinicians): the summary and answers, print, text and FHIR views. Every one
  of those looks writes an :class:`AccessEvent`.
* ``review_encounter`` (Clinicians): "Mark reviewed".
* ``issue_link`` (Front desk): a new patient link, shown once.
* Without ``view_summary`` (Front desk) the queue shows no level or flags and the encounter page
  only the patient's details.

Answers are never editable here: they are not a form field at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import display, fhir, services, summary, triage
from .conf import app_settings
from .mfa import requires_second_factor
from .models import AccessEvent, Encounter, Status
from .ratelimit import client_address

PERM_SUMMARY = "twitch_intake.view_summary"
PERM_REVIEW = "twitch_intake.review_encounter"
PERM_LINK = "twitch_intake.issue_link"


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


def record_access(request: HttpRequest, encounter: Encounter, action: str) -> None:
    AccessEvent.objects.create(
        encounter=encounter,
        user=request.user,
        action=action,
        client_address=client_address(request) or None,
    )


class FlagFilter(admin.SimpleListFilter):
    title = _("flag")
    parameter_name = "flag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(rule.code, rule.label) for rule in triage.RULES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Encounter]) -> QuerySet[Encounter]:
        if self.value() in triage.FLAG_CODES:
            return queryset.filter(flags__contains=[self.value()])  # uses the GIN index
        return queryset


@admin.register(Encounter)
class EncounterAdmin(admin.ModelAdmin):
    list_display = (
        "patient_name",
        "level_badge",
        "flag_chips",
        "status",
        "visit_at",
        "record_number",
    )
    list_display_links = ("patient_name",)
    list_filter = ("level", FlagFilter, "status", "visit_at")
    search_fields = ("patient_name", "record_number")
    date_hierarchy = "visit_at"
    list_per_page = 50
    show_full_result_count = False
    # No bulk actions: health records are not deleted in bulk, and the queue renders faster.
    actions = None
    #: What the intake itself set: shown, never edited here.
    intake_fields = (
        "status",
        "submitted_at",
        "reviewed_at",
        "reviewed_by",
        "token_expires_at",
        "questionnaire_version",
        "language",
    )
    fieldsets = (
        (_("Patient"), {"fields": ("patient_name", "date_of_birth", "record_number", "visit_at")}),
        (_("Intake"), {"fields": intake_fields}),
    )
    readonly_fields = intake_fields
    change_form_template = "admin/twitch_intake/encounter/change_form.html"
    change_list_template = "admin/twitch_intake/encounter/change_list.html"

    class Media:
        css = {"all": ["twitch_intake/summary.css", "twitch_intake/admin.css"]}

    # --- the queue ------------------------------------------------------------------------

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        if request.user.has_perm(PERM_SUMMARY):
            return self.list_display
        return ("patient_name", "status", "visit_at", "record_number")

    def get_list_filter(self, request: HttpRequest) -> tuple[Any, ...]:
        if request.user.has_perm(PERM_SUMMARY):
            return self.list_filter
        return ("status", "visit_at")

    #: All that a user without ``view_summary`` may filter the queue by: the patient's details and
    #: the status. Any other field is taken from the answers (level, flags, the emergency alert)
    #: and would show through a hand-made address such as ``?level__exact=emergency``.
    PATIENT_LOOKUPS = frozenset(
        {"patient_name", "date_of_birth", "record_number", "visit_at", "status"}
    )

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if (
            not request.user.has_perm(PERM_SUMMARY)
            and lookup.split(LOOKUP_SEP)[0] not in self.PATIENT_LOOKUPS
        ):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_ordering(self, request: HttpRequest) -> Any:
        if request.user.has_perm(PERM_SUMMARY):
            return super().get_ordering(request)
        # The queue's own order is the triage result, emergencies first: visit order reveals nothing.
        return ("visit_at",)

    @admin.display(description=_("level"), ordering="level")
    def level_badge(self, obj: Encounter) -> str:
        if not obj.level:
            return "–"
        return format_html(
            '<span class="ti-level ti-level-{}">{}</span>', obj.level, obj.get_level_display()
        )

    @admin.display(description=_("flags"), ordering="-flag_count")
    def flag_chips(self, obj: Encounter) -> str:
        labels = {rule.code: rule.label for rule in triage.RULES}
        return format_html_join(
            " ",
            '<span class="ti-chip ti-chip-{}">{}</span>',
            ((code, labels.get(code, code)) for code in obj.flags),
        )

    @requires_second_factor
    @in_clinic_language
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = extra_context or {}
        if request.user.has_perm(PERM_SUMMARY):
            extra_context["unreviewed_emergencies"] = Encounter.objects.filter(
                level=triage.Level.EMERGENCY, status=Status.SUBMITTED
            ).count()
        return super().changelist_view(request, extra_context)

    # --- the encounter page -----------------------------------------------------------------

    def has_delete_permission(self, request: HttpRequest, obj: Encounter | None = None) -> bool:
        # Health records are kept; an encounter someone has looked at cannot go (its access
        # log holds it), and one that has answers should not be removed from the admin.
        if obj is not None and (obj.answers or obj.is_submitted):
            return False
        return super().has_delete_permission(request, obj)

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
            extra_context.update(
                can_view_summary=user.has_perm(PERM_SUMMARY),
                can_review=user.has_perm(PERM_REVIEW) and obj.status == Status.SUBMITTED,
                can_issue_link=user.has_perm(PERM_LINK) and not obj.is_submitted,
            )
            if user.has_perm(PERM_SUMMARY) and obj.answers:
                extra_context["summary"] = summary.build(obj)
                extra_context["answer_sections"] = display.answer_sections(obj.answers)
                if request.method == "GET":
                    record_access(request, obj, AccessEvent.Action.VIEW)
        response = super().change_view(request, object_id, form_url, extra_context)
        if "summary" in extra_context:
            response["Cache-Control"] = "no-store, private"
        return response

    def response_add(
        self, request: HttpRequest, obj: Encounter, post_url_continue: str | None = None
    ) -> HttpResponse:
        if request.user.has_perm(PERM_LINK):
            return self._show_new_link(request, obj, created=True)
        return super().response_add(request, obj, post_url_continue)

    # --- extra views ------------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/print/", wrap(self.print_view), name="twitch_intake_encounter_print"),
            path("<int:pk>/text/", wrap(self.text_view), name="twitch_intake_encounter_text"),
            path("<int:pk>/fhir/", wrap(self.fhir_view), name="twitch_intake_encounter_fhir"),
            path("<int:pk>/review/", wrap(self.review_view), name="twitch_intake_encounter_review"),
            path("<int:pk>/link/", wrap(self.link_view), name="twitch_intake_encounter_link"),
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

    @staticmethod
    def _post_only(request: HttpRequest) -> None:
        if request.method != "POST":
            raise PermissionDenied

    @requires_second_factor
    @in_clinic_language
    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._post_only(request)
        if not request.user.has_perm(PERM_REVIEW):
            raise PermissionDenied
        encounter = get_object_or_404(Encounter, pk=pk)
        if encounter.status == Status.SUBMITTED:
            services.mark_reviewed(encounter.pk, request.user)
            self.message_user(request, gettext("Marked reviewed."), messages.SUCCESS)
        else:
            self.message_user(
                request,
                gettext("Only a submitted intake can be marked reviewed."),
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:twitch_intake_encounter_change", args=[pk]))

    @in_clinic_language
    def link_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._post_only(request)
        if not request.user.has_perm(PERM_LINK):
            raise PermissionDenied
        encounter = get_object_or_404(Encounter, pk=pk)
        if encounter.is_submitted:
            self.message_user(
                request,
                gettext("This intake was already sent; it needs no new link."),
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:twitch_intake_encounter_change", args=[pk]))
        return self._show_new_link(request, encounter, created=False)

    def _show_new_link(
        self, request: HttpRequest, encounter: Encounter, created: bool
    ) -> HttpResponse:
        """Make a link and show it this once: only its hash is kept, so it cannot be shown again."""
        token = encounter.issue_link()
        encounter.save(
            update_fields=["token_hash", "token_expires_at", "dob_failures", "locked_until"]
        )
        url = request.build_absolute_uri(reverse("twitch_intake:link", args=[token]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": encounter,
            "title": _("Patient link"),
            "link": url,
            "created": created,
            "expires_at": encounter.token_expires_at,
        }
        response = TemplateResponse(request, "admin/twitch_intake/encounter/link.html", context)
        response["Cache-Control"] = "no-store, private"
        return response


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    """The access log: superusers may read it; nobody may change it (the database agrees)."""

    list_display = ("at", "action", "user", "encounter_id", "client_address")
    list_filter = ("action", "at")
    date_hierarchy = "at"
    list_select_related = ("user",)
    search_fields = ("=encounter__id", "user__username")

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
