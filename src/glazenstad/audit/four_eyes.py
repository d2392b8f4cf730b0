"""The four-eyes rule (vier-ogenprincipe): who proposed a change may not also put it in force.

People are named by the `--by` of the command line (a staff id or a name). The same person written
with other capitals or surrounding spaces is still the same person, so names are compared after
trimming and case folding.
"""

from __future__ import annotations


def person_key(name: str) -> str:
    """The form two names are compared in."""
    return " ".join(name.split()).casefold()


def same_person(first: str, second: str) -> bool:
    return person_key(first) == person_key(second)


def named(name: str | None) -> bool:
    """A name that actually names someone (not empty, not only spaces)."""
    return bool(name and name.strip())
