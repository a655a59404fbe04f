"""The patient's way through the intake: one step per page of the questionnaire, in order.

In the manner of formtools' ``StepsHelper`` (``formtools/wizard/views.py``), but with nothing
to hold: a :class:`Steps` is built from a questionnaire and the groups already completed, and
answers every question the patient's pages ask of the order. Where may they go, what is before
and after this page, where do they resume.

One rule matters clinically: nobody opens a page beyond the first one not yet completed. The
emergency signs come first, so nobody reaches the rest of the intake without answering them.

Steps are the pages' slugs (``Questionnaire.pages()``): a group may be several pages, so that
every page is short on a phone, and the progress bar counts pages. The first page of a group is
named after the group, so a list of completed groups stored before groups had pages reads as
their first pages; :meth:`Steps.stored` fills in the rest from the answers. When every step is
completed the patient's next place is the review page, which is not a step: methods that return
a place return ``None`` for it.

Domain code: no HTTP, no ORM. The active questionnaire is read when a navigator is made, never
at import, so a questionnaire swapped in (a test, a new version) is followed at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

from . import questionnaire, validation


@dataclass(frozen=True)
class Steps:
    """The steps of ``definition`` and which of them the patient has completed."""

    definition: questionnaire.Questionnaire
    completed: frozenset[str]

    @classmethod
    def of(
        cls, completed: Iterable[str], definition: questionnaire.Questionnaire | None = None
    ) -> Steps:
        """The navigator for these completed steps of ``definition`` (the active questionnaire
        unless given). Completed ids that are not steps of it are ignored."""
        definition = definition or questionnaire.TWITCH_INTAKE
        return cls(definition, frozenset(step for step in completed if definition.has_page(step)))

    @classmethod
    def stored(
        cls,
        completed: Iterable[str],
        answers: questionnaire.Answers,
        definition: questionnaire.Questionnaire | None = None,
        *,
        since: str | None = None,
    ) -> Steps:
        """The navigator for a stored list of completed steps, which may name groups.

        A list stored before a group became several pages names only groups, which read as
        their first pages. Where that leaves a gap (a step completed after one that is not), or
        for an intake answered under the older version ``since``, completion is read again from
        the answers: each page of a group the list names counts as completed when its answers,
        as stored, are complete and valid, and, for ``since``, when that version offered all of
        it, so that the patient is shown every question and answer added since (a new emergency
        sign on the first page, a new optional question). No page of a group never named is
        added, so nothing the patient was never shown counts as done.
        """
        steps = cls.of(completed, definition)
        if since is not None and since not in steps.definition.versions:
            # A version nobody knows ("", or one a newer release wrote): read as the first, so
            # every page that gained a question or an answer since is shown again, never a 500.
            since = questionnaire.FIRST_VERSION
        named = set(completed)
        groups = {p.group.link_id for p in steps.pages if p.slug in named}
        only_groups = all(step in groups for step in steps.completed)
        if since is None and not (steps.has_gap and only_groups):
            return steps
        return cls(
            steps.definition,
            frozenset(
                p.slug
                for p in steps.pages
                if p.group.link_id in groups
                and (since is None or _offered_in(p, since))
                and _answered(p, answers)
            ),
        )

    def __repr__(self) -> str:
        return f"<Steps {self.all} (completed: {self.completed_in_order})>"

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        return iter(self.all)

    def __contains__(self, step: object) -> bool:
        return isinstance(step, str) and self.definition.has_page(step)

    # --- the order ------------------------------------------------------------------------

    @cached_property
    def all(self) -> tuple[str, ...]:
        """Every step, in the order the patient sees them."""
        return tuple(page.slug for page in self.pages)

    @property
    def pages(self) -> tuple[questionnaire.Page, ...]:
        return self.definition.pages()

    @property
    def count(self) -> int:
        return len(self.all)

    def page(self, step: str) -> questionnaire.Page:
        """The page of ``step``; a ``ValueError`` for anything that is not a step."""
        return self.pages[self.index(step)]

    def page_of(self, link_id: str) -> str | None:
        """The step that asks ``link_id``; None for a question on no page."""
        return next(
            (p.slug for p in self.pages if any(q.link_id == link_id for q in p.questions)), None
        )

    @property
    def first(self) -> str:
        return self.all[0]

    @property
    def last(self) -> str:
        return self.all[-1]

    def index(self, step: str) -> int:
        """The step's place from 0; a ``ValueError`` for anything that is not a step."""
        try:
            return self.definition.page_index(step)
        except (KeyError, TypeError):  # TypeError: not even hashable
            # The message ``self.all.index(step)`` gave before the places were looked up.
            raise ValueError("tuple.index(x): x not in tuple") from None

    def number(self, step: str) -> int:
        """The step's place from 1, as the progress bar counts ("Step 2 of 5")."""
        return self.index(step) + 1

    def next(self, step: str) -> str | None:
        """The step after ``step``; None after the last."""
        index = self.index(step) + 1
        return self.all[index] if index < self.count else None

    def previous(self, step: str) -> str | None:
        """The step before ``step``; None before the first."""
        index = self.index(step)
        return self.all[index - 1] if index else None

    # --- the patient's progress -------------------------------------------------------------

    @property
    def completed_in_order(self) -> tuple[str, ...]:
        return tuple(step for step in self.all if step in self.completed)

    @cached_property
    def first_incomplete(self) -> str | None:
        """The first step not completed; None when every one is."""
        return next((step for step in self.all if step not in self.completed), None)

    @property
    def is_complete(self) -> bool:
        return self.first_incomplete is None

    @property
    def has_gap(self) -> bool:
        """Whether a step is completed after one that is not (a list that named groups)."""
        stop = self.first_incomplete
        return stop is not None and any(
            self.index(step) > self.index(stop) for step in self.completed
        )

    def may_open(self, step: str) -> bool:
        """Whether the patient may open ``step``: any completed step, and the first incomplete
        one, but nothing beyond it (so nobody skips the emergency signs)."""
        if step not in self:
            return False
        stop = self.first_incomplete
        return stop is None or self.index(step) <= self.index(stop)

    def completing(self, step: str) -> Steps:
        """These steps with ``step`` completed too."""
        self.index(step)  # a step of this questionnaire, or a ValueError
        return Steps(self.definition, self.completed | {step})

    @property
    def resume(self) -> str | None:
        """Where a returning patient carries on: the first incomplete step, or the review
        page (None) when every step is completed."""
        return self.first_incomplete

    def after_save(self, step: str) -> str | None:
        """Where the patient goes once ``step`` is saved: the next step not yet completed, or
        wherever they resume (the review page, None, once every step is completed)."""
        following = self.all[self.index(step) + 1 :]
        return next((s for s in following if s not in self.completed), self.resume)


def _answered(page: questionnaire.Page, answers: questionnaire.Answers) -> bool:
    """Whether the answers the page itself asks are complete and valid as stored (a question
    asked on the get-care page is that page's to report)."""
    _, problems = validation.validate_group(page, answers)
    asked_here = {q.link_id for q in page.questions if not q.emergency_response}
    return not any(problem.link_id in asked_here for problem in problems)


def _offered_in(page: questionnaire.Page, version: str) -> bool:
    """Whether an intake of ``version`` was shown this whole page: every question and option
    (a question asked on the get-care page is that page's)."""
    return all(
        question.asked_in(version) and all(option.since_in(version) for option in question.options)
        for question in page.questions
        if not question.emergency_response
    )
