"""Peer figures on the portal and the command line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from glazenstad.cli import app as cli
from glazenstad.db.engine import make_engine, migrate
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings, get_settings
from glazenstad.web.app import create_app
from tests.conftest import login_staff

DEMO_REGISTER = Path(__file__).resolve().parents[2] / "demo" / "register"


@pytest.fixture
def portal(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=sqlite_url, data_dir=tmp_path))
    load_register(make_engine(sqlite_url), DEMO_REGISTER, approved_by="test-approver")
    with TestClient(app) as client:
        yield client


def _form_token(html: str) -> str:
    match = re.search(r'name="formulier_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_staff_choose_and_then_see_their_place(portal: TestClient) -> None:
    assert portal.get("/medewerkers/vergelijking", follow_redirects=False).status_code == 303
    login_staff(portal, "informatiemanager")
    page = portal.get("/medewerkers/vergelijking")
    assert page.status_code == 200
    assert "Wij delen onze cijfers nu niet" in page.text
    assert "Keuze opslaan" in page.text  # peers:publish

    empty = portal.post(
        "/medewerkers/vergelijking",
        data={"formulier_token": _form_token(page.text)},
        follow_redirects=False,
    )
    assert empty.status_code == 400 and "Kies of de gemeente" in empty.text
    forged = portal.post(
        "/medewerkers/vergelijking",
        data={"delen": "ja", "formulier_token": "forged"},
        follow_redirects=False,
    )
    assert forged.status_code == 403

    chosen = portal.post(
        "/medewerkers/vergelijking",
        data={
            "delen": "ja",
            "toelichting": "Afgesproken in het MT.",
            "formulier_token": _form_token(page.text),
        },
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    after = portal.get("/medewerkers/vergelijking").text
    assert "Onze cijfers en onze plaats tussen 1 gemeente" in after
    assert "Afgesproken in het MT." in after and "informatiemanager" in after

    public = portal.get("/vergelijking")
    assert public.status_code == 200
    assert "Gemeente Voorbeeldstad" in public.text and "Gemeente Duinwijk" not in public.text
    assert 'href="/vergelijking"' in portal.get("/").text  # two organisations: in the menu


def test_reading_without_the_right_to_choose(portal: TestClient) -> None:
    login_staff(portal, "beleidsadviseur-sociaal-domein")
    page = portal.get("/medewerkers/vergelijking")
    assert page.status_code == 200 and "Keuze opslaan" not in page.text
    refused = portal.post(
        "/medewerkers/vergelijking",
        data={"delen": "ja", "formulier_token": portal.cookies.get("gs_formulier")},
        follow_redirects=False,
    )
    assert refused.status_code == 403


def test_command_line(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        engine = make_engine(database_url)
        migrate(engine)
        load_register(engine, DEMO_REGISTER, approved_by="test-approver")
        runner = CliRunner()
        shown = runner.invoke(cli, ["peers", "show", "--organisation", "voorbeeldstad"])
        assert shown.exit_code == 0, shown.output
        assert "Not published: 0 organisation(s) publish" in shown.output
        published = runner.invoke(
            cli, ["peers", "publish", "--organisation", "voorbeeldstad", "--by", "fg"]
        )
        assert published.exit_code == 0 and "publishes its figures" in published.output
        standing = runner.invoke(cli, ["peers", "show", "--organisation", "voorbeeldstad"])
        assert "1 of 1" in standing.output
        unknown = runner.invoke(cli, ["peers", "publish", "--organisation", "elders", "--by", "x"])
        assert unknown.exit_code == 2 and "not in the register" in unknown.output
        withdrawn = runner.invoke(
            cli, ["peers", "withdraw", "--organisation", "voorbeeldstad", "--by", "fg"]
        )
        assert "does not publish" in withdrawn.output
    finally:
        get_settings.cache_clear()


def test_a_too_long_note_points_at_the_note_and_keeps_it(portal: TestClient) -> None:
    login_staff(portal, "fg")
    page = portal.get("/medewerkers/vergelijking")
    refused = portal.post(
        "/medewerkers/vergelijking",
        data={
            "delen": "ja",
            "toelichting": "lang " * 300,
            "formulier_token": _form_token(page.text),
        },
    )
    assert refused.status_code == 400
    assert 'href="#toelichting"' in refused.text and 'id="toelichting-fout"' in refused.text
    assert "lang lang lang" in refused.text  # what was typed is not lost
