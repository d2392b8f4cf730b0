"""The command line: exit codes and messages an operator can act on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glazenstad.cli import app
from tests.conftest import TEST_REGISTER

runner = CliRunner()


@pytest.fixture(autouse=True)
def private_database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    from glazenstad.settings import get_settings

    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_check_reports_problems_with_exit_1(tmp_path: Path) -> None:
    root = tmp_path / "register"
    shutil.copytree(TEST_REGISTER, root)
    path = root / "teststad" / "activities" / "wmo.yaml"
    path.write_text(path.read_text().replace("avg_ground: e", "avg_ground: x"))
    result = runner.invoke(app, ["register", "check", str(root)])
    assert result.exit_code == 1
    assert "teststad/activities/wmo.yaml:" in result.output
    assert "legal_basis.avg_ground" in result.output
    assert "nothing was loaded" in result.output


def test_load_quality_and_exports() -> None:
    loaded = runner.invoke(app, ["register", "load", str(TEST_REGISTER)])
    assert loaded.exit_code == 0, loaded.output
    assert "9 new" in loaded.output
    again = runner.invoke(app, ["register", "load", str(TEST_REGISTER)])
    assert "9 unchanged" in again.output
    quality = runner.invoke(app, ["register", "quality", "--json"])
    assert quality.exit_code == 1  # the fixture has one error-level finding
    codes = {row["code"] for row in json.loads(quality.stdout)}
    assert codes == {"VA001", "VA004", "AL002"}
    export = runner.invoke(
        app, ["register", "export", "algoritmeregister", "--organisation", "teststad"]
    )
    assert export.exit_code == 0
    assert json.loads(export.stdout)[0]["lang"] == "nld"
    unknown = runner.invoke(app, ["register", "export", "art30", "--organisation", "elders"])
    assert unknown.exit_code == 2 and "Unknown organisation 'elders'" in unknown.output


def test_demo_loads_without_serving() -> None:
    result = runner.invoke(app, ["demo", "--no-serve", "--register", str(TEST_REGISTER)])
    assert result.exit_code == 0, result.output
    assert "Register loaded (teststad)" in result.output
