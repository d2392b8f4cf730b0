"""The life of a signal: new → under review → rule changed, explained or rejected.

A signal starts `new`. The rule's owner takes it `under_review` (so the person who filed it sees
someone is on it), and closes it with one of three outcomes, always with a response in words:
the rule was changed, the rule was explained (it stays, and this is why), or the signal was
rejected. Closed signals stay closed: a new situation is a new signal, about a new decision.
"""

from __future__ import annotations

from typing import Final

NEW: Final = "new"
UNDER_REVIEW: Final = "under_review"
RULE_CHANGED: Final = "rule_changed"
EXPLAINED: Final = "explained"
REJECTED: Final = "rejected"

STATES: Final = (NEW, UNDER_REVIEW, RULE_CHANGED, EXPLAINED, REJECTED)
OPEN_STATES: Final = (NEW, UNDER_REVIEW)
FINAL_STATES: Final = (RULE_CHANGED, EXPLAINED, REJECTED)

TRANSITIONS: Final[dict[str, tuple[str, ...]]] = {
    NEW: (UNDER_REVIEW,),
    UNDER_REVIEW: FINAL_STATES,
    RULE_CHANGED: (),
    EXPLAINED: (),
    REJECTED: (),
}
"""From each state, the states a signal may go to next."""

LABELS: Final[dict[str, str]] = {
    NEW: "Nieuw",
    UNDER_REVIEW: "In behandeling",
    RULE_CHANGED: "Regel aangepast",
    EXPLAINED: "Uitgelegd",
    REJECTED: "Afgewezen",
}
"""Each state in plain Dutch, as the portal and the CLI show it."""

ACTIONS: Final[dict[str, str]] = {
    UNDER_REVIEW: "In behandeling nemen",
    RULE_CHANGED: "Afronden: de regel is aangepast",
    EXPLAINED: "Afronden: de regel blijft, met uitleg",
    REJECTED: "Afronden: het signaal is afgewezen",
}
"""What moving a signal to a state is called on a button or in a list of choices."""


def next_states(state: str) -> tuple[str, ...]:
    return TRANSITIONS.get(state, ())


def may_move(from_state: str, to_state: str) -> bool:
    return to_state in next_states(from_state)


def needs_response(to_state: str) -> bool:
    """Closing a signal needs a response: the person who filed it is owed an answer."""
    return to_state in FINAL_STATES
