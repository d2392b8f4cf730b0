"""Subject identifiers the demo sources answer on: BSNs (elfproef) and Dutch licence plates.

Kept apart from the services because the gateway and the scan-car simulator need the same
answer to "is this a BSN / which plate is this": a plate written `ab12cd` and one written
`AB-12-CD` are the same vehicle, and a log record must name it the same way both times, so
there is one canonical form (capitals, dashes where the sidecode puts them).

Functions here never put the identifier in an exception or a log line.
"""

from __future__ import annotations

import re
from typing import Final

BSN_LENGTH: Final = 9
_DIGITS: Final = re.compile(r"[0-9]{9}")

# Sidecodes of Dutch licence plates: letters (X) and digits (9) in three groups. Sidecodes 1-6
# are the older 2-2-2 shapes; 7-11 are the shapes issued since 1999.
SIDECODES: Final[dict[int, str]] = {
    1: "XX-99-99",
    2: "99-99-XX",
    3: "99-XX-99",
    4: "XX-99-XX",
    5: "XX-XX-99",
    6: "99-XX-XX",
    7: "99-XXX-9",
    8: "9-XXX-99",
    9: "XX-999-X",
    10: "X-999-XX",
    11: "XXX-99-X",
}

# Letters on current Dutch plates: no vowels, and none of C, M, Q, W, Y.
PLATE_LETTERS: Final = "BDFGHJKLNPRSTVXZ"


def _shape(text: str) -> str:
    return "".join("X" if c.isalpha() else "9" for c in text)


_SHAPES: Final[dict[str, str]] = {
    pattern.replace("-", ""): pattern for pattern in SIDECODES.values()
}
_SEPARATORS: Final = str.maketrans("", "", "- ")
_PLAIN: Final = re.compile(r"[A-Z0-9]{6}")


def elfproef(bsn: str) -> bool:
    """True when `bsn` is nine digits that pass the BSN eleven test.

    The test weights the digits 9..2 and the last one -1; the sum must be a multiple of 11.
    A number starting with 0 is allowed (real BSNs do), all zeros is not.
    """
    if len(bsn) != BSN_LENGTH or not _DIGITS.fullmatch(bsn):
        return False
    total = sum(int(d) * w for d, w in zip(bsn[:8], range(9, 1, -1), strict=True))
    total -= int(bsn[8])
    return total % 11 == 0 and bsn != "000000000"


def bsn_check_digit(first_eight: str) -> int | None:
    """The ninth digit that makes `first_eight` a valid BSN, or None when no digit does."""
    total = sum(int(d) * w for d, w in zip(first_eight, range(9, 1, -1), strict=True))
    digit = total % 11
    return digit if digit <= 9 else None


def bsn_problem(bsn: str) -> str | None:
    """Why `bsn` is not a BSN (Dutch, for an API answer), or None when it is one."""
    if len(bsn) != BSN_LENGTH or not _DIGITS.fullmatch(bsn):
        return "Een burgerservicenummer bestaat uit precies 9 cijfers."
    if not elfproef(bsn):
        return "Dit burgerservicenummer voldoet niet aan de elfproef."
    return None


def normalize_kenteken(text: str) -> str | None:
    """The canonical form of a Dutch plate (`AB-12-CD`), or None when `text` is not one.

    Accepts any case, with or without dashes or spaces; when dashes are given they must sit
    where the sidecode puts them.
    """
    upper = text.upper()
    plain = upper.translate(_SEPARATORS)
    if not _PLAIN.fullmatch(plain):
        return None
    pattern = _SHAPES.get(_shape(plain))
    if pattern is None:
        return None
    first = pattern.index("-")
    second = pattern.index("-", first + 1) - 1
    canonical = f"{plain[:first]}-{plain[first:second]}-{plain[second:]}"
    if "-" in upper and upper.replace(" ", "") != canonical:
        return None
    return canonical


def kenteken_problem(text: str) -> str | None:
    """Why `text` is not a Dutch plate (Dutch, for an API answer), or None when it is one."""
    if normalize_kenteken(text) is None:
        return (
            "Een kenteken bestaat uit 6 letters en cijfers in een Nederlandse sidecode, "
            "bijvoorbeeld XX-999-X of 99-XXX-9."
        )
    return None
