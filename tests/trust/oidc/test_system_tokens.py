"""Access tokens of systems (client credentials) checked against a real provider: what is
accepted, and that each kind of wrong token is refused with a reason that names the check."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest

from glazenstad.web.oidc import (
    AccessTokenValidator,
    OidcError,
    Provider,
    TokenError,
    client_id_of,
    granted_scopes,
)
from tests.conftest import free_port
from tests.trust.oidc.conftest import (
    API_RESOURCE,
    OTHER_RESOURCE,
    OpenIdProvider,
    signing_key,
    start_provider,
    stop_provider,
)

pytestmark = pytest.mark.node  # the OpenID provider runs on Node.js


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _refusal(validator: AccessTokenValidator, token: str) -> str:
    with pytest.raises(TokenError) as caught:
        validator.validate(token)
    return caught.value.reason


def test_a_client_credentials_token_is_accepted_with_its_scopes_and_client(
    idp: OpenIdProvider,
) -> None:
    token = idp.client_credentials(scope="decisions:request logbook:write")
    claims = AccessTokenValidator(idp.issuer, API_RESOURCE).validate(token)
    assert granted_scopes(claims) == {"decisions:request", "logbook:write"}
    assert client_id_of(claims) == idp.system["client_id"]


def test_a_token_with_a_changed_payload_fails_the_signature(idp: OpenIdProvider) -> None:
    header, payload, signature = idp.client_credentials(scope="logbook:read").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "logbook:read logbook:write decisions:request"  # more than was granted
    tampered = f"{header}.{_segment(claims)}.{signature}"
    reason = _refusal(AccessTokenValidator(idp.issuer, API_RESOURCE), tampered)
    assert "signature" in reason and idp.issuer in reason


def test_a_token_of_another_issuer_is_refused_even_when_its_signature_holds(
    idp: OpenIdProvider, other_issuer: str
) -> None:
    # The second provider signs with the same key: only the issuer check can refuse this.
    token = OpenIdProvider(
        other_issuer, idp.staff, idp.resident, idp.system, 0
    ).client_credentials()
    reason = _refusal(AccessTokenValidator(idp.issuer, API_RESOURCE), token)
    assert f"issued by '{other_issuer}'" in reason


def test_a_token_for_another_audience_is_refused(idp: OpenIdProvider) -> None:
    token = idp.client_credentials(resource=OTHER_RESOURCE)
    reason = _refusal(AccessTokenValidator(idp.issuer, API_RESOURCE), token)
    assert OTHER_RESOURCE in reason and "audience" in reason


def test_an_expired_token_is_refused_and_the_leeway_is_small(idp: OpenIdProvider) -> None:
    token = idp.client_credentials()
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    within_leeway = AccessTokenValidator(idp.issuer, API_RESOURCE, clock=lambda: exp + 10)
    assert within_leeway.validate(token)["exp"] == exp
    later = AccessTokenValidator(idp.issuer, API_RESOURCE, clock=lambda: exp + 31)
    assert "expired at" in _refusal(later, token)


def test_shared_secret_and_unsigned_tokens_are_refused(idp: OpenIdProvider) -> None:
    claims = {
        "iss": idp.issuer,
        "aud": API_RESOURCE,
        "exp": int(time.time()) + 60,
        "client_id": "attacker",
        "scope": "logbook:read",
    }
    validator = AccessTokenValidator(idp.issuer, API_RESOURCE)
    secret_signed = jwt.encode(claims, "a-secret-of-at-least-32-bytes-long!!", algorithm="HS256")
    assert "'HS256', which is not accepted" in _refusal(validator, secret_signed)
    unsigned = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."
    assert "'none', which is not accepted" in _refusal(validator, unsigned)
    assert "not a signed JWT" in _refusal(validator, "not-a-token")


def test_a_key_id_the_provider_does_not_publish_is_refused(idp: OpenIdProvider) -> None:
    header, payload, signature = idp.client_credentials().split(".")
    renamed = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    renamed["kid"] = "rotated-away"
    reason = _refusal(
        AccessTokenValidator(idp.issuer, API_RESOURCE), f"{_segment(renamed)}.{payload}.{signature}"
    )
    assert "no signing key for key id 'rotated-away'" in reason


def test_an_unreachable_provider_refuses_every_token(idp: OpenIdProvider) -> None:
    token = idp.client_credentials()
    nowhere = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(OidcError) as caught:
        AccessTokenValidator(nowhere, API_RESOURCE).validate(token)
    assert "could not be fetched" in caught.value.reason


def test_a_rotated_key_is_fetched_when_a_token_names_it(
    oidc_pair: tuple[OpenIdProvider, str], tmp_path: Path
) -> None:
    """The provider restarts with a new signing key: tokens signed with it are accepted after
    one new fetch of the key set, and an unknown key id fetches at most once per interval."""
    idp, _ = oidc_pair
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    old, new = signing_key("key-2026-a"), signing_key("key-2026-b")
    now = [0.0]
    validator = AccessTokenValidator(
        issuer, API_RESOURCE, provider=Provider(issuer, clock=lambda: now[0])
    )
    rotated = OpenIdProvider(issuer, idp.staff, idp.resident, idp.system, 0)
    process = start_provider(tmp_path, "before", port, {"keys": [old]}, 600)
    try:
        assert validator.validate(rotated.client_credentials())["iss"] == issuer
    finally:
        stop_provider(process)
    process = start_provider(tmp_path, "after", port, {"keys": [new, old]}, 600)
    try:
        token = rotated.client_credentials()
        assert jwt.get_unverified_header(token)["kid"] == "key-2026-b"
        # Right after the last fetch the key set is not fetched again...
        assert "no signing key for key id 'key-2026-b'" in _refusal(validator, token)
        now[0] += 11  # ...after the interval it is, and the new key is there.
        assert validator.validate(token)["iss"] == issuer
    finally:
        stop_provider(process)
