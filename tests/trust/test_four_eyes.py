"""Four-eyes rule: who proposed a register change or saved a policy version cannot put it in force.

Everything runs on SQLite and PostgreSQL through the real stores, the real API and the real
command line; the same person is recognised whatever the capitals or surrounding spaces.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from glazenstad.audit.tables import audit_event
from glazenstad.audit.trail import read_events
from glazenstad.db.base import utcnow
from glazenstad.db.engine import alembic_config, make_engine, migrate
from glazenstad.register.approval import APPROVED, PROPOSED, STALE, approve_load, load_status
from glazenstad.register.loader import RegisterApprovalError, load_register
from glazenstad.register.model import KIND_ACTIVITY
from glazenstad.register.store import RegisterStore
from glazenstad.register.tables import register_load, register_load_event
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import ACTIVE, DRAFT, PolicyLifecycleError, PolicyStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER
from tests.rules.conftest import TEST_POLICIES

SAME_PERSON = ["anna", "Anna", " ANNA ", "\tanna\n"]
ORIGINAL_NAME = "Wmo-maatwerkvoorziening"
CHANGED_NAME = "Wmo-maatwerkvoorziening (herzien)"


def changed_register(tmp_path: Path, name: str = CHANGED_NAME) -> Path:
    """A copy of the test register with the Wmo activity renamed."""
    root = tmp_path / f"register-{abs(hash(name))}"
    shutil.copytree(TEST_REGISTER, root)
    path = root / "teststad" / "activities" / "wmo.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(ORIGINAL_NAME, name, 1), "utf-8")
    return root


def activity_name(engine: Engine) -> str | None:
    register = RegisterStore(engine).snapshot().organisation("teststad")
    if register is None:
        return None
    activity = register.activity("wmo-maatwerk")
    return activity.name if activity is not None else None


def actions(engine: Engine) -> list[tuple[str, str]]:
    """(action, actor) of every audit row, oldest first."""
    return [(e.action, e.actor) for e in reversed(read_events(engine))]


# --- policies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("approver", SAME_PERSON)
def test_the_author_of_a_policy_version_cannot_activate_it(engine: Engine, approver: str) -> None:
    store = PolicyStore(engine)
    version, _ = store.save(parse_policies(TEST_POLICIES).policies[0].policy, by="anna")
    with pytest.raises(PolicyLifecycleError) as refused:
        store.activate("teststad", version.content_hash, by=approver, note="zelf")
    message = str(refused.value)
    assert "vier-ogenprincipe" in message and "four-eyes" in message
    assert f"glazenstad rules activate teststad {version.content_hash[:12]}" in message
    stored = store.get("teststad", version.content_hash)
    assert stored is not None and stored.status == DRAFT
    assert store.active() == []
    assert ("policy.activation_refused", approver.strip()) in actions(engine)
    assert "policy.activated" not in [a for a, _ in actions(engine)]


def test_a_second_person_activates_and_both_are_on_record(engine: Engine) -> None:
    store = PolicyStore(engine)
    version, _ = store.save(parse_policies(TEST_POLICIES).policies[0].policy, by="anna")
    active = store.activate("teststad", version.content_hash, by="bert", note="vastgesteld")
    assert active.status == ACTIVE
    assert (active.created_by, active.events[-1].by, active.events[-1].note) == (
        "anna",
        "bert",
        "vastgesteld",
    )
    assert actions(engine) == [("policy.saved", "anna"), ("policy.activated", "bert")]


def test_an_unnamed_approver_is_refused(engine: Engine) -> None:
    store = PolicyStore(engine)
    version, _ = store.save(parse_policies(TEST_POLICIES).policies[0].policy, by="anna")
    with pytest.raises(PolicyLifecycleError, match="must be named"):
        store.activate("teststad", version.content_hash, by="  ")


# --- the register -----------------------------------------------------------------------------


@pytest.mark.parametrize("approver", SAME_PERSON)
def test_the_author_of_a_register_load_cannot_approve_it(engine: Engine, approver: str) -> None:
    proposed = load_register(engine, TEST_REGISTER, loaded_by="anna")
    assert proposed.load_id is not None and not proposed.approved
    with pytest.raises(RegisterApprovalError, match="vier-ogenprincipe"):
        approve_load(engine, proposed.load_id, by=approver, note="zelf")
    status = load_status(engine, proposed.load_id)
    assert status is not None and status.status == PROPOSED
    assert RegisterStore(engine).snapshot().organisations == {}
    assert ("register.approval_refused", approver.strip()) in actions(engine)


def test_naming_the_author_as_approver_of_a_load_writes_nothing(engine: Engine) -> None:
    with pytest.raises(RegisterApprovalError, match="vier-ogenprincipe"):
        load_register(engine, TEST_REGISTER, loaded_by="anna", approved_by=" Anna ")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(register_load)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(audit_event)).scalar() == 0


def test_a_proposed_load_is_not_in_force_until_someone_else_approves_it(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    first = load_register(engine, TEST_REGISTER, loaded_by="anna", approved_by="bert")
    assert first.approved and activity_name(engine) == ORIGINAL_NAME
    store = RegisterStore(engine)
    proposed = load_register(engine, changed_register(tmp_path), loaded_by="anna", note="naam")
    assert proposed.load_id is not None and proposed.changed == 1
    before_approval = utcnow()

    # Not in force: the stores, the API and the portal all still show the approved register.
    assert activity_name(engine) == ORIGINAL_NAME
    assert store.latest_load_id() == first.load_id
    versions = store.versions("teststad", KIND_ACTIVITY, "wmo-maatwerk")
    assert [v.entry.name for v in versions] == [ORIGINAL_NAME]
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path / "data"))
    with TestClient(app) as client:
        api = client.get("/api/v1/organisations/teststad/processing-activities/wmo-maatwerk")
        assert api.status_code == 200 and api.json()["name"] == ORIGINAL_NAME
        page = client.get("/organisaties/teststad/verwerkingen/wmo-maatwerk")
        assert page.status_code == 200
        assert ORIGINAL_NAME in page.text and CHANGED_NAME not in page.text

        approved = approve_load(engine, proposed.load_id, by="Bert", note="akkoord")
        assert (approved.status, approved.approved_by) == (APPROVED, "Bert")

        api = client.get("/api/v1/organisations/teststad/processing-activities/wmo-maatwerk")
        assert api.json()["name"] == CHANGED_NAME
    assert store.latest_load_id() == proposed.load_id
    newest = store.versions("teststad", KIND_ACTIVITY, "wmo-maatwerk")[-1]
    # In force from the approval, not from the proposal: "as of" answers follow suit.
    assert newest.entry.name == CHANGED_NAME and newest.recorded_at >= before_approval
    old = store.as_of("teststad", KIND_ACTIVITY, "wmo-maatwerk", before_approval)
    assert old is not None and old.entry.name == ORIGINAL_NAME


def test_a_proposal_overtaken_by_another_approval_is_refused_as_stale(
    engine: Engine, tmp_path: Path
) -> None:
    load_register(engine, TEST_REGISTER, loaded_by="anna", approved_by="bert")
    one = load_register(engine, changed_register(tmp_path, "Eerste"), loaded_by="anna")
    two = load_register(engine, changed_register(tmp_path, "Tweede"), loaded_by="carla")
    assert one.load_id is not None and two.load_id is not None
    approve_load(engine, two.load_id, by="bert", note="akkoord")
    status = load_status(engine, one.load_id)
    assert status is not None and (status.status, status.stale_because) == (STALE, two.load_id)
    with pytest.raises(RegisterApprovalError, match="out of date"):
        approve_load(engine, one.load_id, by="bert", note="ook akkoord")
    assert activity_name(engine) == "Tweede"


def test_a_load_is_approved_once(engine: Engine) -> None:
    loaded = load_register(engine, TEST_REGISTER, loaded_by="anna", approved_by="bert")
    assert loaded.load_id is not None
    with pytest.raises(RegisterApprovalError, match="already approved by 'bert'"):
        approve_load(engine, loaded.load_id, by="carla", note="nog eens")
    with pytest.raises(RegisterApprovalError, match="no register load 999"):
        approve_load(engine, 999, by="carla", note="?")


def test_loads_from_before_the_rule_stay_in_force(database_url: str) -> None:
    """Migration 0013 marks earlier loads approved, saying so, so an upgrade changes nothing."""
    engine = make_engine(database_url)
    command.upgrade(alembic_config(engine), "0012")
    with engine.begin() as conn:
        conn.execute(
            insert(register_load).values(
                loaded_at=utcnow(),
                loaded_by="cli",
                source="register",
                organisations=["teststad"],
                added=0,
                changed=0,
                removed=0,
                unchanged=0,
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        event = conn.execute(select(register_load_event)).one()
    assert (event.status, event.by) == (APPROVED, "migration 0013")
    assert RegisterStore(engine).latest_load_id() == event.load_id
    engine.dispose()


# --- the command line -------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Engine]:
    from glazenstad.settings import get_settings

    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_register_proposal_and_approval_from_the_command_line(cli_database: Engine) -> None:
    from glazenstad.cli import app

    loaded = runner.invoke(app, ["register", "load", str(TEST_REGISTER), "--by", "anna"])
    assert loaded.exit_code == 0, loaded.output
    assert "Proposed load 1" in loaded.output and "glazenstad register approve 1" in loaded.output
    assert activity_name(cli_database) is None
    own = runner.invoke(app, ["register", "approve", "1", "--by", " ANNA ", "--note", "ok"])
    assert own.exit_code == 1 and "vier-ogenprincipe" in own.output
    no_note = runner.invoke(app, ["register", "approve", "1", "--by", "bert"])
    assert no_note.exit_code == 2
    waiting = json.loads(runner.invoke(app, ["register", "loads", "--json"]).stdout)
    assert [(w["id"], w["status"], w["proposedBy"]) for w in waiting] == [(1, "proposed", "anna")]
    approved = runner.invoke(app, ["register", "approve", "1", "--by", "bert", "--note", "ok"])
    assert approved.exit_code == 0, approved.output
    assert activity_name(cli_database) == ORIGINAL_NAME
    listing = json.loads(runner.invoke(app, ["register", "loads", "--json"]).stdout)
    assert [(w["status"], w["approvedBy"], w["note"]) for w in listing] == [
        ("approved", "bert", "ok")
    ]
    table = runner.invoke(app, ["register", "loads"])
    assert table.exit_code == 0 and "bert" in table.output


def test_rules_load_activate_refuses_the_authors_own_version(cli_database: Engine) -> None:
    from glazenstad.cli import app

    load_register(cli_database, TEST_REGISTER, loaded_by="anna", approved_by="bert")
    without_note = runner.invoke(
        app, ["rules", "load", str(TEST_POLICIES), "--by", "anna", "--activate"]
    )
    assert without_note.exit_code == 2 and "--note" in without_note.output
    own = runner.invoke(
        app, ["rules", "load", str(TEST_POLICIES), "--by", "anna", "--activate", "--note", "x"]
    )
    assert own.exit_code == 1
    assert "not activated" in own.output and "glazenstad rules activate teststad" in own.output
    version = own.output.split("gegevensgebruik ", 1)[1][:12]
    assert PolicyStore(cli_database).active() == []
    second = runner.invoke(
        app, ["rules", "activate", "teststad", version, "--by", "bert", "--note", "vastgesteld"]
    )
    assert second.exit_code == 0, second.output
    assert [v.content_hash[:12] for v in PolicyStore(cli_database).active()] == [version]


def test_the_demo_shows_two_people_at_work(cli_database: Engine) -> None:
    from glazenstad.cli import app

    result = runner.invoke(app, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "proposed by informatiemanager, approved by fg" in result.output
    trail = actions(cli_database)
    assert ("register.proposed", "informatiemanager") in trail
    assert ("register.approved", "fg") in trail
    assert ("policy.saved", "informatiemanager") in trail
    assert ("policy.activated", "fg") in trail
    assert PolicyStore(cli_database).active()
