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
    loaded = runner.invoke(app, ["register", "load", str(TEST_REGISTER), "--by", "im"])
    assert loaded.exit_code == 0, loaded.output
    assert "Proposed load 1" in loaded.output and "9 new" in loaded.output
    approved = runner.invoke(app, ["register", "approve", "1", "--by", "fg", "--note", "ok"])
    assert approved.exit_code == 0, approved.output
    again = runner.invoke(app, ["register", "load", str(TEST_REGISTER), "--by", "im"])
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


def test_rules_check_test_load_activate(tmp_path: Path) -> None:
    from tests.rules.conftest import TEST_POLICIES

    check = runner.invoke(
        app, ["rules", "check", str(TEST_POLICIES), "--register", str(TEST_REGISTER)]
    )
    assert check.exit_code == 0, check.output
    assert "1 policy(ies), 4 rule(s), 6 scenario(s)" in check.output
    test = runner.invoke(
        app, ["rules", "test", str(TEST_POLICIES), "--register", str(TEST_REGISTER)]
    )
    assert test.exit_code == 0 and "6 passed, 0 failed" in test.output
    broken = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES, broken)
    scenarios = broken / "teststad" / "scenarios.yaml"
    scenarios.write_text(
        scenarios.read_text().replace(
            "expect: {effect: deny, rules: [kantoortijd], reason: deny_rule}",
            "expect: {effect: permit}",
        )
    )
    failing = runner.invoke(app, ["rules", "test", str(broken), "--register", str(TEST_REGISTER)])
    assert failing.exit_code == 1
    assert "FAIL teststad/scenarios.yaml:12 Handhaver leest kenteken op zondag" in failing.output
    assert "expected permit, got deny (deny_rule)" in failing.output
    assert "uitleg: Nee." in failing.output
    assert runner.invoke(app, ["register", "load", str(TEST_REGISTER), "--by", "im"]).exit_code == 0
    assert (
        runner.invoke(app, ["register", "approve", "1", "--by", "fg", "--note", "ok"]).exit_code
        == 0
    )
    loaded = runner.invoke(app, ["rules", "load", str(TEST_POLICIES), "--by", "fg"])
    assert "new draft" in loaded.output
    version = loaded.output.split("gegevensgebruik ", 1)[1][:12]
    activated = runner.invoke(
        app, ["rules", "activate", "teststad", version, "--by", "ciso", "--note", "vastgesteld"]
    )
    assert activated.exit_code == 0 and "Active for teststad" in activated.output
    listing = runner.invoke(app, ["rules", "versions"])
    assert "active" in listing.output and "ciso" in listing.output


def test_parking_simulation_in_process_then_cases_judged_from_the_command_line() -> None:
    """Without a broker the simulator feeds the pipeline in process; cases are worked by id."""
    assert runner.invoke(app, ["demo", "--no-serve"]).exit_code == 0
    # Inside the hours the policy allows scanning.
    saturday_noon = "2026-11-28T12:00:00+01:00"
    arguments = ["--rate", "100", "--duration", "0.5", "--start", saturday_noon]
    simulated = runner.invoke(app, ["simulate", "parking", *arguments, "--unpaid-share", "0.5"])
    assert simulated.exit_code == 0, simulated.output
    assert "Sent 50 scans" in simulated.output
    listed = runner.invoke(app, ["parking", "cases"])
    assert listed.exit_code == 0
    case_ids = [line.split()[0] for line in listed.output.splitlines() if "  open" in line]
    assert len(case_ids) >= 2
    dismissed = runner.invoke(app, ["parking", "dismiss", case_ids[0], "--reason", "laden-lossen"])
    assert dismissed.exit_code == 0 and "dismissed (laden-lossen)" in dismissed.output
    again = runner.invoke(app, ["parking", "confirm", case_ids[0]])
    assert again.exit_code == 1
    wrong = runner.invoke(app, ["parking", "dismiss", case_ids[1], "--reason", "zomaar"])
    assert wrong.exit_code == 1 and "laden-lossen" in wrong.output
    confirmed = runner.invoke(app, ["parking", "confirm", case_ids[1]])
    assert confirmed.exit_code == 0 and "confirmed" in confirmed.output
    assert runner.invoke(app, ["parking", "retention"]).exit_code == 0


def test_sensor_simulation_in_process_and_pipeline_needs_a_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert runner.invoke(app, ["demo", "--no-serve"]).exit_code == 0
    simulated = runner.invoke(
        app, ["simulate", "sensors", "--rate", "50", "--duration", "0.2", "--unregistered", "1"]
    )
    assert simulated.exit_code == 0, simulated.output
    assert "Sent 10 messages" in simulated.output and "1 from an unregistered" in simulated.output
    monkeypatch.delenv("GLAZENSTAD_MQTT_URL", raising=False)
    for pipeline in ("sensors", "parking"):
        result = runner.invoke(app, ["pipeline", pipeline])
        assert result.exit_code == 2 and "GLAZENSTAD_MQTT_URL" in result.output
