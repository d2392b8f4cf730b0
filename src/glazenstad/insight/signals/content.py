"""What a signal's text may hold: enough words to act on, and no personal identifiers.

A signal is about a rule, not about a resident. Its text is read by the rule's owner and kept
for years, so a BSN in it would be personal data outside every register and retention rule.
The check refuses any run of nine digits (spaces, dots or dashes between them allowed, as
people write a BSN) that passes the eleven test, and any Dutch licence plate written with its
dashes. It cannot catch a name or an address: the form says in words not to write them.
"""

from __future__ import annotations

import re
from typing import Final

from glazenstad.insight.signals.errors import SignalInputError
from glazenstad.sources.identifiers import elfproef, normalize_kenteken

MIN_TEXT: Final = 10
MAX_TEXT: Final = 2000
MAX_RESPONSE: Final = 4000

# Nine digits, optionally separated by one space, dot or dash (e.g. 1234 56 782, 123.456.782).
_NINE_DIGITS: Final = re.compile(r"(?<![0-9])[0-9](?:[ .\-]?[0-9]){8}(?![0-9])")
_DASHED_PLATE: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z0-9]{1,3}-[A-Za-z0-9]{2,3}-[A-Za-z0-9]{1,3}(?![A-Za-z0-9])"
)

BSN_MESSAGE: Final = (
    "De tekst bevat een burgerservicenummer (BSN). Zet geen persoonsgegevens in een signaal: "
    "beschrijf de situatie zonder te zeggen over wie het gaat. De beslissing zelf is al aan "
    "het signaal gekoppeld."
)
PLATE_MESSAGE: Final = (
    "De tekst bevat een kenteken. Zet geen kentekens of andere persoonsgegevens in een "
    "signaal: beschrijf de situatie zonder te zeggen over wie het gaat."
)


def contains_bsn(text: str) -> bool:
    """True when `text` holds nine digits (maybe separated) that pass the eleven test."""
    for match in _NINE_DIGITS.finditer(text):
        digits = re.sub(r"[ .\-]", "", match.group())
        if elfproef(digits):
            return True
    return False


def contains_plate(text: str) -> bool:
    """True when `text` holds a Dutch licence plate written with dashes (e.g. 12-ABC-3)."""
    return any(normalize_kenteken(m.group()) for m in _DASHED_PLATE.finditer(text))


REDACTED: Final = "[weggehaald]"


def redacted(text: str) -> str:
    """`text` with every BSN and dashed licence plate replaced, to give a refused text back to
    its writer without showing the identifier on a page."""

    def bsn(match: re.Match[str]) -> str:
        return REDACTED if elfproef(re.sub(r"[ .\-]", "", match.group())) else match.group()

    def plate(match: re.Match[str]) -> str:
        return REDACTED if normalize_kenteken(match.group()) else match.group()

    return _DASHED_PLATE.sub(plate, _NINE_DIGITS.sub(bsn, text))


def personal_data_problem(text: str) -> str | None:
    """Why `text` may not be stored (Dutch), or None when no identifier is found."""
    if contains_bsn(text):
        return BSN_MESSAGE
    if contains_plate(text):
        return PLATE_MESSAGE
    return None


def checked_text(
    value: str, *, field: str = "text", minimum: int = MIN_TEXT, maximum: int = MAX_TEXT
) -> str:
    """`value` without surrounding white space, or SignalInputError saying what is wrong."""
    text = value.strip()
    if len(text) < minimum:
        raise SignalInputError(
            field,
            f"Schrijf in ten minste {minimum} tekens waarom de regel uw werk blokkeert."
            if field == "text"
            else f"Schrijf een antwoord van ten minste {minimum} tekens.",
        )
    if len(text) > maximum:
        raise SignalInputError(
            field, f"De tekst is {len(text)} tekens lang; het maximum is {maximum} tekens."
        )
    problem = personal_data_problem(text)
    if problem is not None:
        raise SignalInputError(field, problem)
    return text
