"""Contract: every answer of the API matches its OpenAPI document (schemathesis).

Schemathesis generates valid and invalid requests for every operation from the published
OpenAPI and checks status codes, content types, headers and bodies against it; any 5xx fails.

This module runs the public operations as an anonymous visitor, over the demo register and the
demo's active policies, and checks that every secured operation refuses a visitor without a
token with a documented 401. `test_contract_staff.py` runs the secured operations with the
tokens of `contract_support.CREDENTIALS`.
"""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from tests.api.contract_support import OPENAPI, ORGANISATION, contract_app, secured

app = contract_app()
schema = schemathesis.openapi.from_asgi(OPENAPI, app)


@schema.include(func=lambda ctx: not secured(ctx.operation)).parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_public_api_matches_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate()


def test_secured_operations_refuse_a_visitor_without_a_token() -> None:
    """Every secured operation answers 401 problem+json with a challenge, and documents it."""
    document = TestClient(app).get(OPENAPI).json()
    checked = 0
    with TestClient(app) as client:
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if not isinstance(operation, dict) or not operation.get("security"):
                    continue
                url = "/api/v1" + path.replace("{organisationId}", ORGANISATION)
                url = url.replace("{", "").replace("}", "")  # other ids: any value will do
                response = client.request(method.upper(), url, json={})
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert "401" in operation["responses"], (method, path)
                checked += 1
    assert checked >= 20, "fewer secured operations than expected: is security still declared?"
