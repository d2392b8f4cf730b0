"""Keyed pseudonyms: deterministic per organisation, id type and key; rotation keeps lookups."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from glazenstad.logbook.pseudonym import (
    DEMO_KEYS,
    Pseudonymizer,
    PseudonymKeyError,
    is_demo_key,
    parse_keys,
)
from tests.logbook.conftest import BSN, KEY_2025, KEY_2026


def test_same_input_same_pseudonym() -> None:
    p = Pseudonymizer.from_config(KEY_2026)
    first = p.pseudonym("teststad", "BSN", BSN)
    assert first == p.pseudonym("teststad", "BSN", BSN)
    assert first == Pseudonymizer.from_config(KEY_2026).pseudonym("teststad", "BSN", BSN)
    assert re.fullmatch(r"k2026:[0-9a-f]{64}", first)
    assert BSN not in first


def test_pseudonym_depends_on_organisation_type_subject_and_key() -> None:
    p = Pseudonymizer.from_config(KEY_2026)
    q = Pseudonymizer.from_config(KEY_2025)
    base = p.pseudonym("teststad", "BSN", BSN)
    others = {
        p.pseudonym("anderstad", "BSN", BSN),
        p.pseudonym("teststad", "kenteken", BSN),
        p.pseudonym("teststad", "BSN", "999990019"),
        q.pseudonym("teststad", "BSN", BSN),
        # Parts are length-prefixed: moving a character between parts changes the result.
        p.pseudonym("teststadB", "SN", BSN),
    }
    assert base not in others
    assert len(others) == 5


def test_not_an_unkeyed_hash() -> None:
    digest = Pseudonymizer.from_config(KEY_2026).pseudonym("teststad", "BSN", BSN).split(":")[1]
    assert digest != hashlib.sha256(BSN.encode()).hexdigest()


def test_rotation_writes_with_new_key_and_finds_old_pseudonyms() -> None:
    before = Pseudonymizer.from_config(KEY_2025)
    old = before.pseudonym("teststad", "BSN", BSN)
    after = Pseudonymizer.from_config(f"{KEY_2026},{KEY_2025}")
    new = after.pseudonym("teststad", "BSN", BSN)
    assert new.startswith("k2026:") and new != old
    assert after.all_pseudonyms("teststad", "BSN", BSN) == [new, old]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("", "no pseudonym key"),
        ("k1", "expected '<kid>:<base64 secret>'"),
        ("k 1:AAAA", "expected '<kid>:<base64 secret>'"),
        ("k1:not base64!", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "at least 32 bytes"),
        (f"{KEY_2026},{KEY_2026}", "given twice"),
    ],
)
def test_bad_key_configuration(config: str, message: str) -> None:
    with pytest.raises(PseudonymKeyError, match=re.escape(message)) as info:
        parse_keys(config)
    secret = KEY_2026.split(":")[1]
    assert secret not in str(info.value)


def test_demo_key_is_recognised() -> None:
    assert is_demo_key(DEMO_KEYS)
    assert Pseudonymizer.demo().is_demo()
    assert not is_demo_key(f"{KEY_2026},{KEY_2025}")
    assert not Pseudonymizer.from_config(KEY_2026).is_demo()
    # The demo secret under another kid is still the demo key.
    assert is_demo_key("other:" + DEMO_KEYS.split(":")[1])


def test_repr_shows_no_secret() -> None:
    p = Pseudonymizer.from_config(KEY_2026)
    secret = KEY_2026.split(":")[1]
    assert secret not in repr(p) and secret not in repr(p.current)
    assert base64.b64decode(secret).decode() not in repr(p.current)
