"""BSN elfproef and licence-plate canonical form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glazenstad.sources.identifiers import (
    SIDECODES,
    bsn_check_digit,
    bsn_problem,
    elfproef,
    kenteken_problem,
    normalize_kenteken,
)


@pytest.mark.parametrize("bsn", ["111222333", "123456782", "999993653"])
def test_known_valid_bsns_pass(bsn: str) -> None:
    assert elfproef(bsn)
    assert bsn_problem(bsn) is None


@pytest.mark.parametrize(
    "bsn", ["111222334", "123456789", "12345678", "1234567890", "12345678a", "000000000", ""]
)
def test_invalid_bsns_fail(bsn: str) -> None:
    assert not elfproef(bsn)
    assert bsn_problem(bsn) is not None


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_check_digit_makes_a_valid_bsn_or_none_exists(first_eight: str) -> None:
    digit = bsn_check_digit(first_eight)
    valid = [d for d in range(10) if elfproef(f"{first_eight}{d}")]
    if first_eight == "00000000" or digit is None:
        assert valid == []
    else:
        assert valid == [digit]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("AB-12-CD", "AB-12-CD"),
        ("ab12cd", "AB-12-CD"),
        ("12ab34", "12-AB-34"),
        ("XX9999", "XX-99-99"),
        ("9999XX", "99-99-XX"),
        ("XXXX99", "XX-XX-99"),
        ("99XXXX", "99-XX-XX"),
        ("12-BDF-3", "12-BDF-3"),
        ("1bdf23", "1-BDF-23"),
        ("gh 123 k", "GH-123-K"),
        ("k123gh", "K-123-GH"),
        ("GHK12B", "GHK-12-B"),
    ],
)
def test_plates_normalise_to_their_sidecode(text: str, canonical: str) -> None:
    assert normalize_kenteken(text) == canonical
    assert kenteken_problem(text) is None


@pytest.mark.parametrize(
    "text",
    ["", "AB-12-C", "ABCDEFG", "ABCDEF", "123456", "A1B2C3", "AB1-2CD", "AB-12-CD!", "ÄB12CD"],
)
def test_non_plates_are_refused(text: str) -> None:
    assert normalize_kenteken(text) is None
    assert kenteken_problem(text) is not None


def test_every_sidecode_round_trips() -> None:
    for pattern in SIDECODES.values():
        plate = pattern.replace("X", "K").replace("9", "4")
        assert normalize_kenteken(plate) == plate
        assert normalize_kenteken(plate.replace("-", "").lower()) == plate
