"""The portal's pages over the test register: real content, Dutch errors, working filters."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.portal.conftest import PortalFactory

ORG = "/organisaties/teststad"
PAGES = [
    "/",
    ORG,
    f"{ORG}/verwerkingen",
    f"{ORG}/verwerkingen?bijzonder=ja",
    f"{ORG}/verwerkingen/parkeren-scanauto",
    f"{ORG}/verwerkingen/wmo-maatwerk",
    f"{ORG}/algoritmes",
    f"{ORG}/algoritmes/kentekenherkenning",
    f"{ORG}/sensoren",
    f"{ORG}/sensoren/scanauto-camera-1",
    f"{ORG}/spelregels",
    "/toegankelijkheid",
]


def _main(html: str) -> str:
    """The page's <main> element: assertions about content should not match the menu."""
    match = re.search(r'<main id="main".*?</main>', html, re.S)
    assert match, "page has no <main id=main>"
    return match.group(0)


def _title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match
    return match.group(1)


def _result_names(html: str) -> list[str]:
    return re.findall(
        r'gs-result__title"><a [^>]*href="/organisaties/[^"]+">([^<]+)</a>', _main(html)
    )


class _Focusables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.focusable: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "button", "input", "select") and dict(attrs).get("tabindex") != "-1":
            self.focusable.append({"tag": tag, **dict(attrs)})


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_the_common_frame(portal: TestClient, path: str) -> None:
    response = portal.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="nl"' in html
    assert "voorbeeld-theme" in html.split("<body", 1)[0]
    parser = _Focusables()
    parser.feed(html)
    first = parser.focusable[0]
    assert first["href"] == "#main" and "utrecht-skip-link" in (first["class"] or "")
    assert '<main id="main"' in html
    assert 'aria-label="Hoofdmenu"' in html
    assert 'href="/toegankelijkheid"' in html
    assert 'href="/api/v1/openapi.json"' in html
    assert '<link rel="stylesheet" href="/static/vendor/utrecht-component-library.css">' in html
    # The Content-Security-Policy forbids inline styles and scripts: the pages use none.
    assert "style=" not in html
    assert "<script" not in html
    assert "Content-Security-Policy" in response.headers


def test_page_titles_are_unique(portal: TestClient) -> None:
    titles = [_title(portal.get(path).text) for path in PAGES]
    assert len(set(titles)) == len(titles), titles
    assert all(title.endswith("– Glazen Stad") for title in titles)


def test_home_explains_and_lists_organisations_with_counts(portal: TestClient) -> None:
    main = _main(portal.get("/").text)
    assert "welke gegevens de gemeente gebruikt" in main
    assert 'href="/organisaties/teststad">Gemeente Teststad</a>' in main
    assert 'href="/organisaties/teststad/verwerkingen">2<' in main
    assert 'href="/organisaties/teststad/algoritmes">1<' in main
    assert 'href="/organisaties/teststad/sensoren">1<' in main


def test_organisation_shows_contact_privacy_officer_and_counts(portal: TestClient) -> None:
    main = _main(portal.get(ORG).text)
    assert '<h1 class="utrecht-heading-1">Gemeente Teststad</h1>' in main
    assert 'href="mailto:privacy@teststad.example"' in main
    assert "Functionaris gegevensbescherming Teststad" in main
    assert 'href="mailto:fg@teststad.example"' in main
    assert "2 verwerkingen van persoonsgegevens" in main
    assert "1 algoritme<" in main
    assert "1 sensor in de openbare ruimte" in main
    assert 'href="/api/v1/organisations/teststad/exports/art30.csv"' in main


def test_activity_list_shows_all_with_count(portal: TestClient) -> None:
    html = portal.get(f"{ORG}/verwerkingen").text
    assert _result_names(html) == [
        "Parkeerhandhaving met scanauto&#39;s",
        "Wmo-maatwerkvoorziening",
    ]
    assert "Het register heeft 2 verwerkingen." in html
    for label in ("Zoekwoord", "Thema", "Afdeling", "Grondslag in de AVG", "Vertrouwelijkheid"):
        assert f">{label}</label>" in html
    assert '<form class="utrecht-form gs-filters" method="get"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=scanauto", ["Parkeerhandhaving met scanauto&#39;s"]),
        ("q=SCANAUTO", ["Parkeerhandhaving met scanauto&#39;s"]),
        ("q=ondersteuning", ["Wmo-maatwerkvoorziening"]),
        ("thema=Zorg", ["Wmo-maatwerkvoorziening"]),
        ("afdeling=parkeren", ["Parkeerhandhaving met scanauto&#39;s"]),
        ("grondslag=e", ["Parkeerhandhaving met scanauto&#39;s", "Wmo-maatwerkvoorziening"]),
        ("grondslag=a", []),
        ("vertrouwelijkheid=vertrouwelijk", ["Wmo-maatwerkvoorziening"]),
        ("bijzonder=ja", ["Wmo-maatwerkvoorziening"]),
        ("bijzonder=nee", ["Parkeerhandhaving met scanauto&#39;s"]),
        ("bijzonder=nee&thema=Zorg", []),
        (
            "q=parkeer&afdeling=Parkeren&vertrouwelijkheid=normaal",
            ["Parkeerhandhaving met scanauto&#39;s"],
        ),
    ],
)
def test_filters_narrow_the_list(portal: TestClient, query: str, expected: list[str]) -> None:
    response = portal.get(f"{ORG}/verwerkingen?{query}")
    assert response.status_code == 200
    assert _result_names(response.text) == expected
    if not expected:
        assert "Er zijn geen verwerkingen gevonden" in response.text
    else:
        count = "verwerking" if len(expected) == 1 else "verwerkingen"
        assert f"{len(expected)} {count} gevonden van de 2." in response.text
    assert "Alle filters wissen" in response.text


def test_chosen_filters_stay_selected(portal: TestClient) -> None:
    html = portal.get(f"{ORG}/verwerkingen?q=wmo&bijzonder=ja&thema=Zorg").text
    assert 'name="q" value="wmo"' in html
    assert '<option value="ja" selected>Ja</option>' in html
    assert '<option value="Zorg" selected>Zorg</option>' in html


def test_odd_filter_values_never_break_the_page(portal: TestClient) -> None:
    for query in (
        "grondslag=zz",
        "bijzonder=misschien",
        "pagina=abc",
        "pagina=999",
        "q=" + "x" * 300,
    ):
        response = portal.get(f"{ORG}/verwerkingen?{query}")
        assert response.status_code == 200, query
        assert response.headers["content-type"].startswith("text/html")


def test_search_input_is_escaped(portal: TestClient) -> None:
    html = portal.get(f"{ORG}/verwerkingen", params={"q": '"><script>alert(1)</script>'}).text
    assert "<script>alert(1)" not in html
    assert "&#34;&gt;&lt;script&gt;" in html or "&quot;&gt;&lt;script&gt;" in html


def test_activity_detail_shows_legal_basis_retention_and_links(portal: TestClient) -> None:
    response = portal.get(f"{ORG}/verwerkingen/parkeren-scanauto")
    main = _main(response.text)
    assert "Parkeerhandhaving met scanauto&#39;s</h1>" in main
    assert "Heffen en innen van parkeerbelasting" in main
    # The legal basis: AVG ground in words, and the law with its juriconnect link and BWB id.
    assert "AVG artikel 6 lid 1 sub e: taak van algemeen belang of openbaar gezag" in main
    assert (
        '<a class="utrecht-link utrecht-link--html-a" '
        'href="https://wetten.overheid.nl/jci1.3:c:BWBR0005416&amp;artikel=225">'
        "Gemeentewet, artikel 225 (BWBR0005416)</a>"
    ) in main
    # Retention per outcome, in plain Dutch.
    assert '>betaald</th><td class="utrecht-table__cell">24 uur</td>' in main
    assert "6 maanden na einde bezwaar- en beroepstermijn" in main
    assert "PT24H" not in main
    assert "Parkeerders" in main
    assert "Kenteken" in main and "Scanautosysteem" in main
    assert "Uitgevoerd" in main and "1 maart 2024" in main
    assert "Afdeling Parkeren" in main and "parkeerhandhaver" in main
    assert 'href="/organisaties/teststad/algoritmes/kentekenherkenning"' in main
    assert 'href="/organisaties/teststad/sensoren/scanauto-camera-1"' in main
    assert "Versie 1, vastgelegd op" in main
    assert "https://register.teststad.example/processing-activities/parkeren-scanauto" in main
    api = "/api/v1/organisations/teststad/processing-activities/parkeren-scanauto"
    assert f'href="{api}"' in main
    assert portal.get(api).json()["id"] == "parkeren-scanauto"
    assert 'aria-current="page">Parkeerhandhaving' in response.text  # breadcrumb


def test_activity_detail_marks_special_categories_and_bsn(portal: TestClient) -> None:
    main = _main(portal.get(f"{ORG}/verwerkingen/wmo-maatwerk").text)
    assert "Bijzondere persoonsgegevens</span>" in main
    assert "Gebruikt BSN</span>" in main
    assert 'utrecht-status-badge--warning">Bijzonder persoonsgegeven</span>' in main
    assert 'utrecht-status-badge--warning">BSN</span>' in main
    assert "Artikel 5.1.1 Wmo 2015" in main
    assert "15 jaar" in main
    assert "Nodig, nog niet gestart" in main
    assert "Vertrouwelijk" in main
    assert "Geen algoritmes gekoppeld." in main
    assert "jci1.3:c:BWBR0035362&amp;artikel=2.3.2" in main


def test_algorithm_pages(portal: TestClient) -> None:
    listing = _main(portal.get(f"{ORG}/algoritmes").text)
    assert 'href="/organisaties/teststad/algoritmes/kentekenherkenning"' in listing
    assert 'href="/api/v1/organisations/teststad/exports/algoritmeregister"' in listing
    main = _main(portal.get(f"{ORG}/algoritmes/kentekenherkenning").text)
    for label in (
        "Korte omschrijving",
        "Organisatie",
        "Publicatiecategorie",
        "Menselijke tussenkomst",
        "Risicobeheer",
        "Wettelijke basis",
        "Impacttoetsen",
        "Technische werking",
        "Leverancier",
    ):
        assert f">{label}</dt>" in main
    assert "januari 2020" in main
    assert (
        '<p class="utrecht-paragraph">Een handhaver controleert elke mogelijke overtreding.</p>'
        in main
    )
    # Organisation defaults and law links derived from the activity, as the export publishes.
    assert "Gemeente Teststad" in main
    assert 'href="mailto:privacy@teststad.example"' in main
    assert "jci1.3:c:BWBR0005416&amp;artikel=225" in main
    assert 'href="/organisaties/teststad/verwerkingen/parkeren-scanauto"' in main
    assert 'href="/api/v1/organisations/teststad/exports/algoritmeregister"' in main


def test_sensor_pages(portal: TestClient) -> None:
    listing = _main(portal.get(f"{ORG}/sensoren").text)
    assert "camera/optisch" in listing
    assert "52,0900° N, 5,1200° O" in listing
    assert 'utrecht-status-badge--warning">Ja</span>' in listing
    assert 'href="/organisaties/teststad/verwerkingen/parkeren-scanauto"' in listing
    main = _main(portal.get(f"{ORG}/sensoren/scanauto-camera-1").text)
    assert "Kentekens lezen voor parkeercontrole" in main
    assert "6 maanden" in main
    assert "openstreetmap.org" in main
    assert 'href="/api/v1/organisations/teststad/sensors/scanauto-camera-1"' in main


def test_accessibility_statement(portal: TestClient) -> None:
    main = _main(portal.get("/toegankelijkheid").text)
    assert "WCAG" in main and "2.1, niveau AA" in main
    assert "axe-core" in main and "Chromium" in main
    assert 'href="mailto:privacy@teststad.example"' in main


@pytest.mark.parametrize(
    "path",
    [
        "/organisaties/onbekend",
        "/organisaties/onbekend/verwerkingen",
        f"{ORG}/verwerkingen/bestaat-niet",
        f"{ORG}/algoritmes/bestaat-niet",
        f"{ORG}/sensoren/bestaat-niet",
        "/organisaties/onbekend/spelregels",
        f"{ORG}/iets-anders",
        "/bestaat/niet",
    ],
)
def test_unknown_pages_get_a_dutch_404(portal: TestClient, path: str) -> None:
    response = portal.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="nl"' in response.text
    assert "<title>Pagina niet gevonden – Glazen Stad</title>" in response.text
    assert "Deze pagina bestaat niet (meer)" in response.text
    assert 'href="#main"' in response.text


def test_api_errors_stay_problem_json(portal: TestClient) -> None:
    response = portal.get("/api/v1/organisations/onbekend")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_portal_css_is_served_from_our_own_host(portal: TestClient) -> None:
    response = portal.get("/static/glazenstad.css")
    assert response.status_code == 200
    assert "text/css" in response.headers["content-type"]
    html = portal.get("/").text
    assert not re.search(r'(href|src)="(https?:)?//', html.split("</head>", 1)[0])


def test_rich_text_from_the_register_is_sanitized(
    portal_factory: PortalFactory, register_copy: Path
) -> None:
    (register_copy / "teststad" / "hostile.yaml").write_text(
        """kind: algorithm
id: vreemde-opmaak
name: Algoritme met vreemde opmaak
description_short: Tekstvelden met HTML die niet is toegestaan.
status: In gebruik
publication_category: Overige algoritmes
goal: >-
  <p onclick="alert(1)">Het doel.</p><script>alert('xss')</script>
  <img src="x" onerror="alert(2)"><a href="javascript:alert(3)">Lees meer</a>
  <ul><li>punt een</li></ul>
risks: "<b>Vet</b> risico &amp; meer"
""",
        encoding="utf-8",
    )
    portal = portal_factory(register_copy)
    main = _main(portal.get(f"{ORG}/algoritmes/vreemde-opmaak").text)
    assert '<p class="utrecht-paragraph">Het doel.</p>' in main
    assert '<li class="utrecht-unordered-list__item">punt een</li>' in main
    assert "Lees meer" in main
    assert "Vet risico &amp; meer" in main
    for forbidden in ("<script", "alert(", "onclick", "onerror", "<img", "javascript:", "<b>"):
        assert forbidden not in main


def test_long_lists_are_paginated_and_keep_the_search(
    portal_factory: PortalFactory, register_copy: Path
) -> None:
    documents = []
    for number in range(1, 31):
        documents.append(
            f"""kind: processing-activity
id: extra-{number:02d}
name: Extra verwerking {number:02d}
description: Een verwerking om het bladeren te testen.
theme: Extra
purposes: [Testen]
legal_basis:
  avg_ground: c
  explanation: Uitleg.
  laws: [{{title: Gemeentewet, bwb_id: BWBR0005416}}]
data_subject_categories: [Inwoners]
data_categories: [kenteken]
retention: [{{outcome: standaard, period: P1Y}}]
dpia: {{status: niet-nodig}}
roles: [medewerker]
departments: [Extra]
owner: Afdeling Extra
"""
        )
    (register_copy / "teststad" / "activities" / "extra.yaml").write_text(
        "---\n".join(documents), encoding="utf-8"
    )
    portal = portal_factory(register_copy)
    first = portal.get(f"{ORG}/verwerkingen?thema=Extra")
    names = _result_names(first.text)
    assert len(names) == 25 and names[0] == "Extra verwerking 01"
    assert "30 verwerkingen gevonden van de 32." in first.text
    assert (
        'href="/organisaties/teststad/verwerkingen?thema=Extra&amp;pagina=2" rel="next"'
        in first.text
    )
    second = portal.get(f"{ORG}/verwerkingen?thema=Extra&pagina=2")
    assert _result_names(second.text) == [f"Extra verwerking {n}" for n in range(26, 31)]
    assert 'aria-current="page">Pagina 2</span>' in second.text
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    assert "Verwerkingen (zoekresultaten), pagina 2" in _title(second.text)
    # A page past the end shows the last page rather than an empty list.
    assert _result_names(portal.get(f"{ORG}/verwerkingen?thema=Extra&pagina=9").text) == (
        _result_names(second.text)
    )
    # Without a filter: 32 activities over two pages.
    assert "Het register heeft 32 verwerkingen." in portal.get(f"{ORG}/verwerkingen").text


def test_static_files_may_be_cached_but_pages_not(portal: TestClient) -> None:
    assert portal.get("/static/glazenstad.css").headers["cache-control"] == "public, max-age=3600"
    assert portal.get("/").headers["cache-control"] == "no-store"
