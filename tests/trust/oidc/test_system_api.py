"""Systems call the API with client-credentials access tokens from a real provider: the
token's scopes decide what they may do, and a token for another audience opens nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER
from tests.logbook.conftest import make_record
from tests.rules.test_rules_api import body as decision_body
from tests.trust.oidc.conftest import API_RESOURCE, OTHER_RESOURCE, OpenIdProvider

pytestmark = pytest.mark.node  # the OpenID provider runs on Node.js

RECORDS = {"organisationId": "teststad", "records": [make_record()]}


@pytest.fixture
def client(idp: OpenIdProvider, sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        Settings(
            database_url=sqlite_url,
            data_dir=tmp_path,
            system_oidc_issuer=idp.issuer,
            system_oidc_audience=API_RESOURCE,
            system_oidc_organisation="teststad",
        )
    )
    load_register(make_engine(sqlite_url), TEST_REGISTER, approved_by="test-approver")
    with TestClient(app) as test_client:
        yield test_client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_token_scopes_decide_what_a_system_may_do(
    idp: OpenIdProvider, client: TestClient
) -> None:
    decider = _bearer(idp.client_credentials(scope="decisions:request"))
    assert (
        client.post("/api/v1/decisions", json=decision_body(), headers=decider).status_code == 200
    )
    refused = client.post("/api/v1/logboek/records", json=RECORDS, headers=decider)
    assert refused.status_code == 403
    assert "logbook:write" in refused.json()["detail"]
    writer = _bearer(idp.client_credentials(scope="logbook:write"))
    stored = client.post("/api/v1/logboek/records", json=RECORDS, headers=writer)
    assert stored.status_code == 200 and stored.json()["accepted"] == 1


def test_tokens_that_are_not_for_this_api_are_refused_with_the_reason(
    idp: OpenIdProvider, client: TestClient
) -> None:
    elsewhere = _bearer(idp.client_credentials(scope="decisions:request", resource=OTHER_RESOURCE))
    refused = client.post("/api/v1/decisions", json=decision_body(), headers=elsewhere)
    assert refused.status_code == 401
    assert "audience" in refused.json()["detail"]
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    token = idp.client_credentials(scope="decisions:request")
    header, payload, signature = token.split(".")
    forged = _bearer(f"{header}.{payload}.{signature[::-1]}")
    assert client.post("/api/v1/decisions", json=decision_body(), headers=forged).status_code == 401
