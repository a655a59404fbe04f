"""The patient's side: link -> date of birth -> the pages, in order -> review -> submit -> thanks.

Views are thin: the questionnaire decides what a valid answer is, ``services`` does the writes
under a row lock. A patient's session is bound to one encounter (and to the link it came from,
so a new link ends sessions opened with the old one); no URL after the link carries a token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import (
    display,
    drafts,
    follow,
    history,
    idle,
    lockout,
    questionnaire,
    ratelimit,
    refused,
    services,
    triage,
)
from .conf import app_settings
from .forms import (
    REVEALED,
    ConfirmBirthDateForm,
    EmergencyResponseForm,
    SelfStartForm,
    form_class,
    initial_for,
)
from .models import Encounter, hash_token
from .steps import Steps

SESSION_KEY = "twitch_intake"


def intake_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Every patient page: never cached (answers may show), no Referer leaves the site.

    ``same-origin``, not ``no-referrer``: the link's token then never goes to another site, and
    the page's own posts carry their real ``Origin`` (``no-referrer`` makes it ``null``), so
    Django's CSRF origin check stays whole. The Referer the site itself receives from the link
    page holds the token; ``twitch_intake.logs`` redacts it from every log.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "same-origin"
        return response

    return never_cache(wrapper)


def patient_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page of the intake: needs a session bound to an encounter, which it passes on."""

    @intake_view
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        encounter = _bound_encounter(request)
        if encounter is None:
            return _session_closed(request, _kept_as(request, kwargs.get("slug")))
        drawn_for = _drawn_for(encounter)
        posted_for = request.POST.get(DRAWN_FOR) if request.method == "POST" else None
        if posted_for is not None and posted_for != drawn_for:
            # A page drawn for another intake (a tab left open before someone else's link was
            # opened in this browser): nothing of it is saved into this one. Send is POST only:
            # its page to see again is check answers, drawn for this intake.
            match = request.resolver_match
            sending = match is not None and match.url_name == "submit"
            return SeeOther(reverse("twitch_intake:review") if sending else request.path)
        request.intake_drawn_for = drawn_for  # type: ignore[attr-defined]
        return view(request, encounter, *args, **kwargs)

    return wrapper


#: The hidden field of every patient form that says which intake it was drawn for.
DRAWN_FOR = "_for"


def _drawn_for(encounter: Encounter) -> str:
    """Names the intake a form was drawn for, without its id or link (an HMAC of both)."""
    value = f"{encounter.pk}:{encounter.token_hash}"
    return salted_hmac("twitch_intake.drawn-for", value, algorithm="sha256").hexdigest()[:20]


def _kept_as(request: HttpRequest, slug: str | None) -> str | None:
    """Under which name a POST that meets a closed session is kept: its page's slug, or the
    get-care form's; nothing else is kept."""
    if slug is not None:
        pages = questionnaire.TWITCH_INTAKE.pages()
        return slug if any(page.slug == slug for page in pages) else None
    match = request.resolver_match
    return GET_CARE if match is not None and match.url_name == "get_care" else None


def _session_closed(request: HttpRequest, page_slug: str | None) -> HttpResponse:
    """No intake is open in this session. One that went idle is asked for the date of birth
    again, keeping a page posted now (``idle``); otherwise there is no way back but the link,
    and the page says plainly whether what was just sent was lost."""
    closed = idle.suspended(request.session)
    if closed is not None:
        if request.method == "POST" and page_slug is not None:
            held = Encounter.objects.by_pk(closed["id"]) if isinstance(closed["id"], int) else None
            stored = held.answers if held is not None else {}
            idle.keep_typed(request, closed["id"], page_slug, _typed_fields(page_slug), stored)
        return HttpResponseRedirect(reverse("twitch_intake:welcome_back"), status=303)
    page = _context(lost_typing=request.method == "POST" and page_slug is not None)
    return render(request, "twitch_intake/session_ended.html", page, status=403)


def _typed_fields(kept_as: str) -> frozenset[str]:
    """The fields a page (or the get-care form) posts that are the patient's typing."""
    if kept_as == GET_CARE:
        questions: Iterable[questionnaire.Question] = (
            q for q in questionnaire.TWITCH_INTAKE.questions() if q.emergency_response
        )
    else:
        questions = questionnaire.TWITCH_INTAKE.page(kept_as).questions
    return frozenset({REVEALED, *(q.link_id for q in questions)})


def kept_typing(request: HttpRequest, encounter: Encounter, slug: str) -> Any:
    """What the patient typed on page ``slug`` of this intake before their session went idle,
    as form data to show again until the page is saved, or ``None``."""
    return idle.take_typed(request, encounter.pk, slug, encounter.answers)


def _context(**extra: Any) -> dict[str, Any]:
    return {**app_settings.contact(), **extra}


#: The encounter as this request last wrote or checked it (``_keep_fresh``).
FRESH = "_twitch_intake_fresh"


def _keep_fresh(request: HttpRequest, encounter: Encounter) -> None:
    """The row as this request's write (a page save, Send) or sign-in check left it: the page
    drawn next in the same request (``follow``) reads it from here, not with a query more."""
    setattr(request, FRESH, encounter)


def _bound_encounter(request: HttpRequest) -> Encounter | None:
    bound = request.session.get(SESSION_KEY)
    if not isinstance(bound, dict):
        return None
    pk = bound.get("id")
    if not isinstance(pk, int):  # as filter(pk=None) would, without the query
        return None
    fresh = getattr(request, FRESH, None)
    encounter = fresh if fresh is not None and fresh.pk == pk else Encounter.objects.by_pk(pk)
    if encounter is None or encounter.token_hash != bound.get("link"):
        return None
    return encounter


def _bind(request: HttpRequest, encounter: Encounter) -> None:
    request.session.cycle_key()  # a new session id at every sign-in: no fixation
    idle.forget(request.session, keep_typed_for=encounter.pk)
    drafts.forget(request, unless_for=encounter)
    refused.drop(request)  # what was typed before the date was accepted is done with
    request.session[SESSION_KEY] = {"id": encounter.pk, "link": encounter.token_hash}
    _keep_fresh(request, encounter)


def _steps(encounter: Encounter) -> Steps:
    """The pages of the current questionnaire: an intake not yet sent is answered in it (a
    save moves an older one to it), whatever version it was started under; what that version
    never showed is still to do."""
    version = encounter.questionnaire_version
    older = (
        None
        if encounter.is_submitted or version == questionnaire.TWITCH_INTAKE.version
        else version
    )
    return Steps.stored(encounter.completed_groups, encounter.answers, since=older)


def _intake(encounter: Encounter) -> questionnaire.Questionnaire:
    """The questionnaire the encounter's answers are read with: the current one until it is
    sent, then the version it was sent under, forever."""
    if not encounter.is_submitted:
        return questionnaire.TWITCH_INTAKE
    return questionnaire.stored_under(encounter.questionnaire_version)


def _place_url(step: str | None) -> str:
    """A step's page, or the review page (``None``) once every step is completed."""
    if step is None:
        return reverse("twitch_intake:review")
    return reverse("twitch_intake:page", args=[step])


def _resume_url(encounter: Encounter) -> str:
    if encounter.is_submitted:
        return reverse("twitch_intake:thanks")
    return _place_url(_steps(encounter).resume)


# --- Arriving -------------------------------------------------------------------------------


def unlogged(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Keep Django's request logger from writing this URL (it holds a link token) for 4xx."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        # django.utils.log.log_response's own guard, which django-stubs does not declare.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response

    return wrapper


@unlogged
@follow.follows
@intake_view
@require_http_methods(["GET", "POST"])
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the invitation. A GET changes nothing: mail scanners open links too.

    Each try is counted against the client's limit before it is made, and given back if it
    went well, so a burst of parallel tries gets no more than the limit between them.

    A refused POST (a wrong date, a bad link, over the limit) is answered with a 303 to this
    URL: the GET shows why (``refused`` keeps the typed date and the tries left), and a
    refresh is that GET, which never makes a try. A link that is unusable or paused, and the
    limit, are read again by the GET, so it looks to everyone as it did before the redirect.
    The GET that shows a refused try again is not counted: its POST was (and something is kept
    only for a real link, so it guesses nothing).
    """
    if request.method == "POST" and "language" in request.POST:
        # The language switch of a page drawn at this URL posts here ("./"), not to
        # ``language``, whose redirect back would carry the token in its Location header.
        return _switch_language(request, SeeOther(SAME_LINK))
    shown_again = request.method != "POST" and (
        refused.take(request, _on_link(hash_token(token))) is not None
    )
    if not shown_again and not ratelimit.take(request, "link"):
        if request.method == "POST":
            refused.drop(request)  # so the GET is counted too, and says the client is limited
            return SeeOther(SAME_LINK)
        return ratelimit.limited_response(request, "link")
    response, failed = _open_link(request, token)
    if not failed and not shown_again:
        ratelimit.give_back(request, "link")
    return response


#: Where a refused try on the link is sent: the link's own page, as a relative reference
#: (``/intake/link/<token>/`` resolves it to itself), so no response header holds the token.
SAME_LINK = "./"


def _on_link(token_hash: str) -> str:
    """What a refused try on a link is kept under: the link's hash, never its token."""
    return f"link:{token_hash}"


def _open_link(request: HttpRequest, token: str) -> tuple[HttpResponse, bool]:
    """The page for this try, and whether the try failed (a bad link or a wrong date)."""
    now = timezone.now()
    encounter = Encounter.objects.with_token(token).first()
    if encounter is None or not encounter.link_usable(now):
        if request.method == "POST":
            return SeeOther(SAME_LINK), True  # the GET shows the same page as to anyone else
        if (
            encounter is not None
            and encounter.token_expires_at is not None
            and encounter.token_expires_at > now  # a lock is worth waiting for, not an expiry
            and lockout.tried_here(request.session, encounter.token_hash)
        ):
            return _link_locked(request, encounter.locked_until, now), True
        return _link_unusable(request), True
    if encounter.is_submitted:
        # Shown to whoever holds the link, before any date of birth: the same page whatever
        # the answers (had an emergency's alone no office line, the link would tell a stranger
        # what the patient reported), and so the one fit for an emergency.
        page = _context(**_no_office_line(True))
        return render(request, "twitch_intake/already_sent.html", page), False
    # Found by its token_hash (with_token), so the hash is not None.
    token_hash = cast(str, encounter.token_hash)
    where = _on_link(token_hash)
    if request.method != "POST":
        return _confirm_page(request, _confirm_form(refused.take(request, where))), False
    form = ConfirmBirthDateForm(request.POST)
    if not form.is_valid():
        refused.keep(request, where, form)
        return SeeOther(SAME_LINK), False
    # This read was unlocked: the service decides, under the row lock.
    check = services.check_birth_date(
        token_hash,
        form.cleaned_data["date_of_birth"],
        now,
        client_address=ratelimit.client_address(request) or None,
    )
    if check.outcome is services.BirthDate.MATCHED and check.encounter is not None:
        lockout.forget_tries(request.session)
        _bind(request, check.encounter)
        response = redirect(_resume_url(check.encounter))
        if check.encounter.language in dict(settings.LANGUAGES):
            # Back on another device: carry on in the language they chose before.
            _remember_language(request, response, check.encounter.language)
        return response, False
    if check.outcome is services.BirthDate.WRONG:
        lockout.remember_wrong_try(request.session, token_hash)
    if check.outcome is services.BirthDate.UNUSABLE or not check.tries_left:
        # Paused or unusable now: the GET tells this browser so (``lockout.tried_here``), and
        # anyone else the same as for an unknown link.
        refused.drop(request)
        return SeeOther(SAME_LINK), True
    refused.keep(request, where, form, tries_left=check.tries_left)
    return SeeOther(SAME_LINK), True


def _confirm_form(kept: refused.Refused | None) -> ConfirmBirthDateForm:
    """The date-of-birth form for a GET (the link's page, the continue page): empty, or as
    refused on that page in this session (for a link, that link) with why, the tries left
    included."""
    if kept is None:
        return ConfirmBirthDateForm()
    form = ConfirmBirthDateForm(kept.query_dict())
    if form.is_valid() and kept.tries_left:
        form.add_error("date_of_birth", _mismatch(kept.tries_left))
    return form


def _mismatch(tries_left: int) -> ValidationError:
    """A wrong date, and how many more may be tried before the link is paused."""
    tries = ngettext(
        "You have %(count)d more try.", "You have %(count)d more tries.", tries_left
    ) % {"count": tries_left}
    return ValidationError(
        gettext("That date does not match what the clinic has. Check it and try again.")
        + " "
        + tries,
        code="mismatch",
    )


def _confirm_page(request: HttpRequest, form: ConfirmBirthDateForm) -> HttpResponse:
    return render(request, "twitch_intake/confirm.html", _context(form=form))


def _link_unusable(request: HttpRequest) -> HttpResponse:
    return render(request, "twitch_intake/link_unusable.html", _context(), status=404)


def _link_locked(
    request: HttpRequest, locked_until: datetime | None, now: datetime
) -> HttpResponse:
    """For the browser that made the wrong tries: the link is paused, and until when. Its
    status is the unusable link's, so no one reading status codes learns more than before."""
    if locked_until is None or locked_until <= now:  # expired, or revoked: nothing to wait for
        return _link_unusable(request)
    page = _context(wait=lockout.wait(locked_until, now), attempts=app_settings.DOB_ATTEMPTS)
    return render(request, "twitch_intake/link_locked.html", page, status=404)


@intake_view
@require_http_methods(["GET", "POST"])
def self_start(request: HttpRequest) -> HttpResponse:
    """A walk-in patient starts without a link (only where the clinic turned this on).

    A refused POST (a problem with what was typed, or over the limit) is answered with a 303
    to this page, whose GET shows it with what was typed (``refused``), until one is taken.
    """
    if not app_settings.SELF_START:
        raise Http404
    here = reverse("twitch_intake:self_start")
    if request.method == "POST":
        form = SelfStartForm(request.POST)
        limited = ratelimit.is_limited(request, "start")
        # Counted first, and only when valid: a burst cannot pass, a typing slip costs nothing.
        if limited or not form.is_valid() or not ratelimit.take(request, "start"):
            refused.keep(request, "start", form, limited=limited or form.is_valid())
            return SeeOther(here)
        data = form.cleaned_data
        encounter = services.start_walk_in(
            patient_name=data["patient_name"],
            date_of_birth=data["date_of_birth"],
            visit_date=data["visit_date"],
            language=get_language() or "",
        )
        _bind(request, encounter)
        return redirect(_resume_url(encounter))
    kept = refused.take(request, "start")
    if kept is None:
        form = SelfStartForm()
    else:
        if kept.limited and ratelimit.is_limited(request, "start"):
            return ratelimit.limited_response(request, "start")
        form = SelfStartForm(kept.query_dict())
        form.is_valid()  # the errors to show: what is wrong with what was typed
    return render(request, "twitch_intake/self_start.html", _context(form=form))


@patient_view
def resume(request: HttpRequest, encounter: Encounter) -> HttpResponse:
    return redirect(_resume_url(encounter))


@follow.follows
@intake_view
@require_http_methods(["GET", "POST"])
def welcome_back(request: HttpRequest) -> HttpResponse:
    """The date of birth again, after the session went idle: the link's own check, counted
    against the same lock and the client's same limit. Then the page that was being typed.

    A refused POST is answered with a 303 to this page: its GET shows why, with the date as
    typed (``refused``), and a refresh is that GET, which never makes a try.
    """
    closed = idle.suspended(request.session)
    if closed is None:
        if _bound_encounter(request) is not None:
            return redirect("twitch_intake:resume")
        return render(request, "twitch_intake/session_ended.html", _context(), status=403)
    here = reverse("twitch_intake:welcome_back")
    where = f"continue:{closed['link']}"
    if request.method != "POST":
        return _welcome_back_page(request, closed, where)
    form = ConfirmBirthDateForm(request.POST)
    if not form.is_valid():
        refused.keep(request, where, form)
        return SeeOther(here)
    if not ratelimit.take(request, "link"):
        refused.keep(request, where, form, limited=True)
        return SeeOther(here)
    now = timezone.now()
    check = services.check_birth_date(
        str(closed["link"]),
        form.cleaned_data["date_of_birth"],
        now,
        client_address=ratelimit.client_address(request) or None,
    )
    matched = check.encounter if check.outcome is services.BirthDate.MATCHED else None
    if matched is not None and matched.pk == closed["id"]:
        ratelimit.give_back(request, "link")
        lockout.forget_tries(request.session)
        typed = idle.typed_page(request.session)
        _bind(request, matched)
        steps = _steps(matched)
        if typed == GET_CARE and not matched.is_submitted:
            return redirect("twitch_intake:get_care")
        if typed is not None and not matched.is_submitted and typed in steps:
            return redirect("twitch_intake:page", typed)
        idle.drop_typed(request.session)  # nowhere to show it again
        return redirect(_resume_url(matched))
    if check.outcome is services.BirthDate.WRONG and check.tries_left:
        lockout.remember_wrong_try(request.session, str(closed["link"]))
        refused.keep(request, where, form, tries_left=check.tries_left)
        return SeeOther(here)
    refused.drop(request)
    if check.outcome is services.BirthDate.WRONG or (
        check.locked_until is not None and check.locked_until > now
    ):
        # Locked now (by this try or before): the patient may wait it out and come back here.
        lockout.remember_wrong_try(request.session, str(closed["link"]))
        return SeeOther(here)
    # The link was replaced or expired: only a new link opens the intake now.
    idle.forget(request.session)
    request.session.pop(idle.TYPED_KEY, None)
    return SeeOther(here)


def _welcome_back_page(request: HttpRequest, closed: dict[str, Any], where: str) -> HttpResponse:
    """The continue page for a GET: the lock page while the link is paused after this
    browser's wrong tries; the limit's page while a refused POST was over it; else the form,
    as refused here (with why, the tries left included) until a date is accepted."""
    now = timezone.now()
    link = str(closed["link"])
    if lockout.tried_here(request.session, link):
        locked_until = (
            Encounter.objects.filter(token_hash=link, locked_until__gt=now)
            .order_by()
            .values_list("locked_until", flat=True)
            .first()
        )
        if locked_until is not None:
            return _link_locked(request, locked_until, now)
    kept = refused.take(request, where)
    if kept is not None and kept.limited and ratelimit.is_limited(request, "link"):
        return ratelimit.limited_response(request, "link")
    form = _confirm_form(kept)
    minutes = int(app_settings.IDLE_TIMEOUT.total_seconds() // 60)
    page = {"form": form, "kept": idle.has_typed(request.session), "idle_minutes": minutes}
    return render(request, "twitch_intake/welcome_back.html", _context(**page))


# --- The pages ------------------------------------------------------------------------------


class SeeOther(HttpResponseRedirect):
    """303: the POST was not taken; see the page again (with what was typed, and why). Apart
    from the 302 of a page that was saved, for a client that reads the status (the tests, the
    benchmark); a browser follows either with a GET."""

    status_code = 303


@follow.follows
@patient_view
@require_http_methods(["GET", "POST"])
def page(request: HttpRequest, encounter: Encounter, slug: str) -> HttpResponse:
    """One page of questions. Every POST is answered with a redirect, a refused one too: what
    was typed and what is wrong with it wait in the session (a draft) for the GET that follows,
    so a refresh or Back never resends a form, and nothing typed is lost."""
    steps = _steps(encounter)
    if slug not in steps:
        raise Http404
    if encounter.is_submitted:
        return redirect("twitch_intake:thanks")
    if not steps.may_open(slug):
        return redirect(_place_url(steps.resume))  # no skipping ahead of the emergency page
    page_def = steps.page(slug)
    Form = form_class(page_def)
    here = reverse("twitch_intake:page", args=[slug])
    if request.method == "POST":
        form = Form(request.POST, stored=encounter.answers)
        if not form.is_valid():
            # Nothing is saved: the stored answers stay as they were.
            drafts.keep(request, encounter, slug, form.draft(), opened=form.opened())
            return SeeOther(here)
        result = _save(request, encounter, page_def, form.answers, draft=slug)
        if result.already_submitted:
            return redirect("twitch_intake:thanks")
        if result.is_emergency and _asks_about_emergencies(page_def):
            return redirect("twitch_intake:get_care")
        opened = form.newly_revealed()
        if opened:
            # JavaScript was off: show the follow-up question the answer just opened up.
            drafts.keep(request, encounter, slug, None, opened=opened)
            return redirect(here)
        return redirect(_place_url(_steps(result.encounter).after_save(slug)))
    draft = drafts.take(request, encounter, slug)
    opened_ids: list[str] = []
    if draft is not None and draft.data is not None:
        form = Form(draft.query_dict(), stored=encounter.answers, quiet=draft.opened)
        form.is_valid()  # the errors to show: what is wrong with what was typed
    elif (kept := kept_typing(request, encounter, slug)) is not None:
        form = Form(kept, stored=encounter.answers)  # typed before the session went idle
    else:
        form = Form(initial=initial_for(page_def, encounter.answers))
    if draft is not None:
        opened_ids = list(draft.opened)
    return _render_page(request, encounter, steps, page_def, form, opened=opened_ids)


def _save(
    request: HttpRequest,
    encounter: Encounter,
    page: questionnaire.Page,
    answers: dict[str, Any],
    *,
    draft: str,
) -> services.PageResult:
    """Save a page's answers in the patient's language; what was typed on it is done with."""
    result = services.save_page(
        encounter.pk,
        page,
        answers,
        language=get_language() or "",
        session_key=request.session.session_key,
    )
    drafts.drop(request, draft)
    idle.saved(request.session, draft)
    _keep_fresh(request, result.encounter)
    return result


def _render_page(
    request: HttpRequest,
    encounter: Encounter,
    steps: Steps,
    page: questionnaire.Page,
    form: Any,
    opened: list[str] | None = None,
) -> HttpResponse:
    previous = steps.previous(page.slug)
    reminder = None if _asks_about_emergencies(page) else _reminder(encounter)
    asked = {question.link_id: question for question in page.questions}
    opened = [link_id for link_id in opened or () if link_id in asked]
    return render(
        request,
        "twitch_intake/page.html",
        _context(
            form=form,
            page=page,
            step=steps.number(page.slug),
            steps=steps.count,
            previous_url=reverse("twitch_intake:page", args=[previous]) if previous else None,
            opened=opened,
            opened_required=any(asked[link_id].required for link_id in opened),
            encounter=encounter,
            # Not on the page that asks about the signs: there the patient may be changing them.
            reminder=reminder,
            # Also on the page that asks about the signs, once one was reported.
            **_no_office_line(reminder is not None or encounter.emergency_reported_at is not None),
        ),
    )


def _reminder(encounter: Encounter) -> tuple[Any, ...] | None:
    """The signs the patient reported, for the one-line reminder on every later page; ``None``
    when the answers hold none and none was ever reported. A sign taken back is still told
    (the intake stays an emergency until a clinician reconciles it, and a patient who unticked
    "trouble breathing" in a panic must still read "call now"): the history is read only for
    an intake that reported one."""
    earlier = history.earlier_answers(encounter.pk) if encounter.emergency_reported_at else None
    assessment = triage.assess(encounter.answers, _intake(encounter), earlier=earlier)
    if not assessment.is_emergency:
        return None
    withdrawn = [a for w in assessment.withdrawn_signs for a in w.answers]
    return tuple(dict.fromkeys([*assessment.emergency_signs, *withdrawn]))


def _no_office_line(emergency: bool) -> dict[str, str]:
    """Beside "call the emergency number now", the clinic's office number is not offered:
    only an advice line that answers at all hours may be (CLINICAL.md, the get-care page)."""
    return {"clinic_phone": ""} if emergency else {}


def _clinic_was_told(encounter: Encounter) -> bool:
    """Only when an alert was really queued, to someone: never a promise the clinic cannot keep."""
    return encounter.alerted_at is not None and bool(app_settings.ALERT_EMAILS)


def _response_page(encounter: Encounter) -> questionnaire.Page | None:
    """The page whose get-care question(s) apply to the stored answers, if any."""
    for page in questionnaire.TWITCH_INTAKE.pages():
        if any(q.emergency_response and q.is_enabled(encounter.answers) for q in page.questions):
            return page
    return None


def _asks_about_emergencies(page: questionnaire.Page) -> bool:
    """Whether ``page`` holds a question an emergency rule reads."""
    emergency_questions = triage.emergency_questions()
    return any(question.link_id in emergency_questions for question in page.questions)


#: The get-care form's draft, beside the pages' (no page has this slug).
GET_CARE = "get-care-now"


@follow.follows
@patient_view
@require_http_methods(["GET", "POST"])
def get_care(request: HttpRequest, encounter: Encounter) -> HttpResponse:
    """Get care now: shown the moment an emergency sign is saved, before anything else.

    Below the warning, the patient says what they are doing about it: a small form of its own,
    saved with the rest of its group's answers (redirect after POST; no JavaScript needed).
    """
    intake = _intake(encounter)
    assessment = triage.assess(encounter.answers, intake)
    if not assessment.is_emergency:
        return redirect(_resume_url(encounter))
    page = None if encounter.is_submitted else _response_page(encounter)
    form = None
    if page is not None:
        draft = None if request.method == "POST" else drafts.take(request, encounter, GET_CARE)
        if request.method == "POST":
            form = EmergencyResponseForm(page, encounter.answers, request.POST)
            if not form.is_valid():
                # Redirect after POST, a refused one too (no resending on refresh or Back):
                # what was ticked, and why it was refused, are shown on the GET.
                drafts.keep(request, encounter, GET_CARE, form.draft())
                return SeeOther(reverse("twitch_intake:get_care"))
            result = _save(request, encounter, page, form.answers, draft=GET_CARE)
            if result.already_submitted:
                return redirect("twitch_intake:thanks")
            return redirect("twitch_intake:get_care")
        if draft is not None and draft.data is not None:
            form = EmergencyResponseForm(page, encounter.answers, draft.query_dict())
            form.is_valid()  # the errors to show: what is wrong with what was ticked
        elif (kept := kept_typing(request, encounter, GET_CARE)) is not None:
            form = EmergencyResponseForm(page, encounter.answers, kept)  # typed before idle
        elif _steps(encounter).is_complete:
            # Every page is done (sent back here by Submit, say): say at once what is missing.
            form = EmergencyResponseForm(page, encounter.answers, {})
            form.is_valid()
        else:
            form = EmergencyResponseForm(page, encounter.answers)
    elif request.method == "POST":
        return redirect("twitch_intake:get_care")
    responses = form.questions if form is not None else ()
    answered = [
        q.label(encounter.answers[q.link_id]) for q in responses if q.link_id in encounter.answers
    ]
    urgency = intake.urgency(encounter.answers, triage.emergency_questions())
    return render(
        request,
        "twitch_intake/emergency.html",
        _context(
            signs=assessment.emergency_signs,
            # A sign that declares no urgency is told the most urgent message.
            get_there=urgency is questionnaire.Urgency.GET_CARE_NOW,
            clinic_told=_clinic_was_told(encounter),
            form=form,
            answered=answered,
            continue_url=_resume_url(encounter),
            # Not the clinic's office line here: only an advice line that answers at all hours
            # (ADVICE_PHONE) is offered to someone who needs care now (CLINICAL.md).
            clinic_phone="",
        ),
    )


@patient_view
def review(request: HttpRequest, encounter: Encounter) -> HttpResponse:
    """Check your answers (GOV.UK's pattern): each answer with a "Change" link to its page;
    once every page is done, that page's Continue comes straight back here."""
    if encounter.is_submitted:
        return redirect("twitch_intake:thanks")
    steps = _steps(encounter)
    if not steps.is_complete:
        return redirect(_resume_url(encounter))
    reminder = _reminder(encounter)
    # Each question's page, once: the URL of every page is reversed once, not once per answer.
    page_urls = {
        question.link_id: url
        for page in steps.pages
        for url in [reverse("twitch_intake:page", args=[page.slug])]
        for question in page.questions
    }
    return render(
        request,
        "twitch_intake/review.html",
        _context(
            sections=[
                {
                    **section,
                    "rows": [_review_row(page_urls, encounter.answers, r) for r in section["rows"]],
                }
                for section in display.answer_sections(encounter.answers)
            ],
            steps=steps.count,
            reminder=reminder,
            **_no_office_line(reminder is not None),
        ),
    )


def _review_row(
    page_urls: dict[str, str], answers: dict[str, Any], row: dict[str, Any]
) -> dict[str, Any]:
    """One answer of the review: where to change it, and a multi-choice answer as one line per
    option ticked (labels hold commas, so never joined). A question asked on the get-care page
    is changed there, not on its group's page."""
    question = questionnaire.TWITCH_INTAKE.question(row["link_id"])
    lines: list[str] = []
    if question.type is questionnaire.ItemType.CHOICE and question.repeats:
        ticked = triage.ticked_codes(answers, question.link_id)
        lines = [str(question.label(code)) for code in ticked]
    # No #fragment to the question: a browser would carry it through the redirect back here.
    if question.emergency_response or question.link_id not in page_urls:
        url = reverse("twitch_intake:get_care")
    else:
        url = page_urls[question.link_id]
    return {**row, "url": url, "lines": lines}


@follow.follows
@patient_view
@require_POST
def submit(request: HttpRequest, encounter: Encounter) -> HttpResponse:
    steps = _steps(encounter)
    if not encounter.is_submitted and not steps.is_complete:
        # Every page first: the save of one is what moves an older intake to this version.
        return redirect(_resume_url(encounter))
    result = services.submit(encounter.pk, session_key=request.session.session_key)
    _keep_fresh(request, result.encounter)
    if result.ok:
        drafts.forget(request)  # sent: nothing typed is kept in the session any longer
        idle.drop_typed(request.session)
    if not result.ok:
        link_id = result.problems[0].link_id
        intake = questionnaire.TWITCH_INTAKE
        if intake.has_question(link_id) and intake.question(link_id).emergency_response:
            return redirect("twitch_intake:get_care")  # the question is asked there
        slug = steps.page_of(link_id)
        if slug is None:
            return redirect("twitch_intake:review")
        return redirect("twitch_intake:page", slug)
    return HttpResponseRedirect(reverse("twitch_intake:thanks"))


@patient_view
def thanks(request: HttpRequest, encounter: Encounter) -> HttpResponse:
    if not encounter.is_submitted:
        return redirect(_resume_url(encounter))
    reminder = _reminder(encounter)
    return render(
        request,
        "twitch_intake/thanks.html",
        _context(
            reminder=reminder,
            # An emergency intake is never promised a call back.
            emergency=reminder is not None or encounter.level == triage.Level.EMERGENCY,
            **_no_office_line(reminder is not None or encounter.level == triage.Level.EMERGENCY),
            advice=_intake(encounter).after_advice(encounter.answers),
        ),
    )


@intake_view
@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """The patient's language, remembered in a cookie and on their encounter."""
    target = request.POST.get("next", "")
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        target = reverse("twitch_intake:resume")
    # Not redirect(): it would try ``next`` as a view name first ("admin:index", or a 500).
    return _switch_language(request, HttpResponseRedirect(target))


def _switch_language(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """The posted ``language``, if it is one of the site's, on ``response`` (the way back)."""
    code = request.POST.get("language", "")
    if code in dict(settings.LANGUAGES):
        _remember_language(request, response, code)
        encounter = _bound_encounter(request)
        if encounter is not None:
            services.set_language(encounter.pk, code)
    return response


def _remember_language(request: HttpRequest, response: HttpResponse, code: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=request.is_secure(),
        httponly=True,
    )
