"""Sealing scan and sensor payloads for the JetStream execution stream (AES-256-GCM).

A JetStream stream is storage: file-backed, replicated, readable with any NATS tool. Scan
payloads carry licence plates, which must never be stored in plain text outside the source
systems, so the MQTT bridge seals every payload before publishing and the pipeline feed opens
it again. Pseudonymising the plate at the bridge is not an option: the scan pipeline checks the
plain plate against the parking rights (NPR) and derives the logbook pseudonym itself (see
docs/adr/0015-execution-on-jetstream.md).

Keys come from configuration as `"kid:base64key,kid:base64key"` (32-byte keys): the first one
seals, every listed one opens, so a key can be rotated while sealed messages are still queued.
The associated data binds the ciphertext to its kind, MQTT topic, receipt time and key id, so a
header that was changed in the stream makes the message fail to open rather than go to another
organisation. The message id (JetStream's `Nats-Msg-Id`) is a keyed digest of kind, topic and
payload: the same MQTT message bridged twice is stored once, and the id reveals nothing that
could be checked against a guessed plate without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from glazenstad.logbook.pseudonym import parse_kid_secrets

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_MSG_ID_LABEL: Final = b"glazenstad execution message id"


class SealingKeyError(ValueError):
    """The key configuration is invalid (the message never contains a key)."""


class SealError(ValueError):
    """A sealed payload that cannot be opened; `retry` when a later attempt may succeed."""

    def __init__(self, reason: str, *, retry: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


@dataclass(frozen=True)
class SealingKey:
    kid: str
    secret: bytes = field(repr=False)


def parse_sealing_keys(config: str) -> list[SealingKey]:
    """Parse `"kid:base64key,..."`; the first key is the one that seals."""

    def check(kid: str, secret: bytes) -> str | None:
        if len(secret) != KEY_BYTES:
            return (
                f"key {kid!r}: must be {KEY_BYTES} bytes (AES-256), e.g. from "
                "`openssl rand -base64 32`"
            )
        return None

    pairs = parse_kid_secrets(config, SealingKeyError, noun="key", purpose="sealing", check=check)
    return [SealingKey(kid, secret) for kid, secret in pairs]


def new_key_config(kid: str = "k1") -> str:
    """A fresh random key in the configuration format (for tests and first installs)."""
    return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')}"


def _part(value: str) -> bytes:
    encoded = value.encode("utf-8", "surrogatepass")
    return len(encoded).to_bytes(4, "big") + encoded


def _associated(kind: str, topic: str, received_at: str, kid: str) -> bytes:
    # Length-prefixed, so no two different tuples give the same bytes.
    return b"glazenstad-execution-1" + b"".join(
        _part(value) for value in (kind, topic, received_at, kid)
    )


class Sealer:
    """Seals with the current key, opens with any configured key, and names messages."""

    def __init__(self, keys: list[SealingKey]) -> None:
        if not keys:
            raise SealingKeyError("no sealing key configured")
        self.keys = list(keys)
        self._by_kid = {key.kid: AESGCM(key.secret) for key in self.keys}
        self._id_key = hmac.new(self.keys[0].secret, _MSG_ID_LABEL, hashlib.sha256).digest()

    @classmethod
    def from_config(cls, config: str) -> Sealer:
        return cls(parse_sealing_keys(config))

    @property
    def kid(self) -> str:
        """The id of the key that seals."""
        return self.keys[0].kid

    def seal(self, kind: str, topic: str, received_at: str, payload: bytes) -> bytes:
        """nonce + ciphertext (with tag) of `payload` under the current key."""
        nonce = os.urandom(NONCE_BYTES)
        cipher = self._by_kid[self.kid]
        return nonce + cipher.encrypt(
            nonce, payload, _associated(kind, topic, received_at, self.kid)
        )

    def open(self, kind: str, topic: str, received_at: str, kid: str, sealed: bytes) -> bytes:
        """The plain payload; SealError when it cannot be opened (retry: the key is unknown)."""
        cipher = self._by_kid.get(kid)
        if cipher is None:
            raise SealError(f"sealed with key {kid!r}, which is not configured", retry=True)
        if len(sealed) < NONCE_BYTES + 16:
            raise SealError("sealed payload too short")
        try:
            return cipher.decrypt(
                sealed[:NONCE_BYTES],
                sealed[NONCE_BYTES:],
                _associated(kind, topic, received_at, kid),
            )
        except InvalidTag:
            raise SealError(
                f"sealed payload does not open with key {kid!r} (altered, or another key "
                "under the same id)"
            ) from None

    def message_id(self, kind: str, topic: str, payload: bytes) -> str:
        """The same for the same message: JetStream's deduplication id."""
        mac = hmac.new(self._id_key, digestmod=hashlib.sha256)
        mac.update(_part(kind) + _part(topic) + len(payload).to_bytes(4, "big") + payload)
        return mac.hexdigest()[:40]
