"""Staff screens built for a working day (issue 19), through the test client: the app's own
title, the queue's columns, search by date of birth, the emergency banner's link, times in the
clinic's zone, the chart text's Copy page, the access log by name, "next unreviewed"."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import emergency_answers, make_encounter, make_submitted, routine_answers
from tests.test_checks import use_backend
from twitch_intake import checks, display
from twitch_intake.models import AccessEvent, Encounter

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
QUEUE = "/admin/twitch_intake/encounter/"
ACCESS_LOG = "/admin/twitch_intake/accessevent/"
#: Midday in the clinic (America/New_York in tests/settings.py) on 1 December 2026: 19:05 UTC.
AFTERNOON = dt.datetime(2026, 12, 1, 14, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


def _staff(username: str, group: str, **fields: Any) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True, **fields)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def clinician() -> User:
    return _staff("doctor", "Clinicians", first_name="Ana", last_name="Ruiz")


@pytest.fixture
def front_desk() -> User:
    return _staff("front", "Front desk")


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser("root", "root@clinic.test", PASSWORD)


def url(name: str, encounter: Encounter) -> str:
    return reverse(f"admin:twitch_intake_encounter_{name}", args=[encounter.pk])


def names(response: Any) -> list[str]:
    return [e.patient_name for e in response.context["cl"].result_list]


def branding(html: str) -> tuple[str, str]:
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    header = re.search(r'id="site-name".*?<a [^>]*>(.*?)</a>', html, re.S)
    assert title and header
    return title.group(1).strip(), header.group(1).strip()


# --- 1. The site's own title, on the app's pages only -------------------------------------------


def test_every_staff_screen_of_the_app_has_the_clinics_name_not_django_administration(
    client, clinician, superuser
):
    encounter = make_submitted(routine_answers())
    client.force_login(clinician)
    pages = [
        QUEUE,
        url("change", encounter),
        url("chart_text", encounter),
        url("history", encounter),
    ]
    pages += [reverse("twitch_intake:mfa-setup"), "/admin/twitch_intake/"]
    for page in pages:
        html = client.get(page).content.decode()
        title, header = branding(html)
        assert header == "Test Clinic", page
        assert title.endswith("| Test Clinic"), page
        assert "Django administration" not in html and "Django site admin" not in html, page
    client.force_login(superuser)
    event = AccessEvent.objects.first()
    assert event is not None
    for page in (ACCESS_LOG, f"{ACCESS_LOG}{event.pk}/change/"):
        assert branding(client.get(page).content.decode())[1] == "Test Clinic", page


def test_the_hosts_own_admin_pages_keep_the_hosts_header(client, superuser):
    client.force_login(superuser)
    for page in ("/admin/", "/admin/auth/user/", "/admin/password_change/"):
        assert branding(client.get(page).content.decode())[1] == "Django administration", page


def test_site_title_setting_wins_over_the_clinics_name(client, clinician, settings):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "SITE_TITLE": "Riverside <b>staff</b>"}
    client.force_login(clinician)
    for page in (QUEUE, "/admin/twitch_intake/", reverse("twitch_intake:mfa-setup")):
        html = client.get(page).content.decode()
        assert branding(html)[1] == "Riverside &lt;b&gt;staff&lt;/b&gt;", page


def test_with_neither_title_nor_clinic_name_the_hosts_header_stays(client, clinician, settings):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "CLINIC_NAME": "", "SITE_TITLE": ""}
    client.force_login(clinician)
    for page in (QUEUE, "/admin/twitch_intake/"):
        assert branding(client.get(page).content.decode())[1] == "Django administration", page


@pytest.mark.parametrize("value", [42, None, ["Clinic"], "Two\nlines", "x" * 101])
def test_a_site_title_of_the_wrong_type_is_error_e048(settings, value):
    use_backend(settings, "django.core.mail.backends.smtp.EmailBackend")  # not E029
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "SITE_TITLE": value}
    assert [e.id for e in checks.check_settings()] == ["twitch_intake.E048"]


def test_a_good_site_title_passes_the_checks(settings):
    use_backend(settings, "django.core.mail.backends.smtp.EmailBackend")  # not E029
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "SITE_TITLE": "Riverside Neurology staff"}
    assert [e.id for e in checks.check_settings()] == []


# --- 2. The queue's columns ---------------------------------------------------------------------


def test_the_queue_shows_name_birth_record_visit_level_flags_status_in_that_order(
    client, clinician, front_desk
):
    make_submitted(routine_answers(), record_number="MRN-77", date_of_birth=dt.date(1980, 3, 27))
    client.force_login(clinician)
    html = client.get(QUEUE).content.decode()
    headers = re.findall(r'<th scope="col" class="[^"]*column-([a-z_]+)', html)
    assert headers[:7] == [
        "patient_name",
        "born",
        "record_number",
        "visit",
        "level_badge",
        "flag_chips",
        "status",
    ]
    assert "27 Mar 1980" in html and "MRN-77" in html
    client.force_login(front_desk)
    html = client.get(QUEUE).content.decode()
    headers = re.findall(r'<th scope="col" class="[^"]*column-([a-z_]+)', html)
    assert headers == ["patient_name", "born", "record_number", "visit", "status"]


def test_flags_beyond_two_are_one_click_away_in_the_row(client, clinician):
    from tests.factories import every_flag_answers

    encounter = make_submitted(every_flag_answers())
    client.force_login(clinician)
    html = client.get(QUEUE).content.decode()
    row = html[html.index("field-flag_chips") :]
    row = row[: row.index("</td>")]
    shown, more = row.split('<details class="ti-more-flags">')
    assert shown.count('class="ti-chip ') == 2
    # The emergency first, then a highlighted red flag; every flag is still in the row.
    assert re.findall(r'class="ti-chip (ti-chip-[a-z]+)"', shown) == [
        "ti-chip-emergency",
        "ti-chip-highlight",
    ]
    assert f"+{len(encounter.flags) - 2} more" in more
    assert row.count('class="ti-chip ') == len(encounter.flags)


# --- 3. Search by name, record number and date of birth -----------------------------------------


@pytest.fixture
def three_patients() -> None:
    make_encounter(patient_name="Ada Lovelace", date_of_birth=dt.date(1980, 3, 27))
    make_encounter(
        patient_name="Alan Turing", date_of_birth=dt.date(1980, 3, 28), record_number="MRN-1912"
    )
    make_encounter(patient_name="Grace Hopper", date_of_birth=dt.date(1927, 3, 27))


@pytest.mark.parametrize(
    "typed",
    [
        "27/3/1980",
        "27/03/1980",
        "27-03-1980",
        "1980-03-27",
        "27 Mar 1980",
        "27 March 1980",
        "27.3.1980",
        " 27 mar 1980 ",
    ],
)
def test_the_queue_finds_a_date_of_birth_however_it_is_typed(
    client, front_desk, three_patients, typed
):
    client.force_login(front_desk)
    response = client.get(QUEUE, {"q": typed})
    assert response.status_code == 200
    assert names(response) == ["Ada Lovelace"]


@pytest.mark.parametrize(
    ("region", "typed", "found"),
    [
        # Two numbers either of which could be the month: the clinic's own order.
        ("US", "5/4/1980", dt.date(1980, 5, 4)),
        ("US", "05-04-1980", dt.date(1980, 5, 4)),
        ("GB", "5/4/1980", dt.date(1980, 4, 5)),
        ("ES", "5.4.1980", dt.date(1980, 4, 5)),
        ("us", "5/4/1980", dt.date(1980, 5, 4)),
        # Only one reading is a real day: found in every region.
        ("US", "27/3/1980", dt.date(1980, 3, 27)),
        ("GB", "3/27/1980", dt.date(1980, 3, 27)),
        ("GB", "12/12/1980", dt.date(1980, 12, 12)),
        # A month's name, before or after the day: the same everywhere.
        ("US", "Mar 27 1980", dt.date(1980, 3, 27)),
        ("GB", "March 27, 1980", dt.date(1980, 3, 27)),
        ("US", "27 March 1980", dt.date(1980, 3, 27)),
        ("US", "13/13/1980", None),
        ("GB", "Foo 27 1980", None),
    ],
)
def test_a_typed_date_is_read_in_the_clinics_order(settings, region, typed, found):
    """Staff in the United States (the default ``PHONE_REGION``) who type "5/4/1980" mean the
    4th of May; read day first, the search listed the patients born on the 5th of April."""
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "PHONE_REGION": region}
    assert display.parse_typed_date(typed) == found


def test_the_queue_finds_a_month_first_date_in_a_us_clinic(client, front_desk, settings):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "PHONE_REGION": "US"}
    make_encounter(patient_name="May Fourth", date_of_birth=dt.date(1980, 5, 4))
    make_encounter(patient_name="April Fifth", date_of_birth=dt.date(1980, 4, 5))
    client.force_login(front_desk)
    assert names(client.get(QUEUE, {"q": "5/4/1980"})) == ["May Fourth"]
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "PHONE_REGION": "GB"}
    assert names(client.get(QUEUE, {"q": "5/4/1980"})) == ["April Fifth"]


def test_names_and_record_numbers_are_searched_as_before(client, front_desk, three_patients):
    client.force_login(front_desk)
    assert names(client.get(QUEUE, {"q": "lovelace"})) == ["Ada Lovelace"]
    assert names(client.get(QUEUE, {"q": "MRN-1912"})) == ["Alan Turing"]
    assert sorted(names(client.get(QUEUE, {"q": "a"}))) == [
        "Ada Lovelace",
        "Alan Turing",
        "Grace Hopper",
    ]


def test_a_date_search_keeps_the_queues_filters(client, clinician):
    make_submitted(emergency_answers(), patient_name="Eve", date_of_birth=dt.date(1980, 3, 27))
    make_submitted(routine_answers(), patient_name="Rita", date_of_birth=dt.date(1980, 3, 27))
    client.force_login(clinician)
    response = client.get(QUEUE, {"q": "27/3/1980", "level__exact": "routine"})
    assert names(response) == ["Rita"]


def _plan_of_search(client: Any, typed: str) -> str:
    """The plan of the queue's list query for a search, with every way of reading the whole
    table (or a whole index) priced out: what is left is a bitmap scan of indexes that answer
    each part of the search as Django phrases it, if there are such indexes. (On a table this
    small the planner would rightly read every row anyway.)"""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(QUEUE, {"q": typed}).status_code == 200
    [listed] = [
        q["sql"]
        for q in captured.captured_queries
        if "LIKE" in q["sql"] and not q["sql"].startswith("SELECT COUNT")
    ]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + listed)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_search_is_answered_from_indexes_where_the_server_has_pg_trgm(
    client, front_desk, three_patients
):
    """A search by name or record number reads every row without a trigram index (seconds at a
    million encounters); migration 0016 makes one wherever pg_trgm is on the server, on the
    very expression Django's ``icontains`` compares, and a plain one for a date of birth."""
    client.force_login(front_desk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        trigram = cursor.fetchone() is not None
    by_name = _plan_of_search(client, "lovelace")
    by_date = _plan_of_search(client, "27/3/1980")
    if trigram:
        for plan in (by_name, by_date):
            assert "Seq Scan" not in plan, plan
            assert "encounter_patient_name_trgm" in plan, plan
            assert "encounter_record_number_trgm" in plan, plan
        assert "encounter_date_of_birth" in by_date, by_date
    else:  # the embedded PostgreSQL: a scan, and the search still finds the patient
        assert "_trgm" not in by_name
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'encounter_date_of_birth'")
            assert cursor.fetchone() is not None
        assert names(client.get(QUEUE, {"q": "lovelace"})) == ["Ada Lovelace"]


HOSTILE = [
    "31/2/1980",
    "0/0/0000",
    "27/13/1980",
    "99/99/99999",
    "1/1/10000",
    "27 Foo 1980",
    "27 Mär 1980",
    "'; DROP TABLE twitch_intake_encounter; --",
    '"unbalanced',
    "\\",
    "%",
    "_%_",
    "((((",
    "[a-z]+*",
    "27/3/1980" * 50,
    "é" * 5000,
    "\u202e1980-03-27",
    "1980-03-27\u0000",
    "<script>alert(1)</script>",
    "٢٧/٣/١٩٨٠",
    "２７/３/１９８０",
]


@pytest.mark.parametrize("typed", HOSTILE)
def test_hostile_search_strings_never_500(client, clinician, three_patients, typed):
    client.force_login(clinician)
    response = client.get(QUEUE, {"q": typed})
    assert response.status_code in {200, 400}
    assert b"<script>alert(1)</script>" not in response.content


@pytest.mark.parametrize(
    "typed", ["31/2/1980", "27/13/1980", "1/1/0000", "27 Foo 1980", "1980-3-27x", "", "27"]
)
def test_what_is_not_a_real_date_reads_as_none(typed):
    assert display.parse_typed_date(typed) is None


# --- 4. The emergency banner is a link that filters the queue -----------------------------------


def test_the_banner_links_to_the_queue_filtered_to_its_emergencies(client, clinician):
    make_submitted(emergency_answers(), patient_name="Eve Emergency")
    make_submitted(routine_answers(), patient_name="Rita Routine")
    client.force_login(clinician)
    html = client.get(QUEUE).content.decode()
    link = re.search(r'<p class="ti-queue-alert[^"]*"[^>]*>\s*<a [^>]*href="([^"]+)"', html)
    assert link, "the banner is not a link"
    assert names(client.get(QUEUE + link.group(1).replace("&amp;", "&"))) == ["Eve Emergency"]


# --- 5. Readable local times --------------------------------------------------------------------


def test_times_are_the_clinics_in_words_on_queue_encounter_summary_and_text(client, clinician):
    encounter = make_submitted(emergency_answers(), visit_at=AFTERNOON)
    Encounter.objects.filter(pk=encounter.pk).update(submitted_at=AFTERNOON)
    client.force_login(clinician)
    pages = {
        "queue": client.get(QUEUE).content.decode(),
        "encounter": client.get(url("change", encounter)).content.decode(),
        "chart": client.get(url("chart_text", encounter)).content.decode(),
        "text": client.get(url("text", encounter)).content.decode(),
        "print": client.get(url("print", encounter)).content.decode(),
    }
    for name, page in pages.items():
        assert "1 Dec 2026, 14:05" in page, name
        assert "a.m." not in page and "p.m." not in page, name
        assert "UTC" not in page and "19:05" not in page and " EST" not in page, name
    # The encounter page's own read-only times too (submitted), not the admin's format.
    assert re.search(
        r'field-submitted.*?<div class="readonly">1 Dec 2026, 14:05<', pages["encounter"], re.S
    )


def test_the_access_log_shows_who_by_name_and_when_in_the_clinics_time(
    client, clinician, superuser
):
    encounter = make_submitted(routine_answers())
    event = AccessEvent.objects.create(
        encounter=encounter, user=clinician, action=AccessEvent.Action.VIEW, at=AFTERNOON
    )
    client.force_login(superuser)
    for page in (ACCESS_LOG, f"{ACCESS_LOG}{event.pk}/change/"):
        html = client.get(page).content.decode()
        assert "Ana Ruiz (doctor)" in html, page
        assert "1 Dec 2026, 14:05" in html, page
        assert "p.m." not in html and "19:05" not in html, page
        assert f"by {clinician.pk} at" not in html, page


# --- 6. Copy on the chart text ------------------------------------------------------------------


def test_the_chart_text_page_has_a_copy_button_in_a_static_script_and_is_logged(client, clinician):
    encounter = make_submitted(routine_answers(notes="Worse <after> night shifts & coffee"))
    client.force_login(clinician)
    response = client.get(url("chart_text", encounter))
    html = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert re.search(r'<button type="button" [^>]*data-ti-copy="ti-chart-text"', html)
    assert '<script src="/static/twitch_intake/admin_copy.js" defer></script>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    # The same text as text/, escaped once as HTML.
    text = client.get(url("text", encounter)).content.decode()
    assert "&lt;after&gt; night shifts &amp; coffee" in html
    body = re.search(r'<pre id="ti-chart-text"[^>]*>(.*?)</pre>', html, re.S)
    assert body is not None
    assert (
        body.group(1)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&quot;", '"')
        .replace("&#x27;", "'")
        == text
    )
    actions = list(AccessEvent.objects.filter(user=clinician).values_list("action", flat=True))
    assert actions == ["text", "text"]


def test_the_chart_text_page_is_for_those_who_may_read_summaries(client, front_desk):
    encounter = make_submitted(routine_answers())
    client.force_login(front_desk)
    assert client.get(url("chart_text", encounter)).status_code == 403
    assert client.post(url("chart_text", encounter)).status_code == 405
    assert not AccessEvent.objects.filter(user=front_desk).exists()


# --- 7. After "Mark reviewed": the next unreviewed ----------------------------------------------


def test_after_review_a_link_opens_the_next_unreviewed_in_queue_order(client, clinician):
    soon = timezone.now() + dt.timedelta(days=1)
    first = make_submitted(routine_answers(), patient_name="First", visit_at=soon)
    later = make_submitted(
        routine_answers(), patient_name="Later", visit_at=soon + dt.timedelta(hours=2)
    )
    urgent = make_submitted(
        emergency_answers(), patient_name="Urgent", visit_at=soon + dt.timedelta(days=3)
    )
    make_encounter(patient_name="Not sent yet")
    client.force_login(clinician)

    response = client.post(url("review", first), follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert messages[0] == "Marked reviewed."
    # The emergency is next in the queue's order, though its visit is later.
    assert f'<a class="ti-next-unreviewed" href="{url("change", urgent)}">' in messages[1]
    assert "Urgent" not in messages[1]  # an address, never a name

    client.post(url("review", urgent), follow=True)  # and its messages shown
    response = client.post(url("review", later), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Marked reviewed.",
        "No unreviewed intakes are left.",
    ]
    assert "No unreviewed intakes are left." in response.content.decode()
