"""Checking a signed token (JWT) from a provider, and what a system's access token grants.

Every check names its reason, because "invalid token" helps no one who must fix a deployment:
the signature, the issuer, the audience, the time window, in that order. Only asymmetric
signature algorithms are accepted: a token signed with a shared secret or not at all (`none`)
could be made by anyone who knows the client secret, or by anyone.

The clock is injectable (wall-clock seconds), so expiry is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt

from glazenstad.web.oidc.errors import TokenError
from glazenstad.web.oidc.provider import Provider

ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Asymmetric signature algorithms only: never `none`, never HS* (shared secrets)."""
LEEWAY_SECONDS = 30.0
"""Clock difference tolerated between the provider and us."""


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify_jwt(
    token: str,
    provider: Provider,
    *,
    audience: str,
    clock: Callable[[], float] = time.time,
    leeway: float = LEEWAY_SECONDS,
    what: str = "token",
) -> dict[str, Any]:
    """The claims of `token` after checking signature, issuer, audience and time window.

    Raises TokenError with the first check that failed. `exp` is required: a token that never
    expires is refused.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError(f"the {what} is not a signed JWT ({exc})") from exc
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        allowed = ", ".join(sorted(ALGORITHMS))
        raise TokenError(
            f"the {what} is signed with algorithm {algorithm!r}, which is not accepted "
            f"(accepted: {allowed})"
        )
    kid = header.get("kid")
    key = provider.signing_key(kid if isinstance(kid, str) else None)
    if key.algorithm and key.algorithm != algorithm:
        raise TokenError(
            f"the {what} says algorithm {algorithm!r} but its key is for {key.algorithm!r}"
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=[str(algorithm)],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenError(
            f"the signature of the {what} does not match the key of {provider.issuer}"
        ) from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"the {what} cannot be verified: {exc}") from exc
    check_claims(
        claims, issuer=provider.issuer, audience=audience, now=clock(), leeway=leeway, what=what
    )
    return claims


def check_claims(
    claims: dict[str, Any],
    *,
    issuer: str,
    audience: str,
    now: float,
    leeway: float,
    what: str = "token",
) -> None:
    """Issuer, audience and time window of verified claims; TokenError names what is wrong."""
    if claims.get("iss") != issuer:
        raise TokenError(
            f"the {what} was issued by {claims.get('iss')!r}, not by the expected {issuer!r}"
        )
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in audiences:
        raise TokenError(f"the {what} is meant for {aud!r}, not for {audience!r} (audience)")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise TokenError(f"the {what} has no expiry time (exp)")
    if now > exp + leeway:
        raise TokenError(f"the {what} expired at {_when(exp)}")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and now + leeway < nbf:
        raise TokenError(f"the {what} is not valid before {_when(nbf)}")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and now + leeway < iat:
        raise TokenError(f"the {what} was issued in the future ({_when(iat)}); check the clocks")


class AccessTokenValidator:
    """Checks the OAuth2 access tokens that systems (applications, the gateway, scan cars)
    present to the API: a JWT from `issuer`, meant for `audience`, within its time window.

    Obtained by the client-credentials grant at the same provider; what the token allows is in
    its scopes (`granted_scopes`), who asked for it in its client id (`client_id_of`).
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        leeway: float = LEEWAY_SECONDS,
        provider: Provider | None = None,
    ) -> None:
        self.provider = provider or Provider(issuer, http=http)
        if self.provider.issuer != issuer:
            raise ValueError(f"provider {self.provider.issuer!r} is not issuer {issuer!r}")
        self.audience = audience
        self.clock = clock
        self.leeway = leeway

    def validate(self, token: str) -> dict[str, Any]:
        """The token's claims; TokenError (reason in `.reason`) when it must be refused.

        A provider that cannot be reached also refuses the token (ProviderError, a kind of
        OidcError): without its keys nothing can be trusted.
        """
        return verify_jwt(
            token,
            self.provider,
            audience=self.audience,
            clock=self.clock,
            leeway=self.leeway,
            what="access token",
        )


def granted_scopes(claims: dict[str, Any]) -> frozenset[str]:
    """The scopes a validated access token grants.

    The standard `scope` claim is a space-separated string (RFC 9068); Microsoft Entra ID puts
    delegated scopes in `scp` and application permissions, the ones the client-credentials grant
    carries, in `roles`. All three count.
    """
    found: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))
    roles = claims.get("roles")
    if isinstance(roles, list):
        found.update(r for r in roles if isinstance(r, str))
    return frozenset(s for s in found if s)


def client_id_of(claims: dict[str, Any]) -> str:
    """The client a validated access token was issued to: `client_id` (RFC 9068), `azp` (OpenID
    Connect, Keycloak), `appid` (Entra ID v1 tokens), or else `sub`."""
    for name in ("client_id", "azp", "appid", "sub"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    raise TokenError("the access token names no client (client_id, azp, appid or sub)")
