"""Who may see and answer which signal.

The outer ring (API, portal, CLI) knows staff members and their permissions; this module only
needs what they come to for signals, so the domain does not depend on how staff log in:

- a person who may file sees the signals they filed themselves;
- a person who triages sees, and answers, the signals about rules whose owner they answer for
  (`owns`);
- a person who triages everything sees and answers every signal of their organisation.

Nobody sees signals of another organisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class _Owned(Protocol):
    @property
    def organisation_id(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def filed_by(self) -> str: ...


@dataclass(frozen=True)
class Actor:
    """A member of staff as far as signals are concerned."""

    id: str
    organisation_id: str
    owns: frozenset[str] = field(default_factory=frozenset)
    may_file: bool = False
    may_triage: bool = False
    may_triage_all: bool = False

    @property
    def works_with_signals(self) -> bool:
        return self.may_file or self.may_triage or self.may_triage_all

    def answers_for(self, owner: str) -> bool:
        return self.may_triage_all or (self.may_triage and owner in self.owns)

    def sees(self, signal: _Owned) -> bool:
        if signal.organisation_id != self.organisation_id:
            return False
        return signal.filed_by == self.id or self.answers_for(signal.owner)

    def may_answer(self, signal: _Owned) -> bool:
        return signal.organisation_id == self.organisation_id and self.answers_for(signal.owner)
