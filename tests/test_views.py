"""The patient's side, walked with the test client: link, date of birth, pages, review, submit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import pytest
from django.core import mail
from django.db.models import F
from django.test import Client
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.factories import (
    PAGE_IDS,
    answer_get_care,
    answers_1_0_0,
    emergency_answers,
    issue,
    make_encounter,
    page_data,
    refused_post,
    rich_answers,
    routine_answers,
)
from twitch_intake import questionnaire, services, tasks
from twitch_intake.models import Encounter, RateLimitCounter
from twitch_intake.questionnaire import TWITCH_INTAKE

DOB = "1980-05-17"  # make_encounter's date of birth
#: Each group's first page: the review page's "Change" links.
GROUP_IDS = [g.link_id for g in TWITCH_INTAKE.groups]
PAGE_URL = "/intake/page/{}/"
EMERGENCY_URL = "/intake/get-care-now/"
REVIEW_URL = "/intake/review/"
SUBMIT_URL = "/intake/submit/"
THANKS_URL = "/intake/thanks/"
#: Every redirect after the link: a fixed path, never a token or an encounter id.
CLEAN_LOCATION = re.compile(r"^/intake/(page/[a-z-]+/|get-care-now/|review/|thanks/)$")


# --- Reading pages --------------------------------------------------------------------------

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in _VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


class Page:
    """Just enough of a parsed intake page to ask what a patient would see."""

    def __init__(self, response: Any) -> None:
        builder = _TreeBuilder()
        builder.feed(response.content.decode())
        builder.close()
        self.root = builder.root

    def by_id(self, element_id: str) -> Node | None:
        return next((n for n in self.root.iter() if n.attrs.get("id") == element_id), None)

    def inputs(self, name: str) -> list[Node]:
        return [
            n
            for n in self.root.iter()
            if n.tag in ("input", "textarea") and n.attrs.get("name") == name
        ]

    def checked(self, name: str) -> list[str]:
        return [n.attrs["value"] or "" for n in self.inputs(name) if "checked" in n.attrs]

    def options(self, name: str) -> list[str]:
        return [n.attrs["value"] or "" for n in self.inputs(name)]

    def value(self, name: str) -> str:
        (node,) = self.inputs(name)
        if node.tag == "textarea":
            return node.text().removeprefix("\n")  # Django puts a newline after <textarea>
        return node.attrs.get("value") or ""

    def error(self, link_id: str) -> str | None:
        node = self.by_id(f"id_{link_id}_error")
        # Less the "Error:" a screen reader hears first (visually hidden, as GOV.UK does).
        return " ".join(node.text().split()).removeprefix("Error: ") if node else None

    def described_by_error(self, link_id: str) -> bool:
        target = f"id_{link_id}_error"
        return any(
            target in (n.attrs.get("aria-describedby") or "").split() for n in self.root.iter()
        )

    def summary_links(self) -> list[str]:
        summaries = [n for n in self.root.iter() if "error-summary" in n.classes()]
        return [a.attrs.get("href") or "" for s in summaries for a in s.iter() if a.tag == "a"]

    def shown(self, link_id: str) -> bool:
        node = self.by_id(f"div_id_{link_id}")
        if node is None:
            return False
        return not any("d-none" in a.classes() for a in [node, *node.ancestors()])

    def text(self) -> str:
        return " ".join(self.root.text().split())

    def title(self) -> str:
        (node,) = [n for n in self.root.iter() if n.tag == "title"]
        return " ".join(node.text().split())


# --- Driving the flow -----------------------------------------------------------------------


class IntakeClient(Client):
    """A test client that keeps every response, so a test can check all of them at the end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses: list[Any] = []

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        response.path = request["PATH_INFO"]
        self.responses.append(response)
        return response


@pytest.fixture
def client() -> IntakeClient:
    return IntakeClient()


def sign_in(client: Client, encounter: Encounter, token: str | None = None) -> str:
    token = token or issue(encounter)
    response = client.post(f"/intake/link/{token}/", {"date_of_birth": DOB})
    assert response.status_code == 302, response.status_code
    return token


def answer_pages(
    client: Client, answers: dict[str, Any], pages: list[str] | None = None
) -> list[str]:
    """Post each page; every one must be accepted. Returns where each post redirected."""
    locations = []
    for group in pages or PAGE_IDS:
        response = client.post(PAGE_URL.format(group), page_data(group, answers))
        assert response.status_code == 302, (group, response.status_code)
        # Back to the page itself: refused (every post is redirected), not saved.
        assert response["Location"] != PAGE_URL.format(group), (group, "refused")
        locations.append(response["Location"])
        answer_get_care(client, response, answers)
    return locations


def row(encounter: Encounter) -> dict[str, Any]:
    """Every stored column of the encounter, read fresh."""
    fresh = Encounter.objects.get(pk=encounter.pk)
    return {f.attname: getattr(fresh, f.attname) for f in Encounter._meta.concrete_fields}


def set_intake_settings(settings: Any, **values: Any) -> None:
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, **values}


def assert_private(responses: list[Any], token: str | None = None) -> None:
    intake = [r for r in responses if r.path.startswith("/intake/")]
    assert intake
    for response in intake:
        assert "no-store" in response["Cache-Control"], response.path
        assert response["Referrer-Policy"] == "same-origin", response.path
        if response.has_header("Location"):
            if token:
                assert token not in response["Location"]
            if _sees_itself(response):
                continue  # a refused POST of a page outside the intake: back to itself
            assert CLEAN_LOCATION.match(response["Location"]), response["Location"]
            if token:
                assert token not in response["Location"]


def _sees_itself(response: Any) -> bool:
    """A 303 back to the very URL that was posted to: the link's page (as "./", so the
    token is in no header), the start or the continue page."""
    return (
        response.status_code == 303
        and urljoin(response.path, response["Location"]) == response.path
        and (
            response["Location"] == "./"
            if response.path.startswith("/intake/link/")
            else response.path in {"/intake/start/", "/intake/continue/"}
        )
    )


def summary_target(link_id: str) -> str:
    """The id an error summary's link goes to: a text box, or a fieldset's first input."""
    question = TWITCH_INTAKE.question(link_id)
    return f"id_{link_id}" if question.is_free_text else f"id_{link_id}_0"


def refused(client: Client, slug: str, data: dict[str, Any]) -> Any:
    """Post a page that is not saved: it redirects to itself; the page it shows then."""
    response = client.post(PAGE_URL.format(slug), data)
    assert response.status_code == 303, response.status_code  # see the page again
    assert response["Location"] == PAGE_URL.format(slug)
    return client.get(PAGE_URL.format(slug))


def label(link_id: str, code: str) -> str:
    return str(TWITCH_INTAKE.question(link_id).label(code))


@pytest.fixture
def encounter(db: Any) -> Encounter:
    return make_encounter()


#: A complete intake whose free text is easy to look for where it must not appear.
SECRET_ANSWERS = rich_answers() | {
    "locations-other": "secret-place",
    "weakness-where": "secret-weakness",
    "medications": "secret-medicine",
    "conditions": "secret-condition",
    "notes": "secret-note",
}


# --- The whole flow -------------------------------------------------------------------------


@pytest.mark.django_db
def test_routine_patient_walks_the_whole_flow(
    client, encounter, django_capture_on_commit_callbacks
):
    token = issue(encounter)
    response = client.get(f"/intake/link/{token}/")
    assert response.status_code == 200
    assert Page(response).inputs("date_of_birth_day")

    response = client.post(f"/intake/link/{token}/", {"date_of_birth": DOB})
    assert response["Location"] == PAGE_URL.format("emergency")

    answers = routine_answers(notes="Started after a new job.")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for index, slug in enumerate(PAGE_IDS):
            page = Page(client.get(PAGE_URL.format(slug)))
            assert f"Step {index + 1} of 11" in page.text()
            response = client.post(PAGE_URL.format(slug), page_data(slug, answers))
            following = PAGE_IDS[index + 1] if index + 1 < len(PAGE_IDS) else None
            assert response["Location"] == (PAGE_URL.format(following) if following else REVIEW_URL)
    assert callbacks == []
    # No emergency sign: the get-care-now page sends the patient back to where they are.
    assert client.get(EMERGENCY_URL)["Location"] == REVIEW_URL

    review = client.get(REVIEW_URL)
    assert review.status_code == 200
    assert "Started after a new job." in Page(review).text()
    assert label("locations", "eyelid") in Page(review).text()

    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.status == Encounter.Status.IN_PROGRESS
    assert stored.submitted_at is None

    response = client.post(SUBMIT_URL)
    assert response["Location"] == THANKS_URL
    assert client.get(THANKS_URL).status_code == 200

    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.answers == answers
    assert stored.completed_groups == PAGE_IDS
    assert stored.questionnaire_version == TWITCH_INTAKE.version
    assert stored.status == Encounter.Status.SUBMITTED
    assert stored.submitted_at is not None
    assert stored.level == "routine"
    assert stored.flags == []
    assert stored.flag_count == 0
    assert stored.alerted_at is None
    assert mail.outbox == []
    assert_private(client.responses, token)


@pytest.mark.django_db
def test_emergency_patient_is_told_at_once_and_the_clinic_emailed_once(
    client, encounter, settings, django_capture_on_commit_callbacks
):
    set_intake_settings(settings, EMERGENCY_NUMBER="112")
    token = sign_in(client, encounter)
    answers = emergency_answers()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PAGE_URL.format("emergency"), page_data("emergency", answers))
    assert response["Location"] == EMERGENCY_URL

    page = client.get(EMERGENCY_URL)
    assert page.status_code == 200
    text = Page(page).text()
    assert "Call 112 now" in text
    assert "911" not in text
    assert 'href="tel:112"' in page.content.decode()
    for code in answers["emergency-signs"]:
        assert label("emergency-signs", code) in text

    # The save queued the clinic's alert; its job sends the email (run here in-process:
    # tests/test_alerts.py runs it on the real queue and worker).
    assert mail.outbox == []
    [job] = ProcrastinateJob.objects.filter(task_name="twitch_intake.send_emergency_alert")
    tasks.send_emergency_alert(**job.args)
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["on-call@clinic.test"]
    assert (
        f"https://intake.clinic.test/admin/twitch_intake/encounter/{encounter.pk}/change/"
        in email.body
    )
    private = [encounter.patient_name, "Ada", DOB, "1980"]
    for code in answers["emergency-signs"]:
        private += [code, label("emergency-signs", code)]
    for word in private:
        assert word.lower() not in email.subject.lower()
        assert word.lower() not in email.body.lower()
    alerted_at = Encounter.objects.get(pk=encounter.pk).alerted_at
    assert alerted_at is not None

    # Saving page 1 again with the same signs is no new report: nothing more is queued.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            PAGE_URL.format("emergency"),
            page_data("emergency", {"emergency-signs": answers["emergency-signs"]}),
        )
    assert response["Location"] == EMERGENCY_URL
    assert callbacks == []
    assert ProcrastinateJob.objects.count() == 1
    assert Encounter.objects.get(pk=encounter.pk).alerted_at == alerted_at
    # A sign never reported before is a new report: the clinic is alerted again (the job
    # still waiting to be sent covers it, so still one job).
    response = client.post(
        PAGE_URL.format("emergency"), page_data("emergency", {"emergency-signs": ["paralysis"]})
    )
    assert response["Location"] == EMERGENCY_URL
    assert ProcrastinateJob.objects.count() == 1
    realerted = Encounter.objects.get(pk=encounter.pk)
    assert realerted.alerted_at > alerted_at and realerted.alert_sent_at is None
    alerted_at = realerted.alerted_at
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PAGE_URL.format("emergency"), page_data("emergency", answers))
        answer_get_care(client, response, answers)
    assert len(mail.outbox) == 1

    # "Continue the form" goes on to page 2.
    continue_link = next(
        a
        for a in Page(client.get(EMERGENCY_URL)).root.iter()
        if a.tag == "a" and "Continue" in a.text()
    )
    assert continue_link.attrs["href"] == PAGE_URL.format("history")

    with django_capture_on_commit_callbacks(execute=True):
        answer_pages(client, answers, PAGE_IDS[1:])
        assert client.post(SUBMIT_URL)["Location"] == THANKS_URL
    assert len(mail.outbox) == 1
    assert ProcrastinateJob.objects.count() == 1

    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.answers == answers
    assert stored.status == Encounter.Status.SUBMITTED
    assert stored.level == "emergency"
    assert stored.flags[0] == "emergency-signs"
    assert stored.alerted_at == alerted_at
    assert_private(client.responses, token)


@pytest.mark.django_db
def test_emergency_email_not_sent_for_none(client, encounter, django_capture_on_commit_callbacks):
    sign_in(client, encounter)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            PAGE_URL.format("emergency"), {"emergency-signs": ["none"], "_revealed": ""}
        )
    assert response["Location"] == PAGE_URL.format("history")
    assert mail.outbox == []
    assert Encounter.objects.get(pk=encounter.pk).alerted_at is None


# --- Back, change, resume, skipping ahead ---------------------------------------------------


@pytest.mark.django_db
def test_back_shows_the_saved_answers(client, encounter):
    sign_in(client, encounter)
    answers = rich_answers() | {
        "recent-emergency": True,
        "recent-emergency-signs": ["seizure"],
        "movement": ["flicker", "jerk"],
    }
    answer_pages(client, answers, PAGE_IDS[: PAGE_IDS.index("recent-emergency") + 1])

    emergency = Page(client.get(PAGE_URL.format("emergency")))
    assert emergency.checked("emergency-signs") == ["vision-change"]

    history = Page(client.get(PAGE_URL.format("history")))
    back = next(a for a in history.root.iter() if a.tag == "a" and a.text().strip() == "Back")
    assert back.attrs["href"] == PAGE_URL.format("emergency")
    assert history.checked("duration") == ["long-term"]
    assert history.checked("severity") == ["severe"]
    assert not history.inputs("locations")  # on a page of its own
    frequency = Page(client.get(PAGE_URL.format("frequency")))
    assert frequency.checked("movement") == ["flicker", "jerk"]
    back = next(a for a in frequency.root.iter() if a.tag == "a" and a.text().strip() == "Back")
    assert back.attrs["href"] == PAGE_URL.format("history")
    locations = Page(client.get(PAGE_URL.format("locations")))
    assert locations.checked("locations") == ["eyelid", "thigh", "calf", "other"]
    assert locations.value("locations-other") == "left big toe"
    assert locations.shown("locations-other")
    assert locations.checked("more-than-one-location") == ["yes"]
    pattern = Page(client.get(PAGE_URL.format("pattern")))
    assert pattern.checked("pattern") == ["comes-and-goes"]
    assert pattern.checked("episode-length") == ["minutes"]
    assert pattern.shown("episode-length")

    symptoms = Page(client.get(PAGE_URL.format("symptoms")))
    assert symptoms.checked("other-symptoms") == ["weakness", "muscle-loss", "cramps"]
    assert symptoms.value("weakness-where") == "right hand"
    recent = Page(client.get(PAGE_URL.format("recent-emergency")))
    assert recent.checked("recent-emergency") == ["yes"]
    assert recent.checked("recent-emergency-signs") == ["seizure"]
    assert recent.shown("recent-emergency-signs")

    # The first unanswered page is still empty.
    background = Page(client.get(PAGE_URL.format("background")))
    assert background.checked("medication-flags") == []
    assert background.value("medications") == ""


@pytest.mark.django_db
def test_change_from_the_review_page(client, encounter):
    sign_in(client, encounter)
    answers = routine_answers()
    answer_pages(client, answers)

    review = Page(client.get(REVIEW_URL))
    change_links = {
        a.text(): a.attrs["href"]
        for a in review.root.iter()
        if a.tag == "a" and "Change" in a.text()
    }
    # One "Change" per answer, named for its question, to the page that asks it.
    shown = [q for q in TWITCH_INTAKE.questions() if q.is_enabled(answers)]
    assert len(change_links) == len(shown)
    for question in shown:
        slug = next(p.slug for p in TWITCH_INTAKE.pages() if question in p.questions)
        assert change_links[f"Change {question.text}"] == PAGE_URL.format(slug)

    history_url = change_links[f"Change {TWITCH_INTAKE.question('severity').text}"]
    assert history_url == PAGE_URL.format("history")
    assert Page(client.get(history_url)).checked("severity") == ["mild"]
    changed = {**answers, "severity": "severe"}
    response = client.post(history_url, page_data("history", changed))
    assert response["Location"] == REVIEW_URL  # every page is answered: back to the review

    review = client.get(REVIEW_URL)
    assert label("severity", "severe") in Page(review).text()
    assert client.post(SUBMIT_URL)["Location"] == THANKS_URL

    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.answers == changed
    assert stored.level == "priority"
    assert stored.flags == ["severe"]


@pytest.mark.django_db
def test_resume_with_a_fresh_browser_lands_on_the_first_unanswered_page(client, encounter):
    token = sign_in(client, encounter)
    answer_pages(client, routine_answers(), PAGE_IDS[: PAGE_IDS.index("symptoms")])

    other_browser = IntakeClient()
    assert other_browser.get(PAGE_URL.format("symptoms")).status_code == 403  # not signed in yet
    response = other_browser.post(f"/intake/link/{token}/", {"date_of_birth": DOB})
    assert response["Location"] == PAGE_URL.format("symptoms")
    assert other_browser.get("/intake/")["Location"] == PAGE_URL.format("symptoms")
    assert Page(other_browser.get(PAGE_URL.format("history"))).checked("duration") == ["days"]

    answer_pages(other_browser, routine_answers(), PAGE_IDS[PAGE_IDS.index("symptoms") :])
    third_browser = IntakeClient()
    response = third_browser.post(f"/intake/link/{token}/", {"date_of_birth": DOB})
    assert response["Location"] == REVIEW_URL
    assert_private(other_browser.responses + third_browser.responses, token)


@pytest.mark.django_db
def test_skipping_ahead_by_url_goes_to_the_first_unanswered_page(client, encounter):
    sign_in(client, encounter)
    assert client.get(PAGE_URL.format("history"))["Location"] == PAGE_URL.format("emergency")
    assert client.get(REVIEW_URL)["Location"] == PAGE_URL.format("emergency")

    answer_pages(client, routine_answers(), ["emergency"])
    before = row(encounter)
    response = client.post(
        PAGE_URL.format("closing"), page_data("closing", {"notes": "skipped ahead"})
    )
    assert response["Location"] == PAGE_URL.format("history")
    assert client.get(PAGE_URL.format("background"))["Location"] == PAGE_URL.format("history")
    assert client.post(SUBMIT_URL)["Location"] == PAGE_URL.format("history")
    assert row(encounter) == before
    assert client.get(PAGE_URL.format("nonsense")).status_code == 404


@pytest.mark.django_db
def test_the_pages_follow_the_active_questionnaire(
    client, encounter, monkeypatch, django_capture_on_commit_callbacks
):
    """Steps, and when to show the get-care page, come from the questionnaire and rules of the
    moment: here the emergency signs are asked on the second page."""
    emergency, history, *rest = questionnaire.TWITCH_INTAKE.groups
    swapped = dataclasses.replace(questionnaire.TWITCH_INTAKE, groups=(history, emergency, *rest))
    monkeypatch.setattr(questionnaire, "TWITCH_INTAKE", swapped)
    first, second = PAGE_URL.format(history.link_id), PAGE_URL.format(emergency.link_id)
    history_pages = [p.slug for p in history.pages]
    sign_in(client, encounter)

    assert client.get("/intake/")["Location"] == first
    assert client.get(second)["Location"] == first
    page = Page(client.get(first))
    assert "Step 1 of 11" in page.text()
    assert [a for a in page.root.iter() if a.tag == "a" and a.text() == "Back"] == []

    answers = emergency_answers()
    assert answer_pages(client, answers, history_pages)[-1] == second
    page = Page(client.get(second))
    assert f"Step {len(history_pages) + 1} of 11" in page.text()
    assert [a.attrs["href"] for a in page.root.iter() if a.tag == "a" and a.text() == "Back"] == [
        PAGE_URL.format(history_pages[-1])
    ]

    with django_capture_on_commit_callbacks(execute=True):
        assert answer_pages(client, answers, [emergency.link_id]) == [EMERGENCY_URL]
    alerts = ProcrastinateJob.objects.filter(task_name="twitch_intake.send_emergency_alert")
    assert alerts.count() == 1
    get_care = Page(client.get(EMERGENCY_URL))
    for code in answers["emergency-signs"]:
        assert label("emergency-signs", code) in get_care.text()
    continue_link = next(a for a in get_care.root.iter() if a.tag == "a" and "Continue" in a.text())
    assert continue_link.attrs["href"] == PAGE_URL.format(rest[0].link_id)


# --- Bad answers ----------------------------------------------------------------------------

SAVED = routine_answers(
    **{
        "duration": "months",
        "severity": "moderate",
        "locations": ["eyelid", "other"],
        "locations-other": "left big toe",
        "other-symptoms": ["weakness"],
        "weakness-where": "right hand",
        "medications": "Saved medicine list",
        "notes": "Saved note",
    }
)

# (page, changes to the saved page, question with the error, words of its message,
#  what the re-rendered page must still show: (name, "checked" | "value", expected))
BAD_ANSWERS = [
    pytest.param(
        "history",
        {"severity": None, "duration": "weeks"},
        "severity",
        "Choose an answer",
        [("duration", "checked", ["weeks"]), ("severity", "checked", [])],
        id="missing-required-choice",
    ),
    pytest.param(
        "emergency",
        {"emergency-signs": None},
        "emergency-signs",
        "Tick at least one answer",
        [("emergency-signs", "checked", [])],
        id="missing-required-repeating",
    ),
    pytest.param(
        "emergency",
        {"emergency-signs": ["seizure", "none"]},
        "emergency-signs",
        "“None of these” and something else",
        [("emergency-signs", "checked", ["seizure", "none"])],
        id="none-with-another-code",
    ),
    pytest.param(
        "pregnancy",
        {"triggers": ["none", "caffeine"], "pregnancy": "yes"},
        "triggers",
        "“None of these” and something else",
        [("triggers", "checked", ["caffeine", "none"]), ("pregnancy", "checked", ["yes"])],
        id="none-with-another-code-background",
    ),
    pytest.param(
        "frequency",
        {"movement": ["flicker", "not-sure"], "frequency": "weekly"},
        "movement",
        "You ticked “Not sure” and something else. Untick one of them.",
        [("movement", "checked", ["flicker", "not-sure"]), ("frequency", "checked", ["weekly"])],
        id="not-sure-with-another-code",
    ),
    pytest.param(
        "frequency",
        {"movement": None},
        "movement",
        "Tick at least one answer, or “Not sure”",
        [("movement", "checked", []), ("frequency", "checked", ["daily"])],
        id="missing-movement",
    ),
    pytest.param(
        "recent-emergency",
        {"recent-emergency": True, "recent-emergency-signs": None, "family-history": "yes"},
        "recent-emergency-signs",
        "Tick at least one answer",
        [("recent-emergency", "checked", ["yes"]), ("family-history", "checked", ["yes"])],
        id="recent-emergency-without-the-signs",
    ),
    pytest.param(
        "recent-emergency",
        {"recent-emergency-signs": ["seizure", "none"], "recent-emergency": True},
        "recent-emergency-signs",
        "Choose only from the answers shown",
        [("recent-emergency", "checked", ["yes"])],
        id="recent-signs-hold-no-none",
    ),
    pytest.param(
        "closing",
        {"answered-by": None, "notes": "Typed just now"},
        "answered-by",
        "Choose an answer",
        [("answered-by", "checked", []), ("notes", "value", "Typed just now")],
        id="missing-answered-by",
    ),
    pytest.param(
        "closing",
        {"answered-by": "my-neighbour"},
        "answered-by",
        "Choose only from the answers shown",
        [("answered-by", "checked", [])],
        id="unknown-answered-by",
    ),
    pytest.param(
        "locations",
        {"locations-other": "", "side": "right"},
        "locations-other",
        "Tell us where",
        [("locations", "checked", ["eyelid", "other"]), ("side", "checked", ["right"])],
        id="other-location-without-text",
    ),
    pytest.param(
        "locations",
        {"locations-other": "x" * 201},
        "locations-other",
        "200 characters or fewer (it has 201)",
        [("locations-other", "value", "x" * 201)],
        id="locations-other-too-long",
    ),
    pytest.param(
        "locations",
        {"locations-other": "left big toe\nand the heel", "side": "right"},
        "locations-other",
        "Keep this answer to one line.",
        [
            ("locations-other", "value", "left big toe\nand the heel"),
            ("side", "checked", ["right"]),
        ],
        id="line-break-in-one-line-answer",
    ),
    pytest.param(
        "symptoms",
        {"weakness-where": "right hand\r\nleft foot"},
        "weakness-where",
        "Keep this answer to one line.",
        [("other-symptoms", "checked", ["weakness"])],
        id="line-break-in-where-weak",
    ),
    pytest.param(
        "closing",
        {"notes": "y" * 2001},
        "notes",
        "2000 characters or fewer (it has 2001)",
        [("notes", "value", "y" * 2001)],
        id="notes-too-long",
    ),
    pytest.param(
        "closing",
        {"notes": "before\x00after"},
        "notes",
        "hidden character",
        [("notes", "value", "before\x00after")],
        id="nul-in-text",
    ),
    pytest.param(
        "locations",
        {"locations-other": "left\x00toe", "side": "both"},
        "locations-other",
        "hidden character",
        [("locations-other", "value", "left\x00toe"), ("side", "checked", ["both"])],
        id="nul-in-string",
    ),
    pytest.param(
        "symptoms",
        {"weakness-where": "right\x07hand"},
        "weakness-where",
        "hidden character",
        [("weakness-where", "value", "right\x07hand"), ("other-symptoms", "checked", ["weakness"])],
        id="bell-in-string",
    ),
    pytest.param(
        "background",
        {"medications": "Aspirin\x1b[31m", "medication-flags": ["diuretic"]},
        "medications",
        "hidden character",
        [
            ("medications", "value", "Aspirin\x1b[31m"),
            ("medication-flags", "checked", ["diuretic"]),
        ],
        id="escape-in-text",
    ),
    pytest.param(
        "history",
        {"duration": "forever", "severity": "severe"},
        "duration",
        "Choose only from the answers shown",
        [("duration", "checked", []), ("severity", "checked", ["severe"])],
        id="unknown-code",
    ),
    pytest.param(
        "frequency",
        {"movement": ["flicker", "wobble"], "frequency": "weekly"},
        "movement",
        "Choose only from the answers shown",
        [("frequency", "checked", ["weekly"])],
        id="unknown-movement",
    ),
    pytest.param(
        "background",
        {"medication-flags": ["stimulant", "unicorn-dust"], "medications": "Typed just now"},
        "medication-flags",
        "Choose only from the answers shown",
        [("medications", "value", "Typed just now")],
        id="unknown-code-repeating",
    ),
    pytest.param(
        "locations",
        {"more-than-one-location": "maybe"},
        "more-than-one-location",
        "Answer yes or no",
        [("more-than-one-location", "checked", [])],
        id="unknown-boolean",
    ),
    pytest.param(
        "recent-emergency",
        {"recent-emergency": "maybe"},
        "recent-emergency",
        "Answer yes or no",
        [("recent-emergency", "checked", [])],
        id="unknown-boolean-recent-emergency",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("slug", "changes", "link_id", "message", "kept"), BAD_ANSWERS)
def test_a_bad_answer_is_refused_beside_its_question_and_nothing_is_lost(
    client, encounter, slug, changes, link_id, message, kept, django_capture_on_commit_callbacks
):
    sign_in(client, encounter)
    answer_pages(client, SAVED)
    before = row(encounter)
    assert before["answers"] == SAVED

    posted = {k: v for k, v in {**SAVED, **changes}.items() if v is not None}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(PAGE_URL.format(slug), page_data(slug, posted))
        # Redirected, refused or not (no resubmission on refresh or Back): 303, see the page
        # again, which shows the errors and what was typed.
        assert response.status_code == 303
        assert response["Location"] == PAGE_URL.format(slug)
        response = client.get(PAGE_URL.format(slug))

    assert response.status_code == 200
    page = Page(response)
    assert page.title().startswith("Error: ")
    error = page.error(link_id)
    assert error is not None and message in error, error
    assert page.described_by_error(link_id)
    assert f"#{summary_target(link_id)}" in page.summary_links()
    for name, kind, expected in kept:
        assert (page.checked(name) if kind == "checked" else page.value(name)) == expected, name
    # Only the question in error is flagged.
    assert [q.link_id for q in TWITCH_INTAKE.page(slug).questions if page.error(q.link_id)] == [
        link_id
    ]

    assert row(encounter) == before
    assert callbacks == []
    assert mail.outbox == []
    assert_private(client.responses)


@pytest.mark.django_db
def test_line_breaks_and_tabs_in_text_are_fine(client, encounter):
    sign_in(client, encounter)
    answers = routine_answers(
        **{
            "locations": ["other"],
            "locations-other": "left\ttoe",
            "medications": "Sertraline 50 mg\r\nVitamin D\tdaily",
            "notes": "Line one\nLine two\r\n\tindented",
        }
    )
    answer_pages(client, answers)
    stored = Encounter.objects.get(pk=encounter.pk).answers
    assert stored["locations-other"] == "left\ttoe"
    assert stored["medications"] == "Sertraline 50 mg\r\nVitamin D\tdaily"
    assert stored["notes"] == "Line one\nLine two\r\n\tindented"
    assert (
        Page(client.get(PAGE_URL.format("closing"))).value("notes")
        == "Line one\nLine two\r\n\tindented"
    )


# --- Show-when ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_constant_pattern_clears_a_stored_episode_length(client, encounter):
    sign_in(client, encounter)
    answers = routine_answers(**{"episode-length": "minutes"})
    answer_pages(client, answers, PAGE_IDS[: PAGE_IDS.index("pattern") + 1])
    assert Encounter.objects.get(pk=encounter.pk).answers["episode-length"] == "minutes"

    # Without JavaScript the hidden radio is still posted; it must not be kept.
    data = {**page_data("pattern", answers), "pattern": "constant"}
    assert data["episode-length"] == "minutes"
    response = client.post(PAGE_URL.format("pattern"), data)
    assert response["Location"] == PAGE_URL.format("symptoms")

    stored = Encounter.objects.get(pk=encounter.pk).answers
    assert stored["pattern"] == "constant"
    assert "episode-length" not in stored
    pattern = Page(client.get(PAGE_URL.format("pattern")))
    assert pattern.checked("episode-length") == []
    assert not pattern.shown("episode-length")


BEFORE_RECENT = PAGE_IDS[: PAGE_IDS.index("recent-emergency")]


@pytest.mark.django_db
def test_recent_emergency_signs_are_asked_after_a_yes_and_cleared_by_a_no(client, encounter):
    sign_in(client, encounter)
    answers = routine_answers(
        **{"recent-emergency": True, "recent-emergency-signs": ["seizure", "vision-change"]}
    )
    answer_pages(client, answers, BEFORE_RECENT)
    page = Page(client.get(PAGE_URL.format("recent-emergency")))
    assert not page.shown("recent-emergency-signs")  # hidden until "yes"
    (block,) = [
        n for n in page.root.iter() if n.attrs.get("data-question") == "recent-emergency-signs"
    ]
    # intake.js shows it when the radio posting "yes" is ticked.
    assert block.attrs["data-show-when"] == "recent-emergency:yes"
    assert "none" not in page.options("recent-emergency-signs")

    response = client.post(
        PAGE_URL.format("recent-emergency"), page_data("recent-emergency", answers)
    )
    assert response["Location"] == PAGE_URL.format("background")
    stored = Encounter.objects.get(pk=encounter.pk).answers
    assert stored["recent-emergency-signs"] == ["seizure", "vision-change"]
    page = Page(client.get(PAGE_URL.format("recent-emergency")))
    assert page.shown("recent-emergency-signs")
    assert page.checked("recent-emergency-signs") == ["seizure", "vision-change"]

    # "No" now: the signs still ticked on the hidden block (JavaScript off) are not kept.
    data = {**page_data("recent-emergency", answers), "recent-emergency": "no"}
    assert data["recent-emergency-signs"] == ["seizure", "vision-change"]
    response = client.post(PAGE_URL.format("recent-emergency"), data)
    assert response["Location"] == PAGE_URL.format("background")
    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.answers["recent-emergency"] is False
    assert "recent-emergency-signs" not in stored.answers
    assert stored.level is None  # not assessed until sent; these signs never make it an emergency
    page = Page(client.get(PAGE_URL.format("recent-emergency")))
    assert not page.shown("recent-emergency-signs")
    assert page.checked("recent-emergency-signs") == []


@pytest.mark.django_db
def test_without_javascript_a_yes_opens_the_recent_signs_without_scolding(client, encounter):
    sign_in(client, encounter)
    answer_pages(client, routine_answers(), BEFORE_RECENT)
    before = row(encounter)
    # JavaScript off: "yes" ticked, the signs were never on screen.
    response = refused(
        client,
        "recent-emergency",
        {"recent-emergency": "yes", "family-history": "not-sure", "_revealed": ""},
    )
    page = Page(response)
    # Shown as a question, with a plain line: no error for a question never seen.
    assert page.shown("recent-emergency-signs")
    assert page.error("recent-emergency-signs") is None
    assert page.summary_links() == []
    assert not page.title().startswith("Error")
    assert not [n for n in page.root.iter() if "form-group-error" in n.classes()]
    assert "Please answer it too" in page.text()
    assert page.checked("recent-emergency") == ["yes"]
    assert page.checked("family-history") == ["not-sure"]
    assert page.value("_revealed") == "recent-emergency-signs"  # it is on screen now
    assert row(encounter) == before
    # A refresh shows the same: what was typed waits until the page is saved.
    again = Page(client.get(PAGE_URL.format("recent-emergency")))
    assert again.checked("recent-emergency") == ["yes"]
    assert again.error("recent-emergency-signs") is None

    # Seen now, and still left empty: that is an error.
    response = refused(
        client,
        "recent-emergency",
        {
            "recent-emergency": "yes",
            "family-history": "not-sure",
            "_revealed": "recent-emergency-signs",
        },
    )
    assert "Tick at least one answer" in (Page(response).error("recent-emergency-signs") or "")
    response = client.post(
        PAGE_URL.format("recent-emergency"),
        {
            "recent-emergency": "yes",
            "recent-emergency-signs": ["high-fever"],
            "family-history": "not-sure",
            "_revealed": "recent-emergency-signs",
        },
    )
    assert response["Location"] == PAGE_URL.format("background")
    assert Encounter.objects.get(pk=encounter.pk).answers["recent-emergency-signs"] == [
        "high-fever"
    ]


@pytest.mark.django_db
def test_the_exclusive_answers_are_marked_for_intake_js(client, encounter):
    sign_in(client, encounter)
    answer_pages(client, routine_answers(), PAGE_IDS[:2])
    page = Page(client.get(PAGE_URL.format("frequency")))
    marked = [n.attrs["value"] for n in page.inputs("movement") if "data-exclusive" in n.attrs]
    assert marked == sorted(TWITCH_INTAKE.question("movement").exclusive)
    assert marked  # "Not sure"


@pytest.mark.django_db
def test_an_answer_to_a_question_that_does_not_apply_is_cleared(client, encounter):
    sign_in(client, encounter)
    answer_pages(client, routine_answers(), PAGE_IDS[: PAGE_IDS.index("symptoms")])
    # Where weak, with no weakness ticked; a question of another page smuggled in.
    response = client.post(
        PAGE_URL.format("symptoms"),
        {
            "other-symptoms": ["cramps"],
            "weakness-where": "right hand",
            "duration": "long-term",
            "_revealed": "weakness-where",
        },
    )
    assert response["Location"] == PAGE_URL.format("recent-emergency")
    stored = Encounter.objects.get(pk=encounter.pk).answers
    assert stored["other-symptoms"] == ["cramps"]
    assert "weakness-where" not in stored
    assert stored["duration"] == routine_answers()["duration"]


@pytest.mark.django_db
def test_without_javascript_a_newly_opened_question_is_shown_once(client, encounter):
    sign_in(client, encounter)
    answer_pages(client, routine_answers(), PAGE_IDS[: PAGE_IDS.index("symptoms")])
    page = Page(client.get(PAGE_URL.format("symptoms")))
    assert not page.shown("weakness-where")
    assert page.value("_revealed") == ""

    # JavaScript off: weakness ticked, the follow-up was never on screen.
    response = client.post(
        PAGE_URL.format("symptoms"), {"other-symptoms": ["weakness"], "_revealed": ""}
    )
    assert response["Location"] == PAGE_URL.format("symptoms")  # saved, and shown again
    page = Page(client.get(PAGE_URL.format("symptoms")))
    assert page.shown("weakness-where")
    assert page.value("_revealed") == "weakness-where"
    assert page.checked("other-symptoms") == ["weakness"]
    assert "opened one more question" in page.text()
    assert page.summary_links() == []
    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.answers["other-symptoms"] == ["weakness"]
    assert "symptoms" in stored.completed_groups
    assert "Answer it if you can" in page.text()
    # Once: a refresh shows the page as saved, without the note.
    assert "opened one more question" not in Page(client.get(PAGE_URL.format("symptoms"))).text()

    # Continue with the follow-up left blank (it is optional) goes on.
    response = client.post(
        PAGE_URL.format("symptoms"), {"other-symptoms": ["weakness"], "_revealed": "weakness-where"}
    )
    assert response["Location"] == PAGE_URL.format("recent-emergency")
    assert "weakness-where" not in Encounter.objects.get(pk=encounter.pk).answers


@pytest.mark.django_db
def test_with_javascript_the_follow_up_does_not_stop_the_patient(client, encounter):
    sign_in(client, encounter)
    answer_pages(client, routine_answers(), PAGE_IDS[: PAGE_IDS.index("symptoms")])
    response = client.post(
        PAGE_URL.format("symptoms"),
        {
            "other-symptoms": ["weakness"],
            "weakness-where": "left leg",
            "_revealed": "weakness-where",
        },
    )
    assert response["Location"] == PAGE_URL.format("recent-emergency")
    assert Encounter.objects.get(pk=encounter.pk).answers["weakness-where"] == "left leg"


# --- After submitting -----------------------------------------------------------------------


def _submitted(client: Client, encounter: Encounter, answers: dict[str, Any]) -> str:
    token = sign_in(client, encounter)
    answer_pages(client, answers)
    assert client.post(SUBMIT_URL)["Location"] == THANKS_URL
    return token


@pytest.mark.django_db
def test_double_submit_changes_nothing(client, encounter):
    _submitted(client, encounter, routine_answers())
    before = row(encounter)
    assert before["submitted_at"] is not None

    response = client.post(SUBMIT_URL, follow=True)
    assert response.redirect_chain == [(THANKS_URL, 302)]
    assert response.status_code == 200
    assert "twitch_intake/thanks.html" in [t.name for t in response.templates]
    assert row(encounter) == before


@pytest.mark.django_db
def test_replaying_a_page_after_submit_changes_nothing(client, encounter):
    _submitted(client, encounter, routine_answers())
    before = row(encounter)

    for slug in PAGE_IDS:
        data = page_data(slug, rich_answers())
        assert client.post(PAGE_URL.format(slug), data)["Location"] == THANKS_URL
    assert (
        client.post(PAGE_URL.format("history"), {"duration": "nonsense"})["Location"] == THANKS_URL
    )
    assert row(encounter) == before


@pytest.mark.django_db
def test_back_after_submit_goes_to_thanks(client, encounter):
    _submitted(client, encounter, routine_answers())
    for url in [PAGE_URL.format(p) for p in PAGE_IDS] + [REVIEW_URL, EMERGENCY_URL, "/intake/"]:
        response = client.get(url)
        assert response["Location"] == THANKS_URL, url


@pytest.mark.django_db
def test_opening_the_link_after_submit_shows_no_answers(encounter):
    token = _submitted(IntakeClient(), encounter, SECRET_ANSWERS)
    stored = row(encounter)

    browser = IntakeClient()
    for response in (
        browser.get(f"/intake/link/{token}/"),
        browser.post(f"/intake/link/{token}/", {"date_of_birth": DOB}),
    ):
        assert response.status_code == 200
        assert "twitch_intake/already_sent.html" in [t.name for t in response.templates]
        text = Page(response).text()
        assert "secret-" not in text
        assert encounter.patient_name not in text
        assert label("emergency-signs", "vision-change") not in text
        assert not Page(response).inputs("emergency-signs")
    # Neither bound the new browser to the encounter.
    assert browser.get(REVIEW_URL).status_code == 403
    assert browser.get(PAGE_URL.format("history")).status_code == 403
    assert row(encounter) == stored
    assert_private(browser.responses, token)


# --- The link: date of birth, lockout, expiry -----------------------------------------------


def _normalised(response: Any) -> str:
    """The page without what differs per request: the CSRF token and the link's own path."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
    return re.sub(r'name="next" value="/intake/link/[^"]*"', "", html)


@pytest.mark.django_db
def test_wrong_birth_date_then_lockout_after_five(client, encounter, settings):
    token = issue(encounter)
    link = f"/intake/link/{token}/"
    for attempt in range(1, 5):
        response = refused_post(client, link, {"date_of_birth": "1980-05-18"})
        assert response.status_code == 200
        page = Page(response)
        assert "does not match" in (page.error("date_of_birth") or "")
        assert page.value("date_of_birth_day") == "18"
        assert Encounter.objects.get(pk=encounter.pk).dob_failures == attempt
        assert client.get(PAGE_URL.format("emergency")).status_code == 403

    response = refused_post(client, link, {"date_of_birth": "1980-05-18"})
    assert response.status_code == 404
    # This browser made the tries: it is told the link is paused (tests/test_birth_date.py).
    assert "twitch_intake/link_locked.html" in [t.name for t in response.templates]
    locked = Encounter.objects.get(pk=encounter.pk)
    assert locked.locked_until is not None
    assert (
        dt.timedelta(minutes=14) < locked.locked_until - timezone.now() <= dt.timedelta(minutes=15)
    )

    # Now even the right date gets the same page, and binds nothing.
    for response in (
        refused_post(client, link, {"date_of_birth": DOB}),
        client.get(link),
    ):
        assert response.status_code == 404
        assert "twitch_intake/link_locked.html" in [t.name for t in response.templates]
    assert client.get(PAGE_URL.format("emergency")).status_code == 403

    # After the lockout the right date works again.
    Encounter.objects.filter(pk=encounter.pk).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    response = client.post(f"/intake/link/{token}/", {"date_of_birth": DOB})
    assert response["Location"] == PAGE_URL.format("emergency")
    assert Encounter.objects.get(pk=encounter.pk).dob_failures == 0


@pytest.mark.django_db
def test_the_right_birth_date_resets_the_count(client, encounter):
    token = issue(encounter)
    for _ in range(3):
        client.post(f"/intake/link/{token}/", {"date_of_birth": "1999-01-01"})
    sign_in(client, encounter, token)
    assert Encounter.objects.get(pk=encounter.pk).dob_failures == 0


@pytest.mark.django_db
def test_locked_expired_and_unknown_links_look_the_same(client, encounter):
    """To anyone who did not make the wrong tries themselves: a guesser who locked a link
    learnt it was real from "does not match" already; a second browser learns nothing."""
    locked = make_encounter()
    locked_token = issue(locked)
    guesser = Client()
    for _ in range(5):
        guesser.post(f"/intake/link/{locked_token}/", {"date_of_birth": "2001-01-01"})

    expired = make_encounter()
    expired_token = expired.issue_link(now=timezone.now() - dt.timedelta(days=15))
    expired.save()

    responses = [
        client.get(f"/intake/link/{locked_token}/"),
        client.get(f"/intake/link/{expired_token}/"),
        refused_post(client, f"/intake/link/{expired_token}/", {"date_of_birth": DOB}),
        client.get("/intake/link/not-a-real-token/"),
        refused_post(client, "/intake/link/not-a-real-token/", {"date_of_birth": DOB}),
    ]
    assert {r.status_code for r in responses} == {404}
    assert len({_normalised(r) for r in responses}) == 1
    assert "This link cannot be used" in Page(responses[0]).text()
    assert client.get(PAGE_URL.format("emergency")).status_code == 403
    assert_private(client.responses)


@pytest.mark.django_db
def test_opening_the_link_changes_nothing(client, encounter):
    token = issue(encounter)
    Encounter.objects.filter(pk=encounter.pk).update(dob_failures=2)
    before = row(encounter)

    for _ in range(3):
        response = client.get(f"/intake/link/{token}/")
        assert response.status_code == 200
    client.head(f"/intake/link/{token}/")
    assert row(encounter) == before
    assert before["dob_failures"] == 2
    assert client.get(PAGE_URL.format("emergency")).status_code == 403  # a GET binds nothing


# --- One session, one encounter -------------------------------------------------------------

B_SECRETS = ("secret-", "Bea Other")


@pytest.mark.django_db
def test_a_session_for_one_encounter_never_reads_or_writes_another(
    client, django_capture_on_commit_callbacks
):
    other = make_encounter(
        patient_name="Bea Other",
        answers=SECRET_ANSWERS,
        completed_groups=GROUP_IDS[:4],
        status=Encounter.Status.IN_PROGRESS,
    )
    other_token = issue(other)
    other_before = row(other)

    # B's own browser does see B's answers, so their absence below means something.
    b_browser = IntakeClient()
    sign_in(b_browser, other, other_token)
    assert (
        Page(b_browser.get(PAGE_URL.format("locations"))).value("locations-other") == "secret-place"
    )
    other_before = row(other)

    mine = make_encounter()
    token = sign_in(client, mine)
    answers = routine_answers(notes="Mine only")
    for slug in PAGE_IDS:
        page = client.get(PAGE_URL.format(slug))
        assert page.status_code == 200
        for secret in B_SECRETS:
            assert secret not in page.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            client.post(PAGE_URL.format(slug), page_data(slug, answers))
    review = client.get(REVIEW_URL).content.decode()
    assert "Mine only" in review
    for secret in B_SECRETS:
        assert secret not in review
    # An encounter id smuggled into the form is ignored.
    client.post(SUBMIT_URL, {"id": other.pk, "encounter": other.pk, "pk": other.pk})

    assert row(other) == other_before
    stored = Encounter.objects.get(pk=mine.pk)
    assert stored.answers == answers
    assert stored.status == Encounter.Status.SUBMITTED
    assert mail.outbox == []
    assert_private(client.responses, token)
    # B's session still reads B, and was not submitted by A's Submit.
    assert b_browser.get(PAGE_URL.format("closing")).status_code == 200


@pytest.mark.django_db
def test_a_new_link_ends_sessions_opened_with_the_old_one(client, encounter):
    old_token = sign_in(client, encounter)
    answer_pages(client, routine_answers(), ["emergency"])
    assert client.get(PAGE_URL.format("history")).status_code == 200

    encounter.refresh_from_db()
    new_token = issue(encounter)
    before = row(encounter)

    response = client.get(PAGE_URL.format("history"))
    assert response.status_code == 403
    assert "twitch_intake/session_ended.html" in [t.name for t in response.templates]
    response = client.post(PAGE_URL.format("history"), page_data("history", routine_answers()))
    assert response.status_code == 403
    assert client.post(SUBMIT_URL).status_code == 403
    assert row(encounter) == before

    assert client.get(f"/intake/link/{old_token}/").status_code == 404
    old_link = f"/intake/link/{old_token}/"
    assert refused_post(client, old_link, {"date_of_birth": DOB}).status_code == 404
    old_session = client.cookies["sessionid"].value
    response = client.post(f"/intake/link/{new_token}/", {"date_of_birth": DOB})
    assert response["Location"] == PAGE_URL.format("history")  # the answers so far are kept
    assert client.cookies["sessionid"].value != old_session  # a new session id at sign-in
    assert_private(client.responses, new_token)


# --- Headers --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_intake_page_is_private(client, encounter, django_capture_on_commit_callbacks):
    token = issue(encounter)
    client.get(PAGE_URL.format("emergency"))  # no session yet: 403
    client.get(f"/intake/link/{token}/")
    client.post(f"/intake/link/{token}/", {"date_of_birth": "1900-01-02"})
    client.post(f"/intake/link/{token}/", {"date_of_birth": "not a date"})
    client.post(f"/intake/link/{token}/", {"date_of_birth": DOB})
    client.get("/intake/")
    answers = emergency_answers(**{"other-symptoms": ["weakness"]})
    with django_capture_on_commit_callbacks(execute=True):
        for group in PAGE_IDS:
            client.get(PAGE_URL.format(group))
            client.post(PAGE_URL.format(group), {"_revealed": ""})  # refused: back to it
            client.get(PAGE_URL.format(group))  # its errors
            if group == "symptoms":
                client.post(
                    PAGE_URL.format(group), {**page_data(group, answers), "_revealed": ""}
                )  # re-shown
            client.post(PAGE_URL.format(group), page_data(group, answers))
            client.get(EMERGENCY_URL)
    client.put(PAGE_URL.format("closing"))  # 405
    client.get(REVIEW_URL)
    client.get(SUBMIT_URL)  # 405
    client.post(SUBMIT_URL)
    client.get(THANKS_URL)
    client.get(f"/intake/link/{token}/")  # already sent
    client.get("/intake/link/unknown/")
    client.get("/intake/start/")
    client.post("/intake/start/", {"patient_name": "", "date_of_birth": "", "visit_date": ""})

    statuses = {r.status_code for r in client.responses}
    assert statuses == {200, 302, 303, 403, 404, 405}
    assert_private(client.responses, token)


# --- Query counts ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_answers(encounter, django_assert_num_queries):
    """Answers are one JSON document on one row: a page costs the same whatever was answered."""
    few_client, many_client = IntakeClient(), IntakeClient()
    sign_in(few_client, encounter)
    answer_pages(few_client, {"emergency-signs": ["none"]}, ["emergency"])

    many = make_encounter(patient_name="Many Answers")
    sign_in(many_client, many)
    answer_pages(many_client, {**rich_answers(), "emergency-signs": ["none"]})
    assert len(Encounter.objects.get(pk=many.pk).answers) > 10 * len(
        Encounter.objects.get(pk=encounter.pk).answers
    )

    for browser in (few_client, many_client):
        # The session, then the encounter.
        with django_assert_num_queries(2):
            assert browser.get(PAGE_URL.format("history")).status_code == 200
        # A saved page adds the row lock and one UPDATE (in a savepoint under the test's
        # transaction).
        with django_assert_num_queries(6) as captured:
            response = browser.post(
                PAGE_URL.format("history"), page_data("history", rich_answers())
            )
            assert response.status_code == 302
        # pghistory prefixes each write with its context (who saved it), in the same statement.
        statements = [q["sql"].split("; ", 1)[-1] for q in captured.captured_queries]
        writes = [sql for sql in statements if sql.startswith("UPDATE")]
        assert len(writes) == 1
        assert all(
            "pghistory.context_metadata" in q["sql"]
            for q in captured.captured_queries
            if q["sql"].endswith(writes[0])
        )
        # A refused page reads the same two rows and writes only its draft to the session.
        with django_assert_num_queries(5) as captured:
            assert browser.post(PAGE_URL.format("history"), {"_revealed": ""}).status_code == 303
        writes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
        assert len(writes) == 1 and "django_session" in writes[0]
        # The page that shows the errors reads the same two rows.
        with django_assert_num_queries(2):
            assert browser.get(PAGE_URL.format("history")).status_code == 200
    with django_assert_num_queries(2):
        assert many_client.get(PAGE_URL.format("closing")).status_code == 200
    # An intake that reported a sign reads its answer history too, once, for the reminder
    # (a sign taken back is still told): one query more, whatever was answered.
    reported = make_encounter(patient_name="Reported A Sign")
    reported_client = IntakeClient()
    sign_in(reported_client, reported)
    answer_pages(reported_client, rich_answers())
    with django_assert_num_queries(3):
        assert reported_client.get(PAGE_URL.format("closing")).status_code == 200


# --- Self-start -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_self_start_creates_an_encounter_and_binds_the_session(client):
    visit = timezone.localdate() + dt.timedelta(days=2)
    assert client.get("/intake/start/").status_code == 200
    response = client.post(
        "/intake/start/",
        {"patient_name": "Walk In", "date_of_birth": "1975-03-04", "visit_date": visit.isoformat()},
    )
    assert response["Location"] == PAGE_URL.format("emergency")

    created = Encounter.objects.get()
    assert created.patient_name == "Walk In"
    assert created.date_of_birth == dt.date(1975, 3, 4)
    assert timezone.localtime(created.visit_at).date() == visit
    assert created.status == Encounter.Status.INVITED
    assert created.token_hash

    assert client.get(PAGE_URL.format("emergency")).status_code == 200
    answer_pages(client, routine_answers())
    assert client.post(SUBMIT_URL)["Location"] == THANKS_URL
    created.refresh_from_db()
    assert created.status == Encounter.Status.SUBMITTED
    assert created.answers == routine_answers()
    assert_private(client.responses)


@pytest.mark.django_db
def test_self_start_over_the_limit_redirects_and_says_so_while_it_lasts(client, settings):
    from twitch_intake.models import RateLimitCounter

    set_intake_settings(settings, RATE_LIMIT=1)
    visit = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    walk_in = {"patient_name": "Walk In", "date_of_birth": "1975-03-04", "visit_date": visit}
    assert client.post("/intake/start/", walk_in).status_code == 302
    second = IntakeClient()
    limited = refused_post(second, "/intake/start/", {**walk_in, "patient_name": "Second One"})
    assert limited.status_code == 429
    assert second.get("/intake/start/").status_code == 429  # a refresh: still, creating nothing
    assert Encounter.objects.count() == 1
    RateLimitCounter.objects.all().delete()  # the window has passed
    page = Page(second.get("/intake/start/"))
    assert page.value("patient_name") == "Second One"  # what was typed is still there
    assert page.error("patient_name") is None
    assert_private(second.responses)


@pytest.mark.django_db
def test_self_start_refuses_a_bad_name_and_creates_nothing(client):
    visit = timezone.localdate() + dt.timedelta(days=2)
    response = refused_post(
        client,
        "/intake/start/",
        {
            "patient_name": "Walk\x07In",
            "date_of_birth": "1975-03-04",
            "visit_date": visit.isoformat(),
        },
    )
    assert response.status_code == 200
    assert Page(response).error("patient_name")
    assert Page(response).value("patient_name") == "Walk\x07In"
    # A refresh is a GET: the same page, what was typed and why, again; still nothing created.
    again = client.get("/intake/start/")
    assert Page(again).error("patient_name") == Page(response).error("patient_name")
    assert not Encounter.objects.exists()
    assert client.get(PAGE_URL.format("emergency")).status_code == 403


@pytest.mark.django_db
def test_self_start_off_is_not_found(client, settings):
    set_intake_settings(settings, SELF_START=False)
    visit = timezone.localdate() + dt.timedelta(days=2)
    assert client.get("/intake/start/").status_code == 404
    response = client.post(
        "/intake/start/",
        {"patient_name": "Walk In", "date_of_birth": "1975-03-04", "visit_date": visit.isoformat()},
    )
    assert response.status_code == 404
    assert not Encounter.objects.exists()
    assert client.get(PAGE_URL.format("emergency")).status_code == 403


# --- Rate limit -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_links_are_rate_limited_per_client(client, encounter, settings):
    set_intake_settings(settings, RATE_LIMIT=3, RATE_WINDOW=dt.timedelta(minutes=10))
    token = issue(encounter)
    for attempt in range(3):
        assert client.get(f"/intake/link/guess-{attempt}/").status_code == 404

    for response in (
        client.get("/intake/link/guess-4/"),
        client.get(f"/intake/link/{token}/"),  # even a real link, from this client
        refused_post(client, f"/intake/link/{token}/", {"date_of_birth": DOB}),
    ):
        assert response.status_code == 429
        # Until the window that began at the first guess ends: 10 minutes, counting down.
        assert 590 <= int(response["Retry-After"]) <= 600
        assert "Try again in 10 minutes (after " in response.content.decode()
    assert client.get(PAGE_URL.format("emergency")).status_code == 403
    assert_private(client.responses)

    # Another client address has its own budget.
    elsewhere = IntakeClient(REMOTE_ADDR="10.0.0.2")
    assert elsewhere.get(f"/intake/link/{token}/").status_code == 200


@pytest.mark.django_db
def test_wrong_birth_dates_count_toward_the_rate_limit(client, settings):
    set_intake_settings(settings, RATE_LIMIT=4)
    first, second = make_encounter(), make_encounter()
    first_token, second_token = issue(first), issue(second)
    # Spread over two links, so no single link locks: only the client limit stops the guessing.
    for token in (first_token, second_token, first_token, second_token):
        wrong = refused_post(client, f"/intake/link/{token}/", {"date_of_birth": "1999-09-09"})
        assert wrong.status_code == 200
        assert "does not match" in (Page(wrong).error("date_of_birth") or "")
    response = refused_post(client, f"/intake/link/{first_token}/", {"date_of_birth": "1999-09-09"})
    assert response.status_code == 429
    assert 890 <= int(response["Retry-After"]) <= 900
    assert Encounter.objects.get(pk=first.pk).dob_failures == 2  # the refused try was not counted
    assert Encounter.objects.get(pk=first.pk).locked_until is None


@pytest.mark.django_db
def test_a_limited_try_on_a_link_already_refused_here_says_limited_not_the_old_mismatch(
    client, settings
):
    set_intake_settings(settings, RATE_LIMIT=2)
    link = f"/intake/link/{issue(make_encounter())}/"
    wrong = refused_post(client, link, {"date_of_birth": "1999-09-09"})
    assert "does not match" in (Page(wrong).error("date_of_birth") or "")
    refused_post(client, link, {"date_of_birth": "1999-09-08"})
    limited = refused_post(client, link, {"date_of_birth": DOB})
    assert limited.status_code == 429
    assert client.get(PAGE_URL.format("emergency")).status_code == 403


@pytest.mark.django_db
def test_the_limit_page_says_how_long_is_left_of_the_clinics_window(client, settings):
    set_intake_settings(settings, RATE_LIMIT=1, RATE_WINDOW=dt.timedelta(hours=1))
    first = client.get("/intake/link/guess-1/")
    assert first.status_code == 404
    # The window began 45 minutes ago: 15 are left, whatever the window's length.
    RateLimitCounter.objects.update(window_start=F("window_start") - dt.timedelta(minutes=45))

    limited = client.get("/intake/link/guess-2/")

    assert limited.status_code == 429
    assert 14 * 60 < int(limited["Retry-After"]) <= 15 * 60
    text = limited.content.decode()
    assert "Try again in 15 minutes (after " in text
    assert "60 minutes" not in text


# --- Versions -------------------------------------------------------------------------------


def _started_under_1_0_0() -> Encounter:
    """Every page of 1.0.0 answered, not sent; its completed pages stored as 1.0.0 stored
    them, by group."""
    return make_encounter(
        answers=answers_1_0_0(),
        questionnaire_version="1.0.0",
        completed_groups=GROUP_IDS,
        status=Encounter.Status.IN_PROGRESS,
    )


@pytest.mark.django_db
def test_an_intake_started_under_1_0_0_is_asked_the_new_questions_then_sent_as_current(client):
    encounter = _started_under_1_0_0()
    sign_in(client, encounter)
    # Read as pages, from the first that 1.0.0 did not show whole: the first page, which offers
    # a sign added since (trouble breathing).
    assert client.get("/intake/")["Location"] == PAGE_URL.format("emergency")
    assert client.get(REVIEW_URL)["Location"] == PAGE_URL.format("emergency")
    assert client.get(PAGE_URL.format("history"))["Location"] == PAGE_URL.format("emergency")
    # Sending now would skip the new safety questions: the form goes on instead.
    assert client.post(SUBMIT_URL)["Location"] == PAGE_URL.format("emergency")
    assert not Encounter.objects.get(pk=encounter.pk).is_submitted
    first = Page(client.get(PAGE_URL.format("emergency")))
    assert first.checked("emergency-signs") == ["none"]  # kept
    assert "breathing-difficulty" in first.options("emergency-signs")

    answers = routine_answers()
    assert answer_pages(client, answers, ["emergency"]) == [PAGE_URL.format("history")]
    moved = Encounter.objects.get(pk=encounter.pk)
    assert moved.questionnaire_version == TWITCH_INTAKE.version
    history = Page(client.get(PAGE_URL.format("history")))
    assert history.checked("duration") == [answers_1_0_0()["duration"]]  # kept
    assert history.checked("onset") == []
    # Each page 1.0.0 showed whole, and answered, is passed over.
    todo = ["history", "frequency", "locations", "symptoms", "recent-emergency", "pregnancy"]
    assert answer_pages(client, answers, [*todo, "closing"]) == [
        PAGE_URL.format(p) for p in [*todo[1:], "closing"]
    ] + [REVIEW_URL]
    assert client.post(SUBMIT_URL)["Location"] == THANKS_URL
    sent = Encounter.objects.get(pk=encounter.pk)
    assert sent.is_submitted and sent.questionnaire_version == TWITCH_INTAKE.version
    assert sent.answers == answers
    assert sent.completed_groups == PAGE_IDS


@pytest.mark.django_db
def test_a_sent_1_0_0_intake_stays_1_0_0_and_its_thanks_page_reads_that_version(client):
    benzodiazepine = {"medication-flags": ["benzodiazepine-withdrawal"]}
    encounter = make_encounter(
        answers=answers_1_0_0(**benzodiazepine), questionnaire_version="1.0.0"
    )
    sign_in(client, encounter)  # then sent, as it was (never moved: no page saved since)
    assert services.submit(encounter.pk).ok
    thanks = client.get(THANKS_URL)
    assert thanks.status_code == 200
    assert "Do not stop, restart or change this medicine on your own." in Page(thanks).text()
    for slug in PAGE_IDS:
        response = client.post(PAGE_URL.format(slug), page_data(slug, routine_answers()))
        assert response["Location"] == THANKS_URL
    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.questionnaire_version == "1.0.0"
    assert stored.answers == answers_1_0_0(**benzodiazepine)
