"""The relying party's checks of a real provider's ID tokens: nonce, audience, issuer, expiry."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from glazenstad.web.oidc import LoginError, Provider, RelyingParty, SignIn, TokenError
from tests.trust.oidc.conftest import APP_URL, OpenIdProvider

pytestmark = pytest.mark.node  # the OpenID provider runs on Node.js

REDIRECT = f"{APP_URL}/medewerkers/inloggen/terug"


def party(idp: OpenIdProvider, issuer: str | None = None, **changes: object) -> RelyingParty:
    settings: dict[str, object] = {
        "client_id": idp.staff["client_id"],
        "client_secret": idp.staff["client_secret"],
        "redirect_uri": REDIRECT,
        "scopes": "openid profile roles",
    }
    settings.update(changes)
    return RelyingParty(Provider(issuer or idp.issuer), **settings)  # type: ignore[arg-type]


def signed_in(idp: OpenIdProvider, rp: RelyingParty, account: str = "a.jansen") -> SignIn:
    request = rp.authorization_request()
    back = idp.log_in(httpx.Client(), request.url, account)
    query = parse_qs(urlsplit(back).query)
    assert query["state"] == [request.state]
    return rp.sign_in(query["code"][0], request.code_verifier, request.nonce)


def test_a_sign_in_gathers_the_claims_of_the_id_token_and_userinfo(idp: OpenIdProvider) -> None:
    done = signed_in(idp, party(idp))
    assert done.claims["sub"] == "a.jansen"
    assert done.claims["roles"] == ["GS-Privacy"]  # from the userinfo endpoint
    assert done.claims["department"] == "Concernstaf"
    assert done.expires_at == done.claims["exp"]
    assert "Concernstaf" not in repr(done)  # claims stay out of logs and tracebacks


def test_an_id_token_is_refused_for_another_nonce_client_or_time(idp: OpenIdProvider) -> None:
    rp = party(idp)
    done = signed_in(idp, rp)
    assert rp.validate_id_token(done.id_token, done.claims["nonce"])["sub"] == "a.jansen"
    with pytest.raises(TokenError, match="nonce does not match"):
        rp.validate_id_token(done.id_token, "another-login")
    other_client = party(idp, client_id=idp.resident["client_id"])
    with pytest.raises(TokenError, match="audience"):
        other_client.validate_id_token(done.id_token, done.claims["nonce"])
    late = party(idp, clock=lambda: done.expires_at + 60)
    with pytest.raises(TokenError, match="expired at"):
        late.validate_id_token(done.id_token, done.claims["nonce"])
    early = party(idp, clock=lambda: done.claims["iat"] - 120)
    with pytest.raises(TokenError, match="issued in the future"):
        early.validate_id_token(done.id_token, done.claims["nonce"])


def test_an_id_token_of_another_issuer_is_refused(idp: OpenIdProvider, other_issuer: str) -> None:
    other = OpenIdProvider(other_issuer, idp.staff, idp.resident, idp.system, 0)
    done = signed_in(other, party(idp, other_issuer))
    with pytest.raises(TokenError, match=f"issued by '{other_issuer}'"):
        party(idp).validate_id_token(done.id_token, done.claims["nonce"])


def test_a_code_is_used_once_and_needs_the_client_secret(idp: OpenIdProvider) -> None:
    rp = party(idp)
    request = rp.authorization_request()
    query = parse_qs(urlsplit(idp.log_in(httpx.Client(), request.url, "a.jansen")).query)
    with pytest.raises(LoginError, match="refused the code: invalid_client"):
        party(idp, client_secret="wrong").sign_in(
            query["code"][0], request.code_verifier, request.nonce
        )
    request = rp.authorization_request()
    query = parse_qs(urlsplit(idp.log_in(httpx.Client(), request.url, "a.jansen")).query)
    rp.sign_in(query["code"][0], request.code_verifier, request.nonce)
    with pytest.raises(LoginError, match="refused the code: invalid_grant"):
        rp.sign_in(query["code"][0], request.code_verifier, request.nonce)


def test_the_logout_url_is_the_providers_end_session_endpoint(idp: OpenIdProvider) -> None:
    url = party(idp).logout_url(f"{APP_URL}/", id_token_hint="header.payload.signature")
    assert url is not None and url.startswith(f"{idp.issuer}/session/end?")
    query = parse_qs(urlsplit(url).query)
    assert query["post_logout_redirect_uri"] == [f"{APP_URL}/"]
    assert query["id_token_hint"] == ["header.payload.signature"]
