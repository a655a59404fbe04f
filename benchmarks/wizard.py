"""The peer: the same questionnaire as a django-formtools ``SessionWizardView`` (issue #20).

What a Django developer would build with the well-known library instead of our intake, so that
``make bench`` compares the two in one run on one machine rather than against a figure measured
once elsewhere. It is built to be fair to the peer and to ours:

- the same questions, from ``TWITCH_INTAKE``: one step per *group* (formtools' own unit), the
  app's own form fields, crispy layout and templates (``PageForm`` via ``form_class``), a
  review step, then ``done()``;
- the same start as ours: the invitation's link opens a date-of-birth step, checked by the same
  service call (``services.check_birth_date``: row lock, lockout, access event), with the same
  rate limit and a new session key on success;
- the same row at the end: the answers written to the patient's ``Encounter`` in one UPDATE,
  then the same ``services.submit`` ours calls (validation, triage with history, digest, alert);
- the same gunicorn, settings and middleware stack (it is mounted in ``benchmarks.urls``).

What differs is what formtools does: a POST renders the next step directly (no redirect, so
one request per step instead of POST, redirect, GET), every step's data lives in the session
until ``done()`` (nothing is saved in the database before the end, so no emergency sign is
acted on before submit and no get-care page is shown), a GET restarts the wizard (so a refresh
loses the answers), and ``done()`` validates every step again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cache
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language, gettext
from formtools.wizard.views import SessionWizardView

from twitch_intake import display, history, questionnaire, ratelimit, services, triage
from twitch_intake.conf import app_settings
from twitch_intake.forms import ConfirmBirthDateForm, PageForm, form_class
from twitch_intake.models import Encounter
from twitch_intake.steps import Steps

IDENTIFY = "identify"
REVIEW = "review"
#: The management form's prefix formtools derives from the view's class name.
PREFIX = "peer_wizard"


class IdentifyForm(ConfirmBirthDateForm):
    """The date of birth, checked by ``verify`` (the view's service call) as the field cleans."""

    def __init__(self, *args: Any, verify: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verify = verify

    def clean_date_of_birth(self) -> Any:
        born = self.cleaned_data["date_of_birth"]
        if self.verify is not None and not self.verify(born):
            raise ValidationError(
                gettext("That date does not match what the clinic has. Check it and try again."),
                code="mismatch",
            )
        return born


class ReviewForm(forms.Form):
    """The review step: nothing to fill in, a button to send."""


@cache
def group_page(group: questionnaire.Group) -> questionnaire.Page:
    """A whole group as one page; the get-care question is asked on its group's step (the
    wizard shows no get-care page), as a follow-up like any other."""
    questions = tuple(dataclasses.replace(q, emergency_response=False) for q in group.questions)
    return questionnaire.Page(f"wizard-{group.link_id}", group, questions)


def form_list() -> list[tuple[str, type[forms.Form]]]:
    groups = questionnaire.TWITCH_INTAKE.groups
    return [
        (IDENTIFY, IdentifyForm),
        *((g.link_id, form_class(group_page(g))) for g in groups),
        (REVIEW, ReviewForm),
    ]


def _context(**extra: Any) -> dict[str, Any]:
    return {**app_settings.contact(), **extra}


class PeerWizard(SessionWizardView):  # type: ignore[misc]
    form_list = form_list()
    template_name = "benchmarks/wizard/step.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The link (``token``) starts the wizard afresh, as ours opens the link page."""
        token = kwargs.get("token")
        encounter = Encounter.objects.with_token(token).first() if token else None
        if encounter is None or not encounter.link_usable(timezone.now()):
            return render(request, "twitch_intake/link_unusable.html", _context(), status=404)
        response: HttpResponse = super().get(request, *args, **kwargs)  # resets the storage
        self.storage.extra_data = {"link": encounter.token_hash}
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.storage.extra_data.get("link"):
            return render(request, "twitch_intake/session_ended.html", _context(), status=403)
        if self.steps.current == IDENTIFY and not ratelimit.take(request, "link"):
            return ratelimit.limited_response(request)
        response: HttpResponse = super().post(request, *args, **kwargs)
        return response

    def _verify(self, born: Any) -> bool:
        """The same service call as ours; once matched, ``done()``'s second validation of this
        step is not a second guess."""
        extra = self.storage.extra_data
        if extra.get("id"):
            return True
        check = services.check_birth_date(
            extra["link"],
            born,
            timezone.now(),
            client_address=ratelimit.client_address(self.request) or None,
        )
        if check.outcome is not services.BirthDate.MATCHED or check.encounter is None:
            return False
        ratelimit.give_back(self.request, "link")
        self.request.session.cycle_key()  # a new session id at sign-in, as ours (data kept)
        self.storage.extra_data = {**extra, "id": check.encounter.pk}
        return True

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        if step == IDENTIFY:
            return {"verify": self._verify}
        return {}

    def answers(self) -> dict[str, Any]:
        """What every group step stored, as the questionnaire's answers (each step validated
        again, as formtools' ``get_cleaned_data_for_step`` does)."""
        answers: dict[str, Any] = {}
        for step in self.get_form_list():
            if step in (IDENTIFY, REVIEW):
                continue
            form = self.get_form(step, data=self.storage.get_step_data(step))
            if form.is_valid():
                answers.update(form.answers)
        return answers

    def get_context_data(self, form: forms.Form, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(form=form, **kwargs)
        context.update(_context())
        step = self.steps.current
        if step == REVIEW:
            context["sections"] = display.answer_sections(self.answers())
            context["title"] = gettext("Check your answers")
        elif step == IDENTIFY:
            context["title"] = gettext("Your form before your visit")
        else:
            group = questionnaire.TWITCH_INTAKE.group(step)
            context.update(title=group.title, intro=group.intro)
        return context

    def done(self, form_list: Sequence[forms.Form], **kwargs: Any) -> HttpResponse:
        answers: dict[str, Any] = {}
        for form in form_list:
            if isinstance(form, PageForm):
                answers.update(form.answers)
        pk = self.storage.extra_data["id"]
        session_key = self.request.session.session_key
        with history.acting(history.patient(session_key), "wizard"), transaction.atomic():
            Encounter.objects.filter(pk=pk, submitted_at__isnull=True).update(
                answers=answers,
                completed_groups=list(Steps.of(()).all),
                questionnaire_version=questionnaire.TWITCH_INTAKE.version,
                status=Encounter.Status.IN_PROGRESS,
                language=get_language() or "",
                updated_at=timezone.now(),
            )
        result = services.submit(pk, session_key=session_key)
        if not result.ok:  # the steps were each valid: the whole response is too
            return render(self.request, "twitch_intake/unavailable.html", _context(), status=400)
        encounter = result.encounter
        return render(
            self.request,
            "twitch_intake/thanks.html",
            _context(
                emergency=encounter.level == triage.Level.EMERGENCY,
                advice=questionnaire.TWITCH_INTAKE.after_advice(encounter.answers),
            ),
        )
