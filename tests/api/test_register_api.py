"""The register API behaves as documented and as the NL API Design Rules require."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient

from glazenstad.register.model import KIND_ACTIVITY
from glazenstad.web.api.v1.common import API_VERSION

BASE = "/api/v1/organisations/teststad"


def test_every_answer_has_api_version_and_security_headers(client: TestClient) -> None:
    for url in ("/api/v1/organisations", f"{BASE}/nope-nope", "/api/v1/openapi.json"):
        response = client.get(url)
        assert response.headers["API-Version"] == API_VERSION
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_organisations_are_listed_with_pagination(client: TestClient) -> None:
    body = client.get("/api/v1/organisations").json()
    assert [o["id"] for o in body["results"]] == ["teststad"]
    assert body["results"][0]["uri"] == "https://register.teststad.example"
    assert body["pagination"] == {"page": 1, "pageSize": 20, "totalResults": 1, "totalPages": 1}
    assert body["links"]["next"] is None


def test_activity_list_filters_and_pages(client: TestClient) -> None:
    def names(params: dict[str, object]) -> list[str]:
        response = client.get(f"{BASE}/processing-activities", params=params)  # type: ignore[arg-type]
        return [a["id"] for a in response.json()["results"]]

    assert names({}) == ["parkeren-scanauto", "wmo-maatwerk"]
    assert names({"q": "ONDERSTEUNING"}) == ["wmo-maatwerk"]
    assert names({"confidentiality": "vertrouwelijk"}) == ["wmo-maatwerk"]
    assert names({"specialCategories": "true"}) == ["wmo-maatwerk"]
    assert names({"specialCategories": "false"}) == ["parkeren-scanauto"]
    assert names({"department": "parkeren"}) == ["parkeren-scanauto"]
    assert names({"dataCategory": "bsn"}) == ["wmo-maatwerk"]
    assert names({"avgGround": "a"}) == []
    page = client.get(f"{BASE}/processing-activities", params={"pageSize": 1, "page": 2}).json()
    assert [a["id"] for a in page["results"]] == ["wmo-maatwerk"]
    assert page["pagination"]["totalPages"] == 2
    assert "page=1" in page["links"]["prev"] and page["links"]["next"] is None


def test_activity_detail_is_camel_case_with_links(client: TestClient) -> None:
    body = client.get(f"{BASE}/processing-activities/parkeren-scanauto").json()
    assert (
        body["uri"] == "https://register.teststad.example/processing-activities/parkeren-scanauto"
    )
    assert body["legalBasis"]["avgGround"] == "e"
    assert body["legalBasis"]["laws"][0]["bwbId"] == "BWBR0005416"
    assert body["dataSubjectCategories"] == ["Parkeerders"]
    assert body["algorithms"] == ["kentekenherkenning"]
    assert body["sensors"] == ["scanauto-camera-1"]
    assert body["usesBsn"] is False and body["specialCategories"] == []
    assert body["version"] == 1 and len(body["contentHash"]) == 64
    wmo = client.get(f"{BASE}/processing-activities/wmo-maatwerk").json()
    assert wmo["usesBsn"] is True and wmo["specialCategories"] == ["gezondheid"]


def test_as_of_and_versions(client: TestClient) -> None:
    url = f"{BASE}/processing-activities/parkeren-scanauto"
    recorded = client.get(url).json()["recordedAt"]
    assert client.get(url, params={"asOf": recorded}).json()["version"] == 1
    store = client.app.state.glazenstad.register  # type: ignore[attr-defined]
    (v1,) = store.versions("teststad", KIND_ACTIVITY, "parkeren-scanauto")
    before = (v1.recorded_at - timedelta(seconds=1)).isoformat()
    early = client.get(url, params={"asOf": before})
    assert early.status_code == 404
    assert "nog niet in het register" in early.json()["detail"]
    versions = client.get(f"{url}/versions").json()
    assert [v["version"] for v in versions] == [1]
    naive = client.get(url, params={"asOf": "2026-01-01T00:00:00"})
    assert naive.status_code == 400
    assert naive.json()["invalidParams"][0]["name"] == "query.asOf"


def test_bad_input_is_400_problem_json_naming_the_field(client: TestClient) -> None:
    response = client.get(
        f"{BASE}/processing-activities", params={"pageSize": 1000, "status": "kapot"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {p["name"] for p in body["invalidParams"]} == {"query.pageSize", "query.status"}
    assert body["status"] == 400 and body["title"] and body["detail"]


def test_unknown_resources_are_404_problems(client: TestClient) -> None:
    for url in (
        "/api/v1/organisations/elders",
        f"{BASE}/algorithms/onbekend",
        f"{BASE}/sensors/onbekend/versions",
        "/api/v1/bestaat-niet",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["instance"] == url


def test_no_trailing_slash_redirects(client: TestClient) -> None:
    response = client.get("/api/v1/organisations/", follow_redirects=False)
    assert response.status_code == 404


def test_quality_findings_filter_by_severity(client: TestClient) -> None:
    body = client.get(f"{BASE}/quality-findings", params={"severity": "fout"}).json()
    assert [(f["code"], f["entryId"]) for f in body["results"]] == [("VA001", "wmo-maatwerk")]
    checks = client.get("/api/v1/quality-checks").json()
    assert {"VA001", "AL001", "SE001"} <= {c["code"] for c in checks}


def test_exports(client: TestClient) -> None:
    algorithms = client.get(f"{BASE}/exports/algoritmeregister").json()
    assert algorithms[0]["name"] == "Kentekenherkenning in scanauto's"
    assert algorithms[0]["standard_version"] == "1.0"
    response = client.get(f"{BASE}/exports/art30.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "verwerkingsregister-teststad.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["Naam"] for r in rows} == {
        "Parkeerhandhaving met scanauto's",
        "Wmo-maatwerkvoorziening",
    }
    sensors = client.get(f"{BASE}/exports/sensors").json()
    assert sensors[0]["personalData"] is True


def test_published_schemas(client: TestClient) -> None:
    register = client.get("/api/v1/schemas/register").json()
    assert register["$schema"].endswith("2020-12/schema")
    assert "ProcessingActivity" in register["$defs"]
    algoritmeregister = client.get("/api/v1/schemas/algoritmeregister-v1").json()
    assert "publication_category" in algoritmeregister["required"]
