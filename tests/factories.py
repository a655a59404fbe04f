"""Small builders for test data: complete, valid answers and encounters in any state."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urljoin

from django.utils import timezone

from twitch_intake import services
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE


def routine_answers(**overrides: Any) -> dict[str, Any]:
    """A complete intake that raises no red flag."""
    answers: dict[str, Any] = {
        "emergency-signs": ["none"],
        "duration": "days",
        "onset": "sudden",
        "course": "better",
        "severity": "mild",
        "frequency": "daily",
        "movement": ["flicker"],
        "locations": ["eyelid"],
        "side": "left",
        "more-than-one-location": False,
        "pattern": "comes-and-goes",
        "episode-length": "seconds",
        "other-symptoms": ["none"],
        "recent-emergency": False,
        "family-history": "no",
        "medications": "",
        "medication-flags": ["none"],
        "conditions": "",
        "condition-flags": ["none"],
        "pregnancy": "not-applicable",
        "triggers": ["none"],
        "notes": "",
        "answered-by": "patient",
    }
    answers.update(overrides)
    return {k: v for k, v in answers.items() if v is not None and v != ""}


def answers_1_0_0(**overrides: Any) -> dict[str, Any]:
    """A complete routine intake as questionnaire 1.0.0 asked it: none of 1.1.0's questions."""
    current = routine_answers(**overrides)
    old = TWITCH_INTAKE.as_of("1.0.0")
    return {link_id: value for link_id, value in current.items() if old.has_question(link_id)}


def emergency_answers(**overrides: Any) -> dict[str, Any]:
    """A complete intake with two emergency signs, and the patient's answer on the get-care
    page (required once a sign is ticked)."""
    return routine_answers(
        **{
            "emergency-signs": ["seizure", "severe-headache"],
            "emergency-action": "getting-care-now",
            **overrides,
        }
    )


def rich_answers() -> dict[str, Any]:
    """Every question answered, every kind of value, several flags."""
    return routine_answers(
        **{
            "emergency-signs": ["vision-change"],
            "emergency-action": "already-seen",
            "duration": "long-term",
            "severity": "severe",
            "locations": ["eyelid", "thigh", "calf", "other"],
            "locations-other": "left big toe",
            "more-than-one-location": True,
            "pattern": "comes-and-goes",
            "episode-length": "minutes",
            "other-symptoms": ["weakness", "muscle-loss", "cramps"],
            "weakness-where": "right hand",
            "medications": "Sertraline 50 mg\nVitamin D",
            "medication-flags": ["stimulant", "diuretic"],
            "conditions": "Asthma",
            "condition-flags": ["nerve-damage", "thyroid-disease"],
            "triggers": ["caffeine", "poor-sleep"],
            "notes": "Worse after night shifts.",
        }
    )


def every_flag_answers() -> dict[str, Any]:
    """A complete intake that raises every flag of the contract, red and context."""
    return routine_answers(
        **{
            **rich_answers(),
            "course": "worse",
            "locations": ["eyelid", "tongue", "thigh", "calf", "other"],
            "other-symptoms": [
                "weakness",
                "muscle-loss",
                "cramps",
                "numbness-tingling",
                "trouble-swallowing",
                "speech-change",
                "breathless",
            ],
            "recent-emergency": True,
            "recent-emergency-signs": ["seizure"],
            "family-history": "yes",
            "medications": "Sertraline 50 mg\nXanax 0.5 mg",
            "pregnancy": "yes",
        }
    )


def make_encounter(**fields: Any) -> Encounter:
    defaults: dict[str, Any] = {
        "patient_name": "Ada Example",
        "date_of_birth": dt.date(1980, 5, 17),
        "visit_at": timezone.now() + dt.timedelta(days=3),
    }
    defaults.update(fields)
    return Encounter.objects.create(**defaults)


def make_submitted(answers: dict[str, Any] | None = None, **fields: Any) -> Encounter:
    """An encounter submitted through the same path the patient's Submit takes."""
    encounter = make_encounter(answers=answers or routine_answers(), **fields)
    result = services.submit(encounter.pk)
    assert result.ok, result.problems
    return result.encounter


#: Every page of the patient form, in order (a group may be several pages; the first is named
#: after the group).
PAGE_IDS = [page.slug for page in TWITCH_INTAKE.pages()]


def page_data(slug: str, answers: dict[str, Any]) -> dict[str, Any]:
    """What the browser posts for one page: linkIds, yes/no, repeated keys, ``_revealed``."""
    page = TWITCH_INTAKE.page(slug)
    data: dict[str, Any] = {}
    for question in page.questions:
        if question.link_id in answers:
            value = answers[question.link_id]
            data[question.link_id] = (
                ("yes" if value else "no") if isinstance(value, bool) else value
            )
    revealed = [q.link_id for q in page.questions if q.show_when and q.is_enabled(answers)]
    data["_revealed"] = " ".join(revealed)
    return data


#: Where the patient is sent the moment an emergency sign is saved; the page also asks what
#: they are doing about it (``emergency-action``), which no page of the form asks.
GET_CARE_URL = "/intake/get-care-now/"


def get_care_data(answers: dict[str, Any]) -> dict[str, Any]:
    """What the get-care page's small form posts for ``answers``."""
    return {
        q.link_id: answers[q.link_id]
        for q in TWITCH_INTAKE.emergency_responses()
        if q.link_id in answers
    }


def answer_get_care(client: Any, response: Any, answers: dict[str, Any]) -> Any:
    """After a page's post: if it sent the patient to the get-care page, answer its question
    there as ``answers`` say (a redirect back to that page), as the patient would."""
    if response.status_code == 302 and response["Location"] == GET_CARE_URL:
        answered = client.post(GET_CARE_URL, get_care_data(answers))
        assert answered.status_code == 302, answered.status_code
        return answered
    return None


def issue(encounter: Encounter) -> str:
    """A new link for ``encounter``, saved; returns the token the patient would be sent."""
    token = encounter.issue_link()
    encounter.save()
    return token


def staff_group(name: str) -> Any:
    """One of the migration's staff groups, made again as the migration makes it if a
    transactional test's flush emptied it (the flush puts back content types and permissions)."""
    import importlib

    from django.contrib.auth.models import Group, Permission

    roles = importlib.import_module("twitch_intake.migrations.0002_clinician_and_front_desk_groups")
    group, created = Group.objects.get_or_create(name=name)
    if created:
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label="twitch_intake", codename__in=roles.ROLES[name]
            )
        )
    return group


def birth_date_boxes(day: str = "17", month: str = "5", year: str = "1980") -> dict[str, str]:
    """The date of birth as the patient types it in the day, month and year boxes (by default
    make_encounter's)."""
    return {"date_of_birth_day": day, "date_of_birth_month": month, "date_of_birth_year": year}


def refused_post(client: Any, url: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
    """POST ``data`` to ``url``, which refuses it: the answer is a 303 to ``url`` itself
    (redirect after POST, so a refresh resends nothing); returns the page its GET shows.
    The link's page says "./" (its token is then in no header), which resolves to ``url``."""
    response = client.post(url, data or {}, follow=True, **extra)
    chain = [(urljoin(url, location), status) for location, status in response.redirect_chain]
    assert chain == [(url, 303)], response.redirect_chain
    return response
