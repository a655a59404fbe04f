"""The patient's way through the intake: one step per questionnaire group, in order.

In the manner of formtools' ``StepsHelper`` (``formtools/wizard/views.py``), but with nothing
to hold: a :class:`Steps` is built from a questionnaire and the groups already completed, and
answers every question the patient's pages ask of the order. Where may they go, what is before
and after this page, where do they resume.

One rule matters clinically: nobody opens a page beyond the first one not yet completed. The
emergency signs come first, so nobody reaches the rest of the intake without answering them.

Steps are the groups' linkIds. When every step is completed the patient's next place is the
review page, which is not a step: methods that return a place return ``None`` for it.

Domain code: no HTTP, no ORM. The active questionnaire is read when a navigator is made, never
at import, so a questionnaire swapped in (a test, a new version) is followed at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from . import questionnaire


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
        ids = {group.link_id for group in definition.groups}
        return cls(definition, frozenset(step for step in completed if step in ids))

    def __repr__(self) -> str:
        return f"<Steps {self.all} (completed: {self.completed_in_order})>"

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        return iter(self.all)

    def __contains__(self, step: object) -> bool:
        return step in self.all

    # --- the order ------------------------------------------------------------------------

    @property
    def all(self) -> tuple[str, ...]:
        """Every step, in the order the patient sees them."""
        return tuple(group.link_id for group in self.definition.groups)

    @property
    def count(self) -> int:
        return len(self.definition.groups)

    @property
    def first(self) -> str:
        return self.all[0]

    @property
    def last(self) -> str:
        return self.all[-1]

    def index(self, step: str) -> int:
        """The step's place from 0; a ``ValueError`` for anything that is not a step."""
        return self.all.index(step)

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

    @property
    def first_incomplete(self) -> str | None:
        """The first step not completed; None when every one is."""
        return next((step for step in self.all if step not in self.completed), None)

    @property
    def is_complete(self) -> bool:
        return self.first_incomplete is None

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
