"""Request limits: oversized bodies get 413 before they are read, logins and searches are rate
limited per client address (429 with Retry-After), and every answer carries the security headers
of the NL API Design Rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_SYSTEMS, serving, system_token

REQUIRED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path, system_clients=TEST_SYSTEMS, **extra)  # type: ignore[arg-type]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        _settings(
            tmp_path,
            max_request_bytes=4096,
            rate_limit_login="3/minute",
            rate_limit_search="5/minute",
        )
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/", "/api/v1/organisations", "/api/v1/does-not-exist"])
def test_security_headers_on_portal_and_api(client: TestClient, path: str) -> None:
    response = client.get(path)
    for name, value in REQUIRED_HEADERS.items():
        assert response.headers[name] == value, name
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert ("API-Version" in response.headers) == path.startswith("/api/")


def test_a_header_the_route_set_is_kept(client: TestClient) -> None:
    """Static files say how long they may be cached; the default no-store must not replace it."""
    response = client.get("/static/vendor/utrecht-component-library.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] != "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def _assert_security_headers(response: httpx.Response) -> None:
    for name, value in REQUIRED_HEADERS.items():
        assert response.headers[name] == value, name


def test_declared_oversized_body_is_refused_before_reading(client: TestClient) -> None:
    body = b'{"organisationId": "teststad", "records": [' + b" " * 5000 + b"]}"
    response = client.post(
        "/api/v1/logboek/records",
        content=body,
        headers={**system_token(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 413 and "4096 bytes" in problem["detail"]
    _assert_security_headers(response)  # a refusal by the limits carries them too


def test_streamed_oversized_body_is_refused(tmp_path: Path) -> None:
    """Without Content-Length (chunked), the body is counted while it arrives."""
    app = create_app(_settings(tmp_path, max_request_bytes=4096))

    def chunks() -> Iterator[bytes]:
        yield b'{"organisationId": "teststad", "records": ['
        for _ in range(100):
            yield b" " * 100

    with serving(app) as url:
        response = httpx.post(
            f"{url}/api/v1/logboek/records",
            content=chunks(),
            headers={**system_token(), "Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_body_within_the_limit_is_served(client: TestClient) -> None:
    response = client.post(
        "/api/v1/logboek/records",
        json={"organisationId": "teststad", "records": [{}]},
        headers=system_token(),
    )
    assert response.status_code == 200  # the record itself is refused with its reason
    assert response.json()["rejected"][0]["index"] == 0


def test_portal_form_too_large_gets_a_dutch_page(client: TestClient) -> None:
    response = client.post("/inloggen", data={"bsn": "1" * 10_000})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "Te veel gegevens" in response.text


def test_login_attempts_are_rate_limited_per_address(client: TestClient) -> None:
    answers = [client.post("/inloggen", data={"bsn": "123"}).status_code for _ in range(4)]
    assert 429 not in answers[:3]
    assert answers[3] == 429
    # The login forms share one budget per address: the staff form is refused now too.
    refused = client.post("/medewerkers/inloggen", data={"medewerker": "fg"})
    assert refused.status_code == 429
    assert "Even geduld" in refused.text
    _assert_security_headers(refused)


def test_search_is_rate_limited_with_retry_after(client: TestClient) -> None:
    url = "/api/v1/organisations/teststad/processing-activities?q=parkeren"
    statuses = [client.get(url).status_code for _ in range(6)]
    assert 429 not in statuses[:5]
    assert statuses[5] == 429
    response = client.get(url)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["title"] == "Te veel aanvragen"
    # Browsing without a search term is not limited.
    assert client.get("/api/v1/organisations/teststad/processing-activities").status_code != 429


@pytest.mark.parametrize(
    ("url", "body", "limit"),
    [
        ("/api/v1/decisions/batch", {"requests": [{}] * 1001}, "1000"),
        (
            "/api/v1/logboek/records",
            {"organisationId": "teststad", "records": [{}] * 10_001},
            "10000",
        ),
    ],
)
def test_a_batch_over_its_limit_is_too_large(
    tmp_path: Path, url: str, body: dict[str, object], limit: str
) -> None:
    with TestClient(create_app(_settings(tmp_path))) as client:
        response = client.post(url, json=body, headers=system_token())
    assert response.status_code == 413
    problem = response.json()
    assert limit in problem["detail"]
    assert problem["invalidParams"][0]["type"] == "too_long"
