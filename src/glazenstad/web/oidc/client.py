"""The relying party: the authorization-code flow with PKCE, as a web application runs it.

A login is three values kept on the server between leaving for the provider and coming back:
`state` (binds the answer to this browser's request), `nonce` (binds the ID token to it) and the
PKCE `code_verifier` (binds the code to us, so a stolen code is worthless). The code is then
exchanged at the token endpoint with the client's secret, the ID token is checked (signature,
issuer, audience, expiry, nonce) and, when the provider has one, the userinfo endpoint adds the
claims that the ID token leaves out. Logout is RP-initiated: the provider's end-session endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from glazenstad.web.oidc.errors import LoginError, TokenError
from glazenstad.web.oidc.provider import Provider, fetch_json
from glazenstad.web.oidc.tokens import LEEWAY_SECONDS, verify_jwt


def _random() -> str:
    return secrets.token_urlsafe(32)


def code_challenge(verifier: str) -> str:
    """The S256 PKCE challenge of a verifier (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what to keep on the server until it comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str = field(repr=False)


@dataclass(frozen=True)
class SignIn:
    """A completed login: the person's claims and until when the ID token vouches for them."""

    claims: dict[str, Any] = field(repr=False)
    id_token: str = field(repr=False)
    expires_at: float
    """The ID token's `exp` (wall-clock seconds): no session may outlive it."""

    def __repr__(self) -> str:  # claims may hold a BSN: keep them out of logs and tracebacks
        return f"SignIn(expires_at={self.expires_at!r})"


class RelyingParty:
    """One registered client at one provider: builds login requests and completes them."""

    def __init__(
        self,
        provider: Provider,
        *,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        scopes: str = "openid",
        clock: Callable[[], float] = time.time,
        leeway: float = LEEWAY_SECONDS,
    ) -> None:
        if "openid" not in scopes.split():
            scopes = f"openid {scopes}".strip()
        self.provider = provider
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = scopes
        self.clock = clock
        self.leeway = leeway

    def authorization_request(self) -> AuthorizationRequest:
        """A fresh login: new state, nonce and PKCE verifier, and the provider URL to visit."""
        state, nonce, verifier = _random(), _random(), _random() + _random()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = self.provider.metadata().authorization_endpoint
        separator = "&" if "?" in endpoint else "?"
        return AuthorizationRequest(f"{endpoint}{separator}{query}", state, nonce, verifier)

    def sign_in(self, code: str, code_verifier: str, nonce: str) -> SignIn:
        """Exchange `code`, check the ID token and gather the claims; LoginError or TokenError
        (both OidcError) say why when the login must be refused."""
        tokens = self._exchange(code, code_verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise LoginError("the token endpoint answered without an ID token")
        claims = self.validate_id_token(id_token, nonce)
        access_token = tokens.get("access_token")
        if isinstance(access_token, str) and self.provider.metadata().userinfo_endpoint:
            for name, value in self._userinfo(access_token, str(claims["sub"])).items():
                claims.setdefault(name, value)
        return SignIn(claims=claims, id_token=id_token, expires_at=float(claims["exp"]))

    def validate_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """Signature, issuer, audience (this client), expiry and nonce of an ID token."""
        claims = verify_jwt(
            id_token,
            self.provider,
            audience=self.client_id,
            clock=self.clock,
            leeway=self.leeway,
            what="ID token",
        )
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client_id:
            raise TokenError(
                "the ID token has several audiences and names another authorized party (azp)"
            )
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenError("the ID token has no subject (sub)")
        if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(
            claims["nonce"], nonce
        ):
            raise TokenError("the ID token's nonce does not match this login (replayed token?)")
        return claims

    def _exchange(self, code: str, code_verifier: str) -> dict[str, Any]:
        metadata = self.provider.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier,
        }
        auth: httpx.BasicAuth | None = None
        if self.client_secret is None:
            form["client_id"] = self.client_id  # a public client: PKCE alone binds the code
        elif "client_secret_basic" in metadata.token_endpoint_auth_methods:
            auth = httpx.BasicAuth(self.client_id, self.client_secret)
        else:
            form.update(client_id=self.client_id, client_secret=self.client_secret)
        try:
            response = self.provider.http.post(
                metadata.token_endpoint,
                data=form,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise LoginError(
                f"the token endpoint {metadata.token_endpoint} could not be reached: "
                f"{exc.__class__.__name__}"
            ) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise LoginError(
                f"the token endpoint answered HTTP {response.status_code} without a JSON object"
            )
        if response.status_code != 200:
            error = str(answer.get("error", "unknown"))[:100]
            description = str(answer.get("error_description", ""))[:300]
            raise LoginError(f"the provider refused the code: {error} ({description})")
        return answer

    def _userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        endpoint = self.provider.metadata().userinfo_endpoint
        assert endpoint is not None
        claims = fetch_json(
            self.provider.http, endpoint, "the userinfo endpoint", bearer=access_token
        )
        if claims.get("sub") != subject:  # OpenID Connect Core 5.3.2: must be the same person
            raise TokenError("the userinfo answer is about another subject than the ID token")
        return claims

    def logout_url(
        self, post_logout_redirect_uri: str, *, id_token_hint: str | None = None
    ) -> str | None:
        """The provider's end-session URL (RP-initiated logout), or None if it has none.

        Sends `client_id`, and the ID token as hint only when given: a resident's ID token
        carries their BSN and must not travel in an address.
        """
        endpoint = self.provider.metadata().end_session_endpoint
        if endpoint is None:
            return None
        params = {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(params)}"
