"""A 405 names, in `Allow`, every method the OpenAPI document lists for the path."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import staff_token


def test_separate_routes_on_one_path_are_all_named(client: TestClient) -> None:
    url = "/api/v1/organisations/teststad/peer-publication"
    response = client.delete(url, headers=staff_token("fg"))
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PUT"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "gebruik GET of PUT" in response.json()["detail"]


def test_allow_follows_the_most_literal_path(client: TestClient) -> None:
    response = client.put("/api/v1/decisions/batch", json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
