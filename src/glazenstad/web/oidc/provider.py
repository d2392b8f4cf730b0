"""One OpenID provider as seen from here: its discovery document and its signing keys.

Both are fetched on first use, not at start-up, so the application starts while the identity
provider is down and recovers by itself when it comes back. The discovery document is kept for
an hour. Signing keys are kept until a token names a key id (`kid`) we do not know: providers
rotate keys by publishing the new one first, so an unknown kid means "fetch the key set again"
(at most once per `min_refresh_seconds`, so a stream of forged kids cannot make us hammer the
provider).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from glazenstad.web.oidc.errors import ProviderError, TokenError

DISCOVERY_PATH = "/.well-known/openid-configuration"
METADATA_SECONDS = 60 * 60
MIN_REFRESH_SECONDS = 10.0
HTTP_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 1_000_000


@dataclass(frozen=True)
class SigningKey:
    """A public key of the provider and the algorithm its key set declares for it, if any."""

    key: Any
    algorithm: str | None


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document this application uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    token_endpoint_auth_methods: tuple[str, ...]


def fetch_json(
    http: httpx.Client, url: str, what: str, *, bearer: str | None = None
) -> dict[str, Any]:
    """GET a JSON object, or raise ProviderError naming what and where."""
    headers = {"Accept": "application/json"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    try:
        response = http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise ProviderError(
            f"{what} at {url} could not be fetched: {exc.__class__.__name__}"
        ) from exc
    if response.status_code != 200:
        raise ProviderError(f"{what} at {url} answered HTTP {response.status_code}")
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise ProviderError(f"{what} at {url} is larger than {MAX_RESPONSE_BYTES} bytes")
    try:
        data = response.json()
    except ValueError as exc:
        raise ProviderError(f"{what} at {url} is not JSON") from exc
    if not isinstance(data, dict):
        raise ProviderError(f"{what} at {url} is not a JSON object")
    return data


def _text(document: dict[str, Any], key: str, url: str, *, required: bool) -> str | None:
    value = document.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ProviderError(f"the discovery document at {url} has no valid '{key}'")
    return value


class Provider:
    """An OpenID provider identified by its issuer URL, with cached metadata and keys."""

    def __init__(
        self,
        issuer: str,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        min_refresh_seconds: float = MIN_REFRESH_SECONDS,
    ) -> None:
        self.issuer = issuer
        self.http = http or httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
        self.clock = clock
        self.min_refresh_seconds = min_refresh_seconds
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._keys: dict[str, SigningKey] = {}
        self._unnamed: list[SigningKey] = []
        self._keys_at: float | None = None
        self._lock = threading.Lock()

    def metadata(self) -> ProviderMetadata:
        """The discovery document; its `issuer` must be exactly the configured issuer."""
        with self._lock:
            now = self.clock()
            if self._metadata is None or now - self._metadata_at > METADATA_SECONDS:
                self._metadata = self._discover()
                self._metadata_at = now
            return self._metadata

    def _discover(self) -> ProviderMetadata:
        url = self.issuer.rstrip("/") + DISCOVERY_PATH
        document = fetch_json(self.http, url, "the discovery document")
        issuer = _text(document, "issuer", url, required=True)
        if issuer != self.issuer:
            raise ProviderError(
                f"the discovery document at {url} names issuer {issuer!r}, not the configured "
                f"{self.issuer!r} (they must be identical)"
            )
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        return ProviderMetadata(
            issuer=self.issuer,
            authorization_endpoint=str(
                _text(document, "authorization_endpoint", url, required=True)
            ),
            token_endpoint=str(_text(document, "token_endpoint", url, required=True)),
            jwks_uri=str(_text(document, "jwks_uri", url, required=True)),
            userinfo_endpoint=_text(document, "userinfo_endpoint", url, required=False),
            end_session_endpoint=_text(document, "end_session_endpoint", url, required=False),
            token_endpoint_auth_methods=tuple(str(m) for m in methods),
        )

    def signing_key(self, kid: str | None) -> SigningKey:
        """The provider's public key for `kid`, fetching the key set again if it is new to us."""
        key = self._known_key(kid)
        if key is not None:
            return key
        jwks_uri = self.metadata().jwks_uri
        with self._lock:
            now = self.clock()
            if self._keys_at is None or now - self._keys_at >= self.min_refresh_seconds:
                self._load_keys(jwks_uri)
                self._keys_at = now
        key = self._known_key(kid)
        if key is None:
            named = f"key id {kid!r}" if kid else "a token without key id"
            raise TokenError(
                f"the signature cannot be checked: the provider {self.issuer} publishes no "
                f"signing key for {named}"
            )
        return key

    def _known_key(self, kid: str | None) -> SigningKey | None:
        with self._lock:
            if kid:
                return self._keys.get(kid)
            candidates = list(self._keys.values()) + self._unnamed
            return candidates[0] if len(candidates) == 1 else None

    def _load_keys(self, jwks_uri: str) -> None:
        document = fetch_json(self.http, jwks_uri, "the signing keys (JWKS)")
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise ProviderError(f"the key set at {jwks_uri} has no 'keys' list")
        keys: dict[str, SigningKey] = {}
        unnamed: list[SigningKey] = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            if entry.get("kty") not in ("RSA", "EC", "OKP"):
                continue  # shared secrets (oct) are never trusted for signatures
            try:
                parsed = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue  # a key type we cannot use is not an error
            alg = entry.get("alg")
            key = SigningKey(parsed.key, alg if isinstance(alg, str) else None)
            if isinstance(entry.get("kid"), str):
                keys[entry["kid"]] = key
            else:
                unnamed.append(key)
        self._keys, self._unnamed = keys, unnamed
