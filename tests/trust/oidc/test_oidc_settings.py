"""The OpenID Connect settings: optional, complete when used, strict in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from glazenstad.settings import Settings

KEY = "ktest:" + "MjAyNi1zZWNyZXQtZm9yLXRlc3RzLW9ubHktMDEyMzQ1Njc4OQ=="
PRODUCTION = {"mode": "production", "database_url": "sqlite://", "pseudonym_keys": KEY}
STAFF = {
    "staff_oidc_issuer": "https://login.example.nl/realms/gemeente",
    "staff_oidc_client_id": "glazenstad",
    "staff_oidc_organisation": "voorbeeldstad",
}


def test_without_oidc_settings_nothing_changes() -> None:
    settings = Settings(_env_file=None)
    assert settings.staff_oidc_issuer is None
    assert settings.resident_oidc_issuer is None
    assert settings.system_oidc_issuer is None
    assert settings.resident_oidc_bsn_claim == "bsn"


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLAZENSTAD_STAFF_OIDC_ISSUER", STAFF["staff_oidc_issuer"])
    monkeypatch.setenv("GLAZENSTAD_STAFF_OIDC_CLIENT_ID", "glazenstad")
    monkeypatch.setenv("GLAZENSTAD_STAFF_OIDC_ORGANISATION_CLAIM", "gemeente")
    monkeypatch.setenv(
        "GLAZENSTAD_STAFF_OIDC_ROLE_MAP", '{"GS-Privacy": "fg", "GS-Team": ["a", "b"]}'
    )
    monkeypatch.setenv("GLAZENSTAD_SYSTEM_OIDC_ISSUER", "https://login.example.nl")
    monkeypatch.setenv("GLAZENSTAD_SYSTEM_OIDC_AUDIENCE", "urn:glazenstad:api")
    settings = Settings(_env_file=None)
    assert settings.staff_oidc_role_map == {"GS-Privacy": "fg", "GS-Team": ["a", "b"]}
    assert settings.staff_oidc_organisation_claim == "gemeente"
    assert settings.system_oidc_audience == "urn:glazenstad:api"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"staff_oidc_issuer": "https://idp.example"}, "STAFF_OIDC_CLIENT_ID must be set"),
        ({"resident_oidc_issuer": "https://broker.example"}, "RESIDENT_OIDC_CLIENT_ID must"),
        (
            {k: v for k, v in STAFF.items() if k != "staff_oidc_organisation"},
            "STAFF_OIDC_ORGANISATION or",
        ),
        ({"system_oidc_issuer": "https://idp.example"}, "go together"),
    ],
)
def test_incomplete_oidc_settings_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, **values)


def test_production_wants_https_for_providers_and_the_public_address() -> None:
    https = "https://glazenstad.example.nl"
    assert Settings(**PRODUCTION, **STAFF, public_url=https).staff_oidc_issuer
    with pytest.raises(ValidationError, match="STAFF_OIDC_ISSUER must be an https"):
        Settings(
            **{**PRODUCTION, **STAFF, "staff_oidc_issuer": "http://idp.example"},
            public_url=https,
        )
    with pytest.raises(ValidationError, match="PUBLIC_URL must be an https"):
        Settings(**PRODUCTION, **STAFF)
    with pytest.raises(ValidationError, match="SYSTEM_OIDC_ISSUER must be an https"):
        Settings(**PRODUCTION, system_oidc_issuer="http://idp.example", system_oidc_audience="api")
    # A provider on this machine's loopback address may speak plain http.
    loopback = {**STAFF, "staff_oidc_issuer": "http://127.0.0.1:8080/realms/gemeente"}
    assert Settings(**PRODUCTION, **loopback, public_url=https).staff_oidc_issuer
