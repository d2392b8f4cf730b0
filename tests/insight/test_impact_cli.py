"""`glazenstad rules impact` on SQLite and PostgreSQL: tables, JSON, and clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from glazenstad.cli import app
from glazenstad.db.engine import make_engine
from tests.insight.test_impact_setup import Seeded, seed_impact

runner = CliRunner()


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Seeded]:
    from glazenstad.settings import get_settings

    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    engine = make_engine(database_url)
    from glazenstad.db.engine import migrate

    migrate(engine)
    found = seed_impact(engine)
    engine.dispose()
    yield found
    get_settings.cache_clear()


def impact(*args: str) -> object:
    return runner.invoke(app, ["rules", "impact", *args], terminal_width=200)


def test_tables_and_examples(seeded: Seeded) -> None:
    result = impact("--draft", seeded.draft[:12], "--since", "2026-03-01", "--until", "2026-03-31")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # the terminal may wrap lines anywhere
    assert "Periode 2026-03-01 00:00 tot 2026-04-01 00:00" in out
    assert "7 vastgelegde verzoeken, 3 verschillend voor deze versie" in out
    assert "Ja → nee: 3" in out and "Nee → ja: 2" in out
    assert "Per verwerking" in out and "Per spelregel" in out and "Per afdeling" in out
    assert "kantoortijd" in out and "sociaal domein alleen inzien in kantoortijd" in out
    assert "Ondersteuning via de Wmo" in out
    assert "Was ja, wordt nee" in out and "Was nee, wordt ja" in out
    assert "deze versie: Nee. U mag bsn niet inzien" in out


def test_json_and_the_period(seeded: Seeded) -> None:
    result = impact(
        "--draft", seeded.draft, "--since", "2026-03-03", "--until", "2026-03-03", "--json",
        "--examples", "0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    # Only Tuesday 3 March: the five Wmo decisions, three of them after 17:00.
    assert document["totals"]["requests"] == 5
    assert document["totals"]["permitToDeny"] == 3
    assert document["examples"] == []
    assert document["since"] == "2026-03-02T23:00:00+00:00"
    assert document["until"] == "2026-03-03T23:00:00+00:00"


def test_errors_say_what_is_wrong(seeded: Seeded) -> None:
    unknown = impact("--draft", "0" * 12, "--since", "2026-03-01")
    assert unknown.exit_code == 1 and "no stored policy version" in unknown.output
    wrong_org = impact(
        "--draft", seeded.draft, "--since", "2026-03-01", "--organisation", "duinwijk"
    )
    assert wrong_org.exit_code == 1 and "no policy version" in wrong_org.output
    bad_date = impact("--draft", seeded.draft, "--since", "maart")
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output
    backwards = impact("--draft", seeded.draft, "--since", "2026-03-31", "--until", "2026-03-01")
    assert backwards.exit_code == 1 and "before or when it starts" in backwards.output
