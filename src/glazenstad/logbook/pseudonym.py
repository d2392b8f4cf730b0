"""Keyed pseudonyms for data subject ids: HMAC-SHA256 with a managed secret and a key id.

An unsalted hash of a BSN is reversible (there are only about a billion BSNs), so the logbook
stores `<kid>:<hex>` where hex = HMAC-SHA256(secret[kid], organisation, id type, subject id).
The same person gets the same pseudonym within one organisation and key period; another
organisation, another id type or another key gives an unrelated value.

Keys come from configuration as `"k2026:<base64>,k2025:<base64>"`: the first key writes, the
others are kept so that a resident's access request still finds records written under them
(`all_pseudonyms`). The plain identifier is never logged, stored or put in an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

MIN_SECRET_BYTES: Final = 32
_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")

# DEMO ONLY — published in the source code, so it protects nothing. `is_demo_key` lets a
# production start-up refuse it.
DEMO_KEY_ID: Final = "demo"
DEMO_SECRET: Final = b"glazen-stad-demo-key-NOT-FOR-PRODUCTION-0000"
DEMO_KEYS: Final = f"{DEMO_KEY_ID}:{base64.b64encode(DEMO_SECRET).decode('ascii')}"


class PseudonymKeyError(ValueError):
    """The key configuration is invalid (the message never contains a secret)."""


@dataclass(frozen=True)
class PseudonymKey:
    kid: str
    secret: bytes

    def __repr__(self) -> str:  # never show the secret
        return f"PseudonymKey(kid={self.kid!r}, secret=<{len(self.secret)} bytes>)"


def parse_kid_secrets(
    config: str,
    error: type[ValueError],
    *,
    noun: str,
    purpose: str,
    check: Callable[[str, bytes], str | None],
) -> list[tuple[str, bytes]]:
    """Parse `"kid:base64,kid:base64"` (first = current) into (kid, secret) pairs.

    Shared by every keyed setting (pseudonyms, sealed execution messages): the same format,
    rotation by listing the old key after the new, and errors raised as `error` that name the
    key by its id and never show a secret. `check` says what is wrong with a secret, if anything.
    """
    keys: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for position, part in enumerate(p.strip() for p in config.split(",")):
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        kid = kid.strip()
        if not sep or not _KID.fullmatch(kid):
            raise error(
                f"key {position + 1}: expected '<kid>:<base64 {noun}>' with a kid of letters, "
                "digits, '-' or '_'"
            )
        if kid in seen:
            raise error(f"key {kid!r} is given twice")
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise error(f"key {kid!r}: the {noun} is not valid base64") from None
        problem = check(kid, secret)
        if problem:
            raise error(problem)
        seen.add(kid)
        keys.append((kid, secret))
    if not keys:
        raise error(f"no {purpose} key configured")
    return keys


def parse_keys(config: str) -> list[PseudonymKey]:
    """Parse `"kid:base64secret,kid:base64secret"`; the first key is the current one."""

    def check(kid: str, secret: bytes) -> str | None:
        if len(secret) < MIN_SECRET_BYTES:
            return f"key {kid!r}: the secret must be at least {MIN_SECRET_BYTES} bytes"
        return None

    pairs = parse_kid_secrets(
        config, PseudonymKeyError, noun="secret", purpose="pseudonym", check=check
    )
    return [PseudonymKey(kid, secret) for kid, secret in pairs]


def _part(text: str) -> bytes:
    encoded = text.encode("utf-8")
    return len(encoded).to_bytes(4, "big") + encoded


def _message(organisation_id: str, id_type: str, subject_id: str) -> bytes:
    # Length-prefixed parts: ("ab", "c") and ("a", "bc") must not give the same message.
    return _part(organisation_id) + _part(id_type.strip()) + _part(subject_id.strip())


class Pseudonymizer:
    """Turns (organisation, id type, subject id) into `<kid>:<hex>` pseudonyms."""

    def __init__(self, keys: list[PseudonymKey]) -> None:
        if not keys:
            raise PseudonymKeyError("no pseudonym key configured")
        self.keys = list(keys)
        # HMAC state with the current key already absorbed: copying it is cheaper than keying
        # anew for every record of an ingest batch.
        self._current = hmac.new(self.keys[0].secret, digestmod=hashlib.sha256)

    @classmethod
    def from_config(cls, config: str) -> Pseudonymizer:
        return cls(parse_keys(config))

    @classmethod
    def demo(cls) -> Pseudonymizer:
        return cls.from_config(DEMO_KEYS)

    @property
    def current(self) -> PseudonymKey:
        return self.keys[0]

    def pseudonym(
        self, organisation_id: str, id_type: str, subject_id: str, key: PseudonymKey | None = None
    ) -> str:
        """The pseudonym under `key` (default: the current key, used for writing)."""
        if key is None or key is self.keys[0]:
            key, mac = self.keys[0], self._current.copy()
        else:
            mac = hmac.new(key.secret, digestmod=hashlib.sha256)
        mac.update(_message(organisation_id, id_type, subject_id))
        return f"{key.kid}:{mac.hexdigest()}"

    def all_pseudonyms(self, organisation_id: str, id_type: str, subject_id: str) -> list[str]:
        """The subject's pseudonym under every known key, current first (for access requests)."""
        return [self.pseudonym(organisation_id, id_type, subject_id, k) for k in self.keys]

    def is_demo(self) -> bool:
        return any(is_demo_key(k) for k in self.keys)

    def __repr__(self) -> str:
        return f"Pseudonymizer(kids={[k.kid for k in self.keys]!r})"


def is_demo_key(key: PseudonymKey | str) -> bool:
    """True for the published demo key (by secret or by kid), or a config string containing it."""
    if isinstance(key, str):
        return any(is_demo_key(k) for k in parse_keys(key))
    return key.kid == DEMO_KEY_ID or hmac.compare_digest(key.secret, DEMO_SECRET)
