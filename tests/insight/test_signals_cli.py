"""`glazenstad signals`: file, list, triage and show, as a member of staff, on both backends."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from glazenstad.cli import app
from tests.insight.test_signals_setup import Decisions, demo_decisions

runner = CliRunner()
REASON = "Ik vervang een zieke collega en kan het dossier van haar cliënt niet openen."


@pytest.fixture
def decisions(
    monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine
) -> Iterator[Decisions]:
    from glazenstad.settings import get_settings

    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", database_url)
    monkeypatch.setenv("GLAZENSTAD_MODE", "demo")
    monkeypatch.delenv("GLAZENSTAD_STAFF_DIRECTORY", raising=False)
    get_settings.cache_clear()
    yield demo_decisions(engine)
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["signals", *args])
    return result.exit_code, result.output


def test_file_list_triage_and_show(decisions: Decisions) -> None:
    code, out = run("file", decisions.own_file, "--by", "wmo-consulent", "--text", REASON)
    assert code == 0, out
    number = re.search(r"Signaal (\d+):", out)
    assert number and "Status: Nieuw" in out and "Afdeling Sociaal Domein" in out
    signal = number.group(1)
    code, out = run("file", decisions.own_file, "--by", "wmo-consulent", "--text", REASON)
    assert code == 1 and "al een signaal" in out
    code, out = run("file", decisions.own_file, "--by", "klantmanager", "--text", "BSN 999993653!")
    assert code == 1 and "burgerservicenummer" in out
    code, out = run("list", "--by", "beleidsadviseur-sociaal-domein")
    assert code == 0 and "alleen-eigen-dossier" in out and "1 signal(s)." in out
    code, out = run("list", "--by", "beleidsadviseur-werk-inkomen")
    assert code == 0 and "0 signal(s)." in out
    code, out = run("triage", signal, "--by", "wmo-consulent", "--state", "under_review")
    assert code == 1 and "behandelen" in out
    code, out = run(
        "triage", signal, "--by", "beleidsadviseur-sociaal-domein", "--state", "under_review"
    )
    assert code == 0 and "Status: In behandeling" in out
    code, out = run(
        "triage",
        signal,
        "--by",
        "beleidsadviseur-sociaal-domein",
        "--state",
        "rule_changed",
        "--response",
        "De regel staat nu toe dat een vervanger het dossier opent.",
    )
    assert code == 0 and "Status: Regel aangepast" in out
    code, out = run("show", signal, "--by", "wmo-consulent")
    assert code == 0 and "Antwoord: De regel staat nu toe" in out
    assert "B. Bakker: In behandeling -> Regel aangepast" in out
    code, out = run("figures")
    assert code == 0 and "1 (0 open, 1 afgerond)" in out
    code, out = run("list", "--by", "informatiemanager")
    assert code == 1 and "neither file nor triage" in out
    code, out = run("list", "--by", "niemand")
    assert code == 2 and "not in the staff directory" in out
    code, out = run("show", signal, "--by", "duinwijk-fg")
    assert code == 1 and "bestaat niet" in out
