"""The council report: every figure equals what was written, and the HTML a council can read.

The history is written through the real stores (see `report_setup`): decisions by the rules
service into the decision log, log records through the logbook's ingest, signals, breaches,
reviews, compliance snapshots and new register and policy versions through their own modules.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import Engine

from glazenstad.db.engine import make_engine
from glazenstad.insight.report import ReportData, UnknownOrganisation, build_report, quotable
from glazenstad.insight.report_period import parse_period
from glazenstad.insight.signals import workflow
from glazenstad.register.store import RegisterStore
from glazenstad.sources.synthetic import fictional_bsns
from glazenstad.web.portal.charts import number_nl
from glazenstad.web.portal.report_html import csp_header, render_report
from tests.insight.report_setup import (
    CHANGED_ACTIVITY,
    ENDED_ALGORITHM,
    NEW_ACTIVITY,
    NOW,
    ORG,
    PERIOD_KEY,
    Written,
    build_history,
    written_database,
)

SECTION_TITLES = [
    "Inhoud",
    "In het kort",
    "Besluiten over het gebruik van gegevens",
    "Verwerkingen in het logboek",
    "Naleving",
    "Signalen uit de uitvoering",
    "Datalekken",
    "Veranderingen in het register",
    "Over dit verslag",
]


def test_every_figure_is_what_was_written(engine: Engine, tmp_path: Path) -> None:
    period = parse_period(PERIOD_KEY)
    history = build_history(engine, tmp_path, period, now=NOW, every=4)
    steps: list[str] = []
    data = build_report(engine, RegisterStore(engine), ORG, period, now=NOW, progress=steps.append)
    assert steps == [
        "Besluiten",
        "Logboek en bewaartermijnen",
        "Naleving",
        "Signalen",
        "Datalekken",
        "Register en spelregels",
    ]
    decisions = data.decisions
    assert decisions.figures.total.permit == history.decisions["permit"] > 0
    assert decisions.figures.total.deny == history.decisions["deny"] > 0
    assert decisions.figures.total.break_glass == history.decisions["break_glass"] > 0
    assert decisions.previous.total == history.previous["permit"] + history.previous["deny"] > 0
    by_activity = {k: t.total for k, t in decisions.figures.by_activity.items()}
    assert by_activity == dict(history.by_purpose)
    # September has 30 days, counted per Dutch day; every decision is in exactly one.
    assert len(decisions.figures.by_bucket) == 30
    assert sum(t.total for t in decisions.figures.by_bucket) == decisions.figures.total.total
    assert decisions.break_glass.total == history.decisions["break_glass"]
    assert decisions.break_glass.reviewed == history.break_glass_reviewed > 0

    assert data.logs.figures.total == history.logs > 0
    assert data.logs.previous_total == history.previous_logs > 0

    signals = data.signals
    assert signals.filed.total == history.signals_filed > 0
    assert signals.handled_by_state() == {
        state: history.signals_closed[state] for state in workflow.FINAL_STATES
    }
    assert signals.open_now == history.signals_filed - sum(history.signals_closed.values())
    quoted = [r for h in signals.handled for r in h.responses]
    assert quoted and all("999" not in r for r in quoted)

    assert [r.title for r in data.breaches.rows] == history.breaches
    late = [r.title for r in data.breaches.rows if r.in_time is False]
    assert late == history.late_breaches
    assert data.breaches.previous_total == 1

    compliance = data.compliance
    assert compliance.report is not None
    assert compliance.measured_at == period.end
    assert len(compliance.history) == history.snapshots > 0
    assert compliance.before is not None  # the weekly snapshots of August

    assert {(c.entry_id, c.change) for c in data.register_changes} == {
        (NEW_ACTIVITY, "added"),
        (CHANGED_ACTIVITY, "changed"),
        (ENDED_ALGORITHM, "ended"),
    }
    assert [p.content_hash for p in data.policy_changes] == [history.policy_hash]
    assert data.complete and data.generated_at == NOW

    total = decisions.figures.total
    assert data.summary[0].startswith(
        f"Medewerkers en systemen vroegen {number_nl(total.total)} keer"
    )
    with pytest.raises(UnknownOrganisation):
        build_report(engine, RegisterStore(engine), "bestaat-niet", period, now=NOW)


# --- the HTML document -------------------------------------------------------------------------

VOID = {"meta", "br", "link", "img", "input", "hr", "col", "source", "wbr", "area", "base"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def elements(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node)]

    def find_all(self, tag: str) -> Iterator[Node]:
        for child in self.elements():
            if child.tag == tag:
                yield child
            yield from child.find_all(tag)

    def find(self, tag: str) -> Node:
        return next(self.find_all(tag))


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return written_database(tmp_path_factory.mktemp("report-html"))


@pytest.fixture(scope="module")
def report(written: Written) -> ReportData:
    engine = make_engine(written.url)
    try:
        return build_report(engine, RegisterStore(engine), ORG, parse_period(PERIOD_KEY), now=NOW)
    finally:
        engine.dispose()


def test_the_document_has_its_parts_in_order(report: ReportData) -> None:
    html = render_report(report)
    assert html.startswith("<!DOCTYPE html>")
    document = parse(html)
    root = document.find("html")
    assert root.attrs["lang"] == "nl"
    assert (
        document.find("title")
        .text()
        .startswith("Verantwoording gegevensverwerking Gemeente Voorbeeldstad, september 2026")
    )
    assert [h.text() for h in document.find_all("h1")] == ["Gemeente Voorbeeldstad"]
    assert [h.text() for h in document.find_all("h2")] == SECTION_TITLES
    subsections = [h.text() for h in document.find_all("h3")]
    assert subsections[:3] == ["Noodtoegang", "Bewaartermijnen", "Spelregels"]
    # The summary comes first, with the sentences of the report data.
    summary = next(s for s in document.find_all("section") if s.attrs["id"] == "in-het-kort")
    assert [li.text() for li in summary.find("ul").find_all("li")] == list(report.summary)
    # The period and the clock are stated; every section names its source.
    text = root.text()
    assert "1 september 2026 tot en met 30 september 2026" in text
    assert "Nederlandse tijd (Europe/Amsterdam)" in text
    main_sections = [s for s in document.find_all("section") if s.attrs["id"] != "in-het-kort"]
    for section in main_sections:
        if section.attrs["id"] != "over-dit-verslag":
            assert "Bron:" in section.text(), section.attrs["id"]
    assert "<script" not in html


def test_every_chart_has_its_data_table_beside_it(report: ReportData) -> None:
    document = parse(render_report(report))
    figures = list(document.find_all("figure"))
    assert len(figures) >= 7
    for section in document.find_all("section"):
        children = section.elements()
        for index, child in enumerate(children):
            if child.tag != "figure":
                continue
            svg = child.find("svg")
            assert svg.attrs["role"] == "img"
            assert svg.find("title").text() == child.find("figcaption").text()
            following = children[index + 1]
            assert following.attrs.get("class") == "gs-report-data", following.tag
            table = following.find("table")
            assert table.find("caption").text()
            assert [th.attrs["scope"] for th in table.find("thead").find_all("th")]
            assert len(list(table.find("tbody").find_all("tr"))) >= 1
    for table in document.find_all("table"):
        assert table.find("caption").text().strip()
        assert all(th.attrs.get("scope") == "col" for th in table.find("thead").find_all("th"))


def _rows(document: Node, caption: str) -> dict[str, list[str]]:
    table = next(t for t in document.find_all("table") if t.find("caption").text() == caption)
    rows = {}
    for tr in table.find("tbody").find_all("tr"):
        cells = [c.text().strip() for c in tr.elements()]
        rows[cells[0]] = cells[1:]
    return rows


def test_the_tables_show_the_written_figures(report: ReportData, written: Written) -> None:
    history = written.history
    document = parse(render_report(report))
    key = _rows(document, "Belangrijkste cijfers: september 2026 en de periode ervoor")
    decided = history.decisions["permit"] + history.decisions["deny"]
    before = history.previous["permit"] + history.previous["deny"]
    assert key["Besluiten over het gebruik van gegevens"][:2] == [
        number_nl(decided),
        number_nl(before),
    ]
    assert key["Daarvan geweigerd"][0] == number_nl(history.decisions["deny"])
    assert key["Verwerkingen in het logboek"][:2] == [
        number_nl(history.logs),
        number_nl(history.previous_logs),
    ]
    assert key["Signalen ingediend"][0] == number_nl(history.signals_filed)
    assert key["Datalekken ontdekt"][:2] == [number_nl(len(history.breaches)), "1"]
    # The chart of decisions per day: one row per day of September, the days add up.
    per_day = _rows(document, "Besluiten per dag: toegestaan, noodtoegang en geweigerd")
    days = list(per_day)
    assert (days[0], days[-1], len(days)) == ("1 september 2026", "30 september 2026", 30)
    assert sum(int(cells[-1].replace(".", "")) for cells in per_day.values()) == decided
    breaches = _rows(document, "Datalekken die in deze periode zijn ontdekt")
    assert sorted(breaches) == sorted(history.breaches)
    late = next(t for t in history.late_breaches)
    assert breaches[late][2] == "Gemeld, na meer dan 72 uur"
    register = _rows(document, "Verwerkingen: wat is er veranderd")
    assert register["Tolken bij vergaderingen van de raad"][0] == "Nieuw"
    assert register["Vergaderingen en informatie van de gemeenteraad"][2] == "bewaartermijnen"


def test_no_personal_data_in_the_document(report: ReportData) -> None:
    html = render_report(report)
    assert not [bsn for bsn in fictional_bsns() if bsn in html]
    assert not re.search(r"[0-9a-f]{64}", html)  # no pseudonyms or full hashes
    assert "Deze regel houdt mij tegen" not in html  # what the filer wrote stays out


def test_the_stylesheet_is_inline_and_allowed_by_its_hash(report: ReportData) -> None:
    html = render_report(report)
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0].encode("utf-8")).digest()).decode()
    policy = csp_header()
    assert f"style-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "@page" in styles[0] and "size: A4" in styles[0]
    assert not re.search(r"<(link|img|script|iframe)\b", html)


@pytest.mark.parametrize(
    ("response", "quoted"),
    [
        ("De regel blijft,\n  met uitleg.", "De regel blijft, met uitleg."),
        ("Besproken met de melder over 1112.23.333.", "Besproken met de melder over 1112.23.333."),
        ("Het ging om BSN 999993653.", None),
        ("Het ging om 9999 93 653.", None),
        ("Auto met kenteken 12-ABC-3 stond er terecht.", None),
        ("x" * 700, "x" * 599 + "…"),
    ],
)
def test_only_answers_without_identifiers_are_quoted(response: str, quoted: str | None) -> None:
    assert quotable(response) == quoted
