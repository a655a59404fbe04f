"""Django forms for the patient's pages, generated from the questionnaire.

One form class per page of the questionnaire (a group, or a part of one). Field names are the
linkIds, so a POST carries the same keys as the stored answers and FHIR. The fields only turn the browser's strings into values;
what is a valid answer is decided by :func:`validation.validate_group`, the same function a
FHIR import goes through, so the two can never disagree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from crispy_forms.layout import Div, Field, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from . import dates, questionnaire, validation
from .layout import FormHelper  # the app's own template pack, whatever the host's default
from .models import birth_date_plausible
from .questionnaire import ItemType, Page, Question

if TYPE_CHECKING:
    from django.http import QueryDict
    from django.utils.functional import Promise

YES, NO = "yes", "no"
#: Hidden field: the show-when questions that were visible when the page was drawn. A question
#: revealed by an answer the server has not yet seen (JavaScript off) is shown before going on.
REVEALED = "_revealed"
#: Radio and checkbox groups: one fieldset with a legend, the options drawn in a single loop.
CHOICES_TEMPLATE = "twitch_intake/fields/choices.html"
#: Text boxes: label, hint, then the error message, above the box (as GOV.UK orders them).
TEXT_TEMPLATE = "twitch_intake/fields/text.html"
#: A draft keeps at most this many characters of a posted value (see ``kept_values``).
DRAFT_LIMIT = 10_000


def kept_values(values: Sequence[Any], most: int) -> list[str]:
    """Posted values as they are kept to show again (a refused page's draft, a page typed after
    the idle limit, a refused date): at most ``most`` of them, each cut at ``DRAFT_LIMIT``
    characters, longer than any answer may be, so the "too long" message still applies."""
    return [str(value)[:DRAFT_LIMIT] for value in values[:most]]


def _drafted(data: QueryDict, questions: Iterable[Question]) -> dict[str, list[str]]:
    """The posted values of ``questions`` only, as a draft keeps them."""
    kept: dict[str, list[str]] = {}
    for question in questions:
        values = kept_values(data.getlist(question.link_id), max(1, len(question.options)))
        if values:
            kept[question.link_id] = values
    return kept


#: The code of the error a required follow-up gets when the patient never saw it (JavaScript
#: off): the page is shown again with the question, never with this as an error.
OPENED = "revealed"


def question_label(question: Question) -> str | Promise:
    """The question as its label or legend says it: "(optional)" after an optional one, and
    nothing after a required one (GOV.UK: no asterisks). A follow-up is required only when
    shown, and then it is required."""
    if question.required:
        return question.text
    return format_lazy("{} {}", question.text, _("(optional)"))


def _field_for(question: Question) -> forms.Field:
    common: dict[str, Any] = {
        "label": question_label(question),
        "required": False,
        "help_text": question.help,
    }
    if question.type is ItemType.CHOICE:
        choices = [(o.code, o.label) for o in question.options]
        # Never echo the posted value back: it may be anything.
        common["error_messages"] = {
            "invalid_choice": _("Choose only from the answers shown."),
            "invalid_list": _("Choose only from the answers shown."),
        }
        if question.repeats:
            several = forms.MultipleChoiceField(
                choices=choices, widget=forms.CheckboxSelectMultiple, **common
            )
            several.exclusive = question.exclusive  # type: ignore[attr-defined]
            return several
        return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **common)
    if question.type is ItemType.BOOLEAN:
        common["error_messages"] = {"invalid_choice": _("Answer yes or no.")}
        return forms.ChoiceField(
            choices=[(YES, _("Yes")), (NO, _("No"))], widget=forms.RadioSelect, **common
        )
    attrs = {"autocomplete": "off"}
    if question.type is ItemType.TEXT:
        widget: forms.Widget = forms.Textarea(attrs={**attrs, "rows": 3})
    else:
        widget = forms.TextInput(attrs=attrs)
    # No max_length here: the questionnaire's own check gives the friendlier message, and the
    # browser's maxlength would silently cut a pasted answer instead of saying so.
    field = forms.CharField(widget=widget, strip=True, **common)
    # Nor Django's own NUL check: its technical message would pre-empt the questionnaire's
    # plain one, which refuses NUL like every other control character (as a FHIR import does).
    field.validators = [
        v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)
    ]
    return field


class RevealedField(forms.CharField):
    """The page's hidden show-when state: an ordinary field, never part of a template's source.

    Only the follow-up linkIds of the page itself are kept, and the input is drawn from what
    was kept rather than from what was posted, so nothing a browser sends comes back in the page
    (and what does is escaped by the widget like any other value).
    """

    widget = forms.HiddenInput

    def __init__(self, follow_ups: Iterable[str]) -> None:
        super().__init__(required=False)
        self.follow_ups = frozenset(follow_ups)

    def to_python(self, value: Any) -> str:
        words = value.split() if isinstance(value, str) else []
        return " ".join(sorted(self.follow_ups.intersection(words)))

    def bound_data(self, data: Any, initial: Any) -> str:
        return self.to_python(data)


def _show_when_attribute(when: questionnaire.ShowWhen) -> str:
    """``question:code`` for intake.js; ``question:!code`` for "answered, with anything but".
    A yes/no parent is named by the value its radio button posts."""
    code = (YES if when.code else NO) if isinstance(when.code, bool) else when.code
    return f"{when.question}:{'!' if when.other_than else ''}{code}"


def _on_page(page: Page) -> tuple[Question, ...]:
    """The questions a page asks: not those asked on the get-care page."""
    return tuple(q for q in page.questions if not q.emergency_response)


def _as_answer(question: Question, value: Any) -> Any:
    """A posted yes/no as the answer it stands for, so that show-when reads it as stored."""
    if question.type is ItemType.BOOLEAN and value in (YES, NO):
        return value == YES
    return value


class PageForm(forms.Form):
    """One page of the intake. Subclasses are made by :func:`form_class` for each page.

    ``stored``: the answers saved so far. A question of the page asked elsewhere (on the
    get-care page) keeps its stored answer while it still applies, and is cleared when it no
    longer does, as a follow-up question is; its own page reports it missing, not this one.
    """

    page: Page

    def __init__(
        self,
        *args: Any,
        stored: Mapping[str, Any] | None = None,
        quiet: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stored: Mapping[str, Any] = stored or {}
        #: Follow-ups just shown to a patient whose answer opened them (JavaScript off): shown
        #: as questions, not reported missing (a draft shown again, ``views.page``).
        self.quiet = frozenset(quiet)
        self.answers: dict[str, Any] = {}
        current = self._current_values()
        if self.is_bound:
            self.revealed = set(self[REVEALED].value().split())
        else:
            self.revealed = {
                q.link_id for q in self.page.questions if q.show_when and q.is_enabled(current)
            }
            self.fields[REVEALED].initial = " ".join(sorted(self.revealed))
        self.helper = FormHelper(self)
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        items: list[Any] = []
        for question in _on_page(self.page):
            template = (
                CHOICES_TEMPLATE
                if question.type in (ItemType.CHOICE, ItemType.BOOLEAN)
                else TEXT_TEMPLATE
            )
            field = Field(question.link_id, template=template)
            if question.show_when:
                shown = question.is_enabled(current)
                items.append(
                    Div(
                        field,
                        css_class="show-when" + ("" if shown else " d-none"),
                        data_show_when=_show_when_attribute(question.show_when),
                        data_question=question.link_id,
                    )
                )
            else:
                items.append(field)
        items.append(Field(REVEALED))
        self.helper.layout = Layout(*items)

    def _current_values(self) -> dict[str, Any]:
        """What the page shows now, as answers: the posted data when bound, else the stored
        answers."""
        values: dict[str, Any] = {}
        for question in _on_page(self.page):
            if not self.is_bound:
                value = self.initial.get(question.link_id)
            elif question.repeats:
                # A PageForm is only ever bound to request.POST (views.page): a QueryDict.
                value = cast("QueryDict", self.data).getlist(question.link_id)
            else:
                value = self.data.get(question.link_id)
            values[question.link_id] = _as_answer(question, value)
        return values

    def clean(self) -> dict[str, Any]:
        super().clean()  # Form.clean returns cleaned_data itself
        cleaned = self.cleaned_data
        values: dict[str, Any] = {}
        for question in self.page.questions:
            if question.link_id not in self.fields:
                values[question.link_id] = self.stored.get(question.link_id)
                continue
            if question.link_id in self.errors:
                continue
            values[question.link_id] = _as_answer(question, cleaned.get(question.link_id))
        stored, problems = validation.validate_group(self.page, values)
        for problem in problems:
            if problem.link_id in self.quiet and problem.code == "required":
                continue
            if problem.link_id in self.fields and problem.link_id not in self.errors:
                self.add_error(problem.link_id, self._error(problem))
        self.answers = stored
        return cleaned

    def _error(self, problem: validation.Problem) -> ValidationError:
        """The problem's message; for a required follow-up the patient was never shown (an
        answer opened it with JavaScript off), an error of its own code, ``OPENED``: the view
        shows the page again with the question on it, and never shows this as an error."""
        question = self.page_question(problem.link_id)
        if (
            problem.code == "required"
            and question.show_when
            and problem.link_id not in self.revealed
        ):
            return ValidationError(
                _("Your answer opened this question. Answer it, then press Continue."),
                code=OPENED,
            )
        return ValidationError(problem.message, code=problem.code)

    def opened(self) -> list[str]:
        """The required follow-ups that an answer opened and the patient never saw: the only
        thing wrong with each is that it was not on screen."""
        return [
            name
            for name, errors in self.errors.as_data().items()
            if errors and all(error.code == OPENED for error in errors)
        ]

    def draft(self) -> dict[str, list[str]]:
        """What was posted, to show the page again as typed: only this page's own fields, each
        value cut at ``DRAFT_LIMIT`` characters (longer than any answer may be, so the "too
        long" message still applies), and ``_revealed`` as the page will be drawn: every
        follow-up the posted answers open, which the patient is about to see."""
        kept = _drafted(cast("QueryDict", self.data), _on_page(self.page))
        current = self._current_values()
        shown = [q.link_id for q in _on_page(self.page) if q.show_when and q.is_enabled(current)]
        kept[REVEALED] = [" ".join(sorted(shown))]
        return kept

    def page_question(self, link_id: str) -> Question:
        return next(q for q in self.page.questions if q.link_id == link_id)

    def newly_revealed(self) -> list[str]:
        """Optional show-when questions that now apply but the patient has not been shown."""
        return [
            q.link_id
            for q in _on_page(self.page)
            if q.show_when
            and q.link_id not in self.revealed
            and q.is_enabled(self.answers)
            and q.link_id not in self.answers
        ]


def _from_stored(value: Any) -> Any:
    if value is True:
        return YES
    if value is False:
        return NO
    return value


def initial_for(page: Page, answers: dict[str, Any]) -> dict[str, Any]:
    return {
        q.link_id: _from_stored(answers[q.link_id]) for q in page.questions if q.link_id in answers
    }


#: Each page's form class, made once: keyed by the page's group object, so that a questionnaire
#: put in place of the intake's (a new version, a test's) gets forms of its own. Each entry keeps
#: its group alive, so no other group can take its ``id()``.
_form_classes: dict[tuple[int, str], tuple[questionnaire.Group, type[PageForm]]] = {}


def form_class(page: Page) -> type[PageForm]:
    """The form of one page of the patient form."""
    key = (id(page.group), page.slug)
    kept = _form_classes.get(key)
    if kept is not None and kept[0] is page.group:
        return kept[1]
    asked = _on_page(page)
    fields: dict[str, forms.Field] = {q.link_id: _field_for(q) for q in asked}
    fields[REVEALED] = RevealedField(q.link_id for q in asked if q.show_when)
    name = "".join(part.title() for part in page.slug.split("-"))
    made = type(f"{name}Form", (PageForm,), {"page": page, **fields})
    _form_classes[key] = (page.group, made)
    return made


class EmergencyResponseForm(forms.Form):
    """The get-care page's question(s): what the patient is doing about the signs they ticked.

    Checked with the rest of its page's stored answers by :func:`validation.validate_group`,
    like any page, so that ``answers`` is what a save of the page stores: the answers already
    saved with this one added.
    """

    def __init__(self, page: Page, stored: Mapping[str, Any], *args: Any, **kwargs: Any) -> None:
        self.page = page
        self.stored = stored
        self.questions = tuple(q for q in page.questions if q.emergency_response)
        kwargs.setdefault(
            "initial", {q.link_id: stored[q.link_id] for q in self.questions if q.link_id in stored}
        )
        super().__init__(*args, **kwargs)
        for question in self.questions:
            self.fields[question.link_id] = _field_for(question)
        self.answers: dict[str, Any] = {}
        self.helper = FormHelper(self)
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            *(Field(q.link_id, template=CHOICES_TEMPLATE) for q in self.questions)
        )

    def draft(self) -> dict[str, list[str]]:
        """What was posted, to show the form again as ticked after the redirect: only its own
        questions' fields, each value cut at ``DRAFT_LIMIT`` characters."""
        return _drafted(cast("QueryDict", self.data), self.questions)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        values = {q.link_id: self.stored.get(q.link_id) for q in self.page.questions}
        for question in self.questions:
            if question.link_id not in self.errors:
                values[question.link_id] = cleaned.get(question.link_id)
        stored, problems = validation.validate_group(self.page, values)
        for problem in problems:
            if problem.link_id in self.fields and problem.link_id not in self.errors:
                self.add_error(problem.link_id, ValidationError(problem.message, code=problem.code))
        if any(problem.link_id not in self.fields for problem in problems):
            # An answer of the page itself is not valid as stored: saving the page now would
            # drop it. Nothing is saved; the page itself is the place to put it right.
            self.add_error(
                None,
                ValidationError(
                    _("Please go back to the first page and check your answers there."),
                    code="page_incomplete",
                ),
            )
        self.answers = stored
        return cleaned


class DateInput(forms.DateInput):
    input_type = "date"


#: The crispy field template of a date in boxes: a fieldset, its hint, the error, the boxes.
DATE_FIELD_TEMPLATE = "twitch_intake/widgets/date_field.html"


class DateBoxes(forms.MultiWidget):
    """Day, month and year as three labelled text boxes (GOV.UK "Date input").

    ``inputmode=numeric`` brings up the number keyboard without ``type=number``'s spinners and
    silent rounding; ``autocomplete`` lets the browser fill a saved birthday. Only the boxes
    that are wrong are marked: ``wrong`` is set by the field when it reads them, and stays
    ``None`` (all three) for a problem of the whole date, such as one the view adds.
    """

    template_name = "twitch_intake/widgets/date_boxes.html"
    #: Box widths in characters (GOV.UK: 2, 2 and 4).
    WIDTHS = {"day": 2, "month": 2, "year": 4}

    def __init__(self, autocomplete: str = "bday") -> None:
        super().__init__(
            widgets={
                part: forms.TextInput(
                    attrs={
                        "inputmode": "numeric",
                        "autocomplete": f"{autocomplete}-{part}",
                        "spellcheck": "false",
                        "maxlength": "20",
                    }
                )
                for part in dates.PARTS
            }
        )
        self.wrong: tuple[str, ...] | None = None

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, dt.date):
            return [str(value.day), str(value.month), str(value.year)]
        return [None, None, None]

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        """The three boxes; or, when none was posted, the one ISO date a page loaded before the
        boxes (the browser's own date field) still sends, read into them."""
        names = [f"{name}_{part}" for part in dates.PARTS]
        if not any(key in data for key in names) and name in data:
            single = data.get(name) or ""
            match = re.fullmatch(r"\s*([0-9]{1,4})-([0-9]{1,2})-([0-9]{1,2})\s*", single)
            if match:
                year, month, day = match.groups()
                return [day, month, year]
            return ["", "", single] if single.strip() else ["", "", ""]
        return [str(data.get(key) or "") for key in names]

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data and all(f"{name}_{part}" not in data for part in dates.PARTS)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        attrs = dict(attrs or {})
        invalid = attrs.pop("aria-invalid", None) == "true" or "is-invalid" in attrs.get(
            "class", ""
        )
        attrs.pop("class", None)
        attrs.pop("required", None)  # novalidate pages: the server says what is missing
        context = super().get_context(name, value, attrs)
        labels = {"day": _("Day"), "month": _("Month"), "year": _("Year")}
        for part, sub in zip(dates.PARTS, context["widget"]["subwidgets"], strict=True):
            marked = invalid and (self.wrong is None or part in self.wrong)
            width = self.WIDTHS[part]
            sub["attrs"]["class"] = f"form-control date-input-box date-input-{width}" + (
                " is-invalid" if marked else ""
            )
            sub["attrs"].pop("aria-describedby", None)
            if marked:
                sub["attrs"]["aria-invalid"] = "true"
            else:
                sub["attrs"].pop("aria-invalid", None)
            if attrs.get("id"):
                sub["attrs"]["id"] = f"{attrs['id']}_{part}"
            sub["part"] = part
            sub["label"] = labels[part]
        return context

    def id_for_label(self, id_: str) -> str:
        return f"{id_}_day" if id_ else ""


def _month_names() -> dict[str, int]:
    """Month names a patient may type: English, and the active language's (full and short)."""
    from django.utils.dates import MONTHS, MONTHS_3

    names = dict(dates.ENGLISH_MONTHS)
    for table in (MONTHS, MONTHS_3):
        for number, name in table.items():
            names[str(name).lower()] = number
    return names


#: What each set of empty boxes says (GOV.UK: "Date of birth must include a month").
_INCOMPLETE = {
    ("day",): _("Date of birth must include a day"),
    ("month",): _("Date of birth must include a month"),
    ("year",): _("Date of birth must include a year"),
    ("day", "month"): _("Date of birth must include a day and month"),
    ("day", "year"): _("Date of birth must include a day and year"),
    ("month", "year"): _("Date of birth must include a month and year"),
}


class BirthDateField(forms.Field):
    """A date of birth from :class:`DateBoxes`, with GOV.UK's messages, one problem at a time.

    What was typed is kept on error (the boxes show it again, never a reformatted guess).
    """

    widget = DateBoxes

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Your date of birth"))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dt.date | None:
        widget = cast(DateBoxes, self.widget)
        day, month, year = (list(value) + ["", "", ""])[:3] if value else ("", "", "")
        reading = dates.read(str(day), str(month), str(year), month_names=_month_names())
        widget.wrong = reading.parts if reading.parts != dates.PARTS else None
        if reading.problem is dates.Problem.EMPTY:
            if self.required:
                raise ValidationError(_("Enter your date of birth."), code="required")
            return None
        if reading.problem is dates.Problem.INCOMPLETE:
            raise ValidationError(_INCOMPLETE[reading.parts], code="incomplete")
        if reading.problem is dates.Problem.YEAR_DIGITS:
            raise ValidationError(_("Year must include 4 numbers"), code="year_digits")
        if reading.problem is not None or reading.date is None:
            raise ValidationError(_("Date of birth must be a real date"), code="invalid")
        widget.wrong = None  # from here on, a problem of the whole date
        if reading.date > timezone.localdate():
            raise ValidationError(_("Date of birth must be in the past"), code="future")
        if not birth_date_plausible(reading.date):
            raise ValidationError(
                _("Date of birth must be the same as or after 1 January 1900"),
                code="implausible",
            )
        return reading.date

    def validate(self, value: Any) -> None:
        """``to_python`` said everything: an empty, optional date is ``None``."""


class ConfirmBirthDateForm(forms.Form):
    date_of_birth = BirthDateField(
        help_text=_("We ask so that only you can open your form."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(Field("date_of_birth", template=DATE_FIELD_TEMPLATE))


class SelfStartForm(forms.Form):
    patient_name = forms.CharField(
        label=_("Your full name"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        error_messages={"required": _("Enter your name.")},
    )
    date_of_birth = BirthDateField()
    visit_date = forms.DateField(
        label=_("The date of your visit"),
        widget=DateInput(),
        error_messages={
            "required": _("Enter the date of your visit."),
            "invalid": _("Enter a real date."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            "patient_name", Field("date_of_birth", template=DATE_FIELD_TEMPLATE), "visit_date"
        )

    def clean_patient_name(self) -> str:
        name: str = self.cleaned_data["patient_name"]  # cleaned by its CharField
        refused = validation.character_problem(name, multiline=False)
        if refused is not None:  # a line break or a bidi control could pose as a chart heading
            raise ValidationError(
                _("Your name has a hidden character. Retype it."), code=refused[0]
            )
        return name

    def clean_visit_date(self) -> dt.date:
        visit: dt.date = self.cleaned_data["visit_date"]  # cleaned by its DateField
        today = timezone.localdate()
        if not today - dt.timedelta(days=1) <= visit <= today + dt.timedelta(days=366):
            raise ValidationError(
                _("Enter a date from today to a year from now."), code="out_of_range"
            )
        return visit
