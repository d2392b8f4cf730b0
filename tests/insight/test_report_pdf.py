"""The council report as PDF (Debian's chromium) and from the command line.

The PDF is rendered back to pixels with pypdfium2: every page must carry ink (not blank), be
A4, and carry its page number; a chart's caption and its picture stand on one page, as do a
table's caption and its header row.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glazenstad.cli import app
from glazenstad.db.engine import make_engine
from glazenstad.insight.report import build_report
from glazenstad.insight.report_pdf import ChromiumMissing, PdfError, html_to_pdf
from glazenstad.insight.report_period import parse_period
from glazenstad.register.store import RegisterStore
from glazenstad.web.portal.report_html import render_report
from tests.insight.pdfpages import page_texts, render_pages
from tests.insight.report_setup import (
    NOW,
    ORG,
    PERIOD_KEY,
    Written,
    require_chromium,
    written_database,
)

runner = CliRunner()
REPORT = ["report", "--period", PERIOD_KEY, "--organisation", ORG]
DAYS = ["report", "--since", "2026-09-07", "--until", "2026-09-13", "--organisation", ORG]
A4_POINTS = (595, 842)  # 210 × 297 mm at 72 points per inch


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return written_database(tmp_path_factory.mktemp("report-pdf"))


@pytest.fixture(scope="module")
def html(written: Written) -> str:
    engine = make_engine(written.url)
    try:
        data = build_report(engine, RegisterStore(engine), ORG, parse_period(PERIOD_KEY), now=NOW)
    finally:
        engine.dispose()
    return render_report(data)


@pytest.fixture(scope="module")
def pdf(html: str) -> bytes:
    require_chromium()
    return html_to_pdf(html)


@pytest.mark.browser
def test_every_page_is_a4_numbered_and_not_blank(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF")
    pages = render_pages(pdf, scale=0.5)
    texts = page_texts(pdf)
    assert len(pages) == len(texts) >= 8
    for number, (image, text) in enumerate(zip(pages, texts, strict=True), start=1):
        assert (round(image.width * 2), round(image.height * 2)) == pytest.approx(A4_POINTS, abs=2)
        assert image.variance() > 20, f"page {number} looks blank"
        assert image.ink_share() > 0.002, f"page {number} has (almost) no ink"
        assert f"Pagina {number} van {len(pages)}" in text, f"page {number} has no number"
    assert "Gemeente Voorbeeldstad" in texts[0] and "September 2026" in texts[0]
    assert "In het kort" in texts[1]


def _page_of(texts: list[str], needle: str) -> int:
    found = [n for n, text in enumerate(texts) if needle in " ".join(text.split())]
    assert found, f"{needle!r} is on no page"
    return found[0]


@pytest.mark.browser
def test_charts_and_table_headers_are_not_cut_from_what_they_belong_to(pdf: bytes) -> None:
    texts = page_texts(pdf)
    chart = "Besluiten per dag: toegestaan, noodtoegang en geweigerd"
    # The caption, the legend and the last axis label of the chart are on one page.
    page = _page_of(texts, chart)
    flat = " ".join(texts[page].split())
    assert "Geweigerd (gestippeld)" in flat and "1 sep" in flat and "26 sep" in flat
    # A table's caption and its header row stay together.
    caption = "Tabel bij de grafiek: " + chart
    page = _page_of(texts, caption)
    assert "Toegestaan Noodtoegang Geweigerd Totaal" in " ".join(texts[page].split())
    caption = "Datalekken die in deze periode zijn ontdekt"
    assert "Geschat aantal" in " ".join(texts[_page_of(texts, caption)].split())


def test_a_missing_browser_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ChromiumMissing, match="apt-get install chromium"):
        html_to_pdf("<p>x</p>", chromium=tmp_path / "geen-browser")
    assert "apt-get install chromium" in ChromiumMissing.dutch


def test_a_browser_that_fails_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(PdfError, match=r"exit status 3.*cannot open display"):
        html_to_pdf("<p>x</p>", chromium=broken)


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def database(written: Written, monkeypatch: pytest.MonkeyPatch) -> Written:
    from glazenstad.settings import get_settings

    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", written.url)
    get_settings.cache_clear()
    yield written
    get_settings.cache_clear()


def test_cli_writes_the_html(database: Written, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [*REPORT, "--output", str(tmp_path), "--no-pdf"],
    )
    assert result.exit_code == 0, result.output
    path = tmp_path / f"verantwoording-{ORG}-{PERIOD_KEY}.html"
    assert path.is_file()
    assert '<h2 id="in-het-kort-kop">In het kort</h2>' in path.read_text(encoding="utf-8")
    assert "Gemeente Voorbeeldstad, september 2026" in result.output
    assert "Medewerkers en systemen vroegen" in result.output
    assert not (tmp_path / f"verantwoording-{ORG}-{PERIOD_KEY}.pdf").exists()


def test_cli_days_with_since_and_until(database: Written, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [*DAYS, "--output", str(tmp_path), "--no-pdf"],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"verantwoording-{ORG}-2026-09-07--2026-09-13.html").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--period", "2026-Q5"], "a quarter is Q1 to Q4"),
        (["--period", "juli"], "is not a period; use 2026 (a year)"),
        (["--period", "2026-Q3", "--since", "2026-07-01"], "either --period or --since"),
        ([], "either --period or --since"),
        (["--since", "2026-07-01", "--until", "2026-06-01"], "is before the first"),
        (["--since", "1-7-2026"], "Invalid isoformat"),
        (["--period", "2999"], "has not started yet"),
        (["--period", "2026", "--organisation", "elders"], "Choose an organisation"),
        # Two organisations in the register: which one must be said.
        (["--period", "2026"], "--organisation (duinwijk, voorbeeldstad)"),
    ],
)
def test_cli_refuses_a_bad_period_or_organisation(
    database: Written, tmp_path: Path, arguments: list[str], message: str
) -> None:
    if "--organisation" not in arguments and arguments[:2] != ["--period", "2026"]:
        arguments = [*arguments, "--organisation", ORG]
    result = runner.invoke(app, ["report", *arguments, "--output", str(tmp_path), "--no-pdf"])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not list(tmp_path.glob("*.html"))


def test_cli_without_a_browser_writes_the_html_and_fails_the_pdf(
    database: Written, tmp_path: Path
) -> None:
    result = runner.invoke(
        app,
        [*REPORT, "--output", str(tmp_path), "--chromium", str(tmp_path / "geen-browser")],
    )
    assert result.exit_code == 1
    assert (tmp_path / f"verantwoording-{ORG}-{PERIOD_KEY}.html").is_file()
    assert not (tmp_path / f"verantwoording-{ORG}-{PERIOD_KEY}.pdf").exists()
    assert "apt-get install chromium" in " ".join(result.output.split())


@pytest.mark.browser
def test_cli_writes_the_pdf(database: Written, tmp_path: Path) -> None:
    require_chromium()
    result = runner.invoke(
        app, ["report", "--period", PERIOD_KEY, "--output", str(tmp_path), "--organisation", ORG]
    )
    assert result.exit_code == 0, result.output
    pdf = (tmp_path / f"verantwoording-{ORG}-{PERIOD_KEY}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(render_pages(pdf, scale=0.2)) >= 8
    assert os.path.getsize(tmp_path / f"verantwoording-{ORG}-{PERIOD_KEY}.html") > 10_000
