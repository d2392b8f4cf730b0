"""Hostile input gets a clean refusal: a 4xx that says why, never a 500, a leak or a change.

A table per kind of attack, each row asserted on its own:

- JSON nested 10,000 levels deep into every JSON endpoint: 400/422 problem+json, no
  RecursionError behind a 500;
- bodies in the wrong encoding (Latin-1, UTF-16 with a byte order mark, invalid UTF-8, NUL
  bytes), and such bytes in query strings and the portal's search form;
- SQL injection strings in every query parameter of the API and the portal's search: normal
  answers, and no row of the register, policies, signals or breaches changed (on SQLite and on
  PostgreSQL);
- HTML and script in search terms and in text staff file (a data breach), shown back escaped;
- path traversal (`../`, encoded, absolute, NUL) in static files, exports and report periods:
  404/400, never a file from outside the intended directory;
- a 1 MB identifier in a path, a query and a body field: 4xx, not 500;
- CR/LF and other hosts in the staff login's return address (`terug`): never in a header, never
  off-site.

Authentication headers come from `tests.conftest` (`staff_token`, `demo_system_token`), the one
place that says what the tests send.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, inspect, select, table

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.api.contract_support import UNLIMITED
from tests.conftest import DEMO_REGISTER, demo_system_token, login_staff, staff_token

ORG = "voorbeeldstad"
STAFF = staff_token("fg")
SYSTEM = demo_system_token(ORG)
API = "/api/v1"

JSON_ENDPOINTS: list[tuple[str, str, dict[str, str]]] = [
    ("POST", f"{API}/decisions", SYSTEM),
    ("POST", f"{API}/decisions/batch", SYSTEM),
    ("POST", f"{API}/logboek/records", SYSTEM),
    ("POST", f"{API}/logboek/processing-activities", SYSTEM),
    ("POST", f"{API}/organisations/{ORG}/signals", STAFF),
    ("POST", f"{API}/organisations/{ORG}/data-breaches", STAFF),
    ("POST", f"{API}/organisations/{ORG}/impact-replays", STAFF),
    ("PUT", f"{API}/organisations/{ORG}/peer-publication", STAFF),
]
"""Every endpoint that reads a JSON body, with the credentials that get it past the door."""

SQL_INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE register_entry_version; --",
    '" OR ""="',
    "1; DELETE FROM signal",
    "') UNION SELECT name, sql FROM sqlite_master --",
    "1' AND pg_sleep(0)::text = '",
    "%' OR 1=1 --",
    "\\'; UPDATE data_breach SET title = 'x'; --",
]
SCRIPT = "<script>alert('gs')</script>"
HTML_INJECTIONS = [SCRIPT, '"><img src=x onerror=alert(1)>', "</title><script>x()</script>"]

PROTECTED_TABLES = [
    "register_entry_version",
    "register_load",
    "policy_version",
    "signal",
    "data_breach",
    "decision_log",
    "log_record",
    "peer_publication_event",
]
"""Tables whose rows no read request may change."""


def _app(database_url: str, data_dir: Path) -> TestClient:
    app = create_app(Settings(database_url=database_url, data_dir=data_dir, **UNLIMITED))
    load_register(
        make_engine(database_url), DEMO_REGISTER, loaded_by="informatiemanager", approved_by="fg"
    )
    return TestClient(app)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The demo municipality on SQLite, shared by the read-only rows of this module."""
    data = tmp_path_factory.mktemp("hostile")
    with _app(f"sqlite:///{data / 'hostile.sqlite3'}", data) as test_client:
        yield test_client


@pytest.fixture
def backend_client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The demo municipality on each backend, for the rows about storage."""
    with _app(database_url, tmp_path) as test_client:
        yield test_client


def assert_problem(response: Any, *statuses: int) -> None:
    """A refusal with one of `statuses`, as problem+json that says what is wrong."""
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem = response.json()
    assert problem["status"] == response.status_code
    assert str(problem.get("detail") or problem.get("title")).strip()


def assert_no_server_error(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])


# --- deeply nested JSON -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers"), JSON_ENDPOINTS, ids=[p for _, p, _ in JSON_ENDPOINTS]
)
@pytest.mark.parametrize("opener", ["[", '{"a":'], ids=["arrays", "objects"])
def test_json_nested_ten_thousand_levels_is_refused(
    client: TestClient, method: str, path: str, headers: dict[str, str], opener: str
) -> None:
    closer = "]" if opener == "[" else "}"
    body = opener * 10_000 + "1" + closer * 10_000
    response = client.request(
        method, path, content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 400, 422)


# --- wrong encodings --------------------------------------------------------------------------

BAD_BODIES = {
    "latin-1": '{"title": "Datalek café", "note": "é"}'.encode("latin-1"),
    "utf-16 with bom": '{"title": "Datalek"}'.encode("utf-16"),
    "invalid utf-8": b'{"title": "\xc3\x28 \xff\xfe"}',
    "nul byte outside a string": b'{"title": "x"}\x00',
    "nul byte inside a string": b'{"title": "a\x00b"}',
    "escaped nul": b'{"title": "a\\u0000b", "note": "\\u0000"}',
    "lone surrogate escape": b'{"title": "\\ud800", "note": "\\udfff"}',
    "empty": b"",
    "not json": b"title=x&note=y",
}


@pytest.mark.parametrize(
    ("method", "path", "headers"), JSON_ENDPOINTS, ids=[p for _, p, _ in JSON_ENDPOINTS]
)
@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_bodies_in_a_wrong_encoding_are_refused(
    client: TestClient, method: str, path: str, headers: dict[str, str], name: str
) -> None:
    response = client.request(
        method,
        path,
        content=BAD_BODIES[name],
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 400, 409, 413, 415, 422)


BAD_QUERY_VALUES = {
    "invalid utf-8": "%C3%28%FF%FE",
    "latin-1": "caf%E9",
    "utf-16 bom": "%FF%FEa%00b%00",
    "nul": "a%00b",
    "control characters": "%07%1B%5B31m%0D%0A",
}


@pytest.mark.parametrize("name", sorted(BAD_QUERY_VALUES))
def test_wrong_encodings_in_query_strings(client: TestClient, name: str) -> None:
    value = BAD_QUERY_VALUES[name]
    for path in (
        f"{API}/organisations/{ORG}/processing-activities?q={value}",
        f"{API}/organisations/{ORG}/algorithms?q={value}",
        f"{API}/organisations/{value}",
        f"{API}/organisations/{ORG}/compliance?at={value}",
    ):
        response = client.get(path, headers=STAFF)
        assert_no_server_error(response)
        if response.status_code >= 400:
            assert_problem(response, response.status_code)
    for path in (
        f"/organisaties/{ORG}/verwerkingen?q={value}&thema={value}&afdeling={value}",
        f"/organisaties/{ORG}/verwerkingen?grondslag={value}&pagina={value}",
        f"/organisaties/{value}",
    ):
        response = client.get(path)
        assert_no_server_error(response)
        assert response.headers["content-type"].startswith("text/html")


# --- SQL injection ----------------------------------------------------------------------------


def _row_counts(engine: Engine) -> dict[str, int]:
    present = set(inspect(engine).get_table_names())
    missing = [name for name in PROTECTED_TABLES if name not in present]
    assert not missing, f"tables gone: {missing}"
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
            for name in PROTECTED_TABLES
        }


def _query_operations(client: TestClient) -> list[tuple[str, list[str]]]:
    """Every GET of the API with its string query parameters, from the OpenAPI document."""
    document = client.get(f"{API}/openapi.json").json()
    found = []
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if not get or "{" in path.replace("{organisationId}", ""):
            continue
        names = [
            p["name"]
            for p in get.get("parameters", [])
            if p["in"] == "query" and _is_text(p.get("schema", {}))
        ]
        if names:
            found.append((API + path.replace("{organisationId}", ORG), names))
    return found


def _is_text(schema: dict[str, Any]) -> bool:
    """Whether a query parameter takes free text (an enum or a number cannot carry SQL)."""
    kinds: list[Any] = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
    flat = {k for kind in kinds for k in (kind if isinstance(kind, list) else [kind])}
    return "string" in flat and "enum" not in schema


@pytest.mark.postgres
@pytest.mark.parametrize("injection", SQL_INJECTIONS)
def test_sql_injection_in_every_query_parameter_changes_nothing(
    backend_client: TestClient, injection: str
) -> None:
    engine = backend_client.app.state.glazenstad.engine  # type: ignore[attr-defined]
    before = _row_counts(engine)
    operations = _query_operations(backend_client)
    assert len(operations) >= 5, operations
    plain = backend_client.get(f"{API}/organisations/{ORG}/processing-activities").json()
    for path, names in operations:
        for name in names:
            response = backend_client.get(path, params={name: injection}, headers=STAFF)
            assert_no_server_error(response)
            if response.status_code >= 400:
                assert_problem(response, response.status_code)
    for path in (
        f"{API}/organisations/{quote(injection, safe='')}",
        f"/organisaties/{quote(injection, safe='')}",
    ):
        response = backend_client.get(path)
        assert response.status_code in (400, 404, 422), (path, response.status_code)
    search = backend_client.get(
        f"/organisaties/{ORG}/verwerkingen",
        params={"q": injection, "thema": injection, "afdeling": injection, "grondslag": injection},
    )
    assert search.status_code == 200
    listed = f'href="/organisaties/{ORG}/verwerkingen/'
    unfiltered = backend_client.get(f"/organisaties/{ORG}/verwerkingen")
    assert search.text.count(listed) < unfiltered.text.count(listed)  # matched nothing extra
    assert _row_counts(engine) == before
    assert backend_client.get(f"{API}/organisations/{ORG}/processing-activities").json() == plain


@pytest.mark.parametrize("injection", SQL_INJECTIONS)
def test_sql_injection_in_a_search_finds_nothing_rather_than_everything(
    client: TestClient, injection: str
) -> None:
    """`' OR '1'='1` is a search term like any other: it matches no activity's text."""
    everything = client.get(f"{API}/organisations/{ORG}/processing-activities")
    searched = client.get(
        f"{API}/organisations/{ORG}/processing-activities", params={"q": injection}
    )
    assert everything.status_code == 200, everything.text
    assert_no_server_error(searched)
    if searched.status_code == 200:
        total = everything.json()["pagination"]["totalResults"]
        assert total > 0
        assert searched.json()["pagination"]["totalResults"] < total
    else:
        assert_problem(searched, 400, 422)


# --- HTML and script --------------------------------------------------------------------------


@pytest.mark.parametrize("injection", HTML_INJECTIONS)
def test_search_terms_are_shown_back_escaped(client: TestClient, injection: str) -> None:
    for path, params in (
        (
            f"/organisaties/{ORG}/verwerkingen",
            {"q": injection, "thema": injection, "afdeling": injection},
        ),
        (f"/organisaties/{ORG}/metingen", {"weergave": injection}),
        (f"/organisaties/{quote(injection, safe='')}", {}),
        ("/vergelijking", {"q": injection}),
    ):
        response = client.get(path, params=params)
        assert_no_server_error(response)
        assert injection not in response.text, f"{path} shows {injection!r} unescaped"
        assert "<script>alert" not in response.text and "<img src=x" not in response.text


@pytest.mark.parametrize("injection", HTML_INJECTIONS)
def test_text_staff_file_is_shown_back_escaped(client: TestClient, injection: str) -> None:
    """A data breach whose title and description are markup: every page shows them as text."""
    created = client.post(
        f"{API}/organisations/{ORG}/data-breaches",
        headers=STAFF,
        json={
            "title": f"Lek {injection}",
            "description": f"Beschrijving {injection}",
            "discoveredAt": "2026-03-02T10:00:00+01:00",
        },
    )
    assert created.status_code == 201, created.text
    breach = created.json()["id"]
    assert created.json()["title"] == f"Lek {injection}"  # stored as written, escaped on output
    portal = TestClient(client.app)
    login_staff(portal, "fg")
    for path in (
        "/medewerkers/datalekken",
        f"/medewerkers/datalekken/{breach}",
        f"/medewerkers/datalekken/{breach}/aanpassen",
    ):
        page = portal.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert injection not in page.text, f"{path} shows the breach's markup unescaped"
        assert (
            "Lek &lt;" in page.text
            or "Lek &#34;&gt;" in page.text
            or "Lek &#" in page.text
            or "Lek &quot;" in page.text
        )


# --- path traversal ---------------------------------------------------------------------------

TRAVERSALS = [
    "../../../../etc/passwd",
    "..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml",
    "..%5c..%5c..%5cpyproject.toml",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "....//....//....//etc/passwd",
    "css%00.css",
    "%00",
    "..%252f..%252fetc%252fpasswd",
]
LEAKS = ("root:x:0:0", "[project]", "[tool.pytest", "GLAZENSTAD_")


def _assert_no_file_leak(response: Any) -> None:
    assert response.status_code in (400, 403, 404, 405, 422), (response.url, response.status_code)
    for leak in LEAKS:
        assert leak not in response.text, f"{response.url} leaks a file ({leak!r})"


@pytest.mark.parametrize("traversal", TRAVERSALS)
def test_path_traversal_in_static_files_exports_and_reports(
    client: TestClient, traversal: str
) -> None:
    portal = TestClient(client.app)
    login_staff(portal, "fg")
    for path in (
        f"/static/{traversal}",
        f"/static/vendor/{traversal}",
        f"/static//{traversal}",
        f"{API}/organisations/{traversal}/exports/art30.csv",
        f"{API}/organisations/{ORG}/exports/{traversal}",
        f"{API}/organisations/{ORG}/exports/art30.csv/{traversal}",
        f"{API}/schemas/{traversal}",
        f"{API}/organisations/{ORG}/reports/{traversal}",
    ):
        _assert_no_file_leak(client.get(path, headers=STAFF))
    for path in (
        f"/medewerkers/verantwoording/{traversal}/verslag.html",
        f"/medewerkers/verantwoording/{traversal}/verslag.pdf",
        f"/medewerkers/verantwoording?periode={traversal}",
    ):
        response = portal.get(path)
        assert_no_server_error(response)
        for leak in LEAKS:
            assert leak not in response.text, f"{path} leaks a file ({leak!r})"


def test_the_static_files_are_served_at_all(client: TestClient) -> None:
    """The traversal rows test a working file server: its own files are there."""
    page = client.get(f"/organisaties/{ORG}")
    assert page.status_code == 200
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page.text)
    assert stylesheet, "the portal links no stylesheet"
    assert client.get(stylesheet.group(1)).status_code == 200


# --- oversized values -------------------------------------------------------------------------

MEGABYTE = "a" * 1_000_000
LONGEST_URL_PART = "a" * 60_000
"""The longest path segment or query value the HTTP client sends (it refuses 64 KiB URLs)."""


def test_a_very_long_identifier_is_refused(client: TestClient) -> None:
    for path in (
        f"{API}/organisations/{LONGEST_URL_PART}",
        f"{API}/organisations/{ORG}/processing-activities/{LONGEST_URL_PART}",
        f"{API}/organisations/{ORG}/signals/{LONGEST_URL_PART}",
        f"{API}/decisions/{LONGEST_URL_PART}",
        f"{API}/schemas/{LONGEST_URL_PART}",
    ):
        response = client.get(path, headers=SYSTEM if "/decisions/" in path else STAFF)
        assert_problem(response, 400, 404, 414, 422)
    response = client.get(f"/organisaties/{ORG}/verwerkingen/{LONGEST_URL_PART}")
    assert response.status_code in (400, 404, 414), response.status_code


def test_a_very_long_query_value_is_refused_or_ignored(client: TestClient) -> None:
    response = client.get(
        f"{API}/organisations/{ORG}/processing-activities", params={"q": LONGEST_URL_PART}
    )
    assert_no_server_error(response)
    if response.status_code >= 400:
        assert_problem(response, 400, 414, 422)
    page = client.get(f"/organisaties/{ORG}/verwerkingen", params={"q": LONGEST_URL_PART})
    assert page.status_code in (200, 400, 414), page.status_code


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        (
            "POST",
            f"{API}/organisations/{ORG}/data-breaches",
            STAFF,
            {"title": MEGABYTE, "description": "x", "discoveredAt": "2026-03-02T10:00:00+01:00"},
        ),
        (
            "POST",
            f"{API}/organisations/{ORG}/signals",
            STAFF,
            {"decisionId": MEGABYTE, "ruleId": "r", "text": "x"},
        ),
        ("POST", f"{API}/decisions", SYSTEM, {"organisation": MEGABYTE}),
        ("POST", f"{API}/logboek/processing-activities", SYSTEM, {"dataSubjectId": MEGABYTE}),
    ],
    ids=["breach title", "signal decision id", "decision organisation", "logbook subject"],
)
def test_a_one_megabyte_field_is_refused(
    client: TestClient, method: str, path: str, headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = client.request(
        method,
        path,
        headers=headers,
        content=json.dumps(body),
    )
    assert_problem(response, 400, 413, 422)


# --- header injection and open redirects ------------------------------------------------------

RETURN_ADDRESSES = [
    "/medewerkers\r\nSet-Cookie: gs_injected=1",
    "/medewerkers\nLocation: https://evil.example/",
    "/medewerkers%0d%0aSet-Cookie:%20gs_injected=1",
    "//evil.example/",
    "/\\evil.example/",
    "https://evil.example/",
    "/\t/evil.example/",
    "javascript:alert(1)",
]


def _csrf(portal: TestClient, path: str) -> str:
    page = portal.get(path)
    match = re.search(r'name="formulier_token" value="([^"]+)"', page.text)
    assert match, f"{path} has no form token"
    return match.group(1)


def _assert_safe_location(response: Any) -> None:
    location = response.headers.get("location", "")
    assert "\r" not in location and "\n" not in location, location
    assert location.startswith("/") and not location.startswith("//"), location
    assert "\\" not in location and "\t" not in location, location
    assert "gs_injected" not in response.headers.get("set-cookie", "")
    assert all("evil.example" not in v for k, v in response.headers.items() if k != "location")


@pytest.mark.parametrize("back", RETURN_ADDRESSES)
def test_the_login_return_address_never_leaves_the_site_or_splits_a_header(
    client: TestClient, back: str
) -> None:
    portal = TestClient(client.app)
    form = portal.get("/medewerkers/inloggen", params={"terug": back})
    assert form.status_code == 200
    response = portal.post(
        "/medewerkers/inloggen",
        data={
            "medewerker": "fg",
            "terug": back,
            "formulier_token": _csrf(portal, "/medewerkers/inloggen"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    _assert_safe_location(response)
    assert (
        "evil.example" not in response.headers["location"].split("?")[0].lstrip("/").split("/")[0]
    )


@pytest.mark.parametrize(
    "suffix",
    [
        "?x=%0d%0aSet-Cookie:%20gs_injected=1",
        "?terug=//evil.example",
        "%0d%0aSet-Cookie:%20gs_injected=1",
    ],
)
def test_the_login_redirect_of_a_staff_page_encodes_its_target(
    client: TestClient, suffix: str
) -> None:
    response = TestClient(client.app).get(f"/medewerkers/dashboard{suffix}", follow_redirects=False)
    assert response.status_code in (303, 404), response.status_code
    if response.status_code == 303:
        _assert_safe_location(response)
        assert response.headers["location"].startswith("/medewerkers/inloggen?terug=")
