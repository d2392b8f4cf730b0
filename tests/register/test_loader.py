"""Loading register YAML: validation errors name file, line and field; loads are all or nothing."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from glazenstad.register.loader import (
    RegisterValidationError,
    load_register,
    parse_register,
)
from glazenstad.register.model import KIND_ACTIVITY, KIND_ORGANISATION
from glazenstad.register.store import RegisterStore
from glazenstad.register.tables import register_entry_version, register_load
from tests.conftest import TEST_REGISTER


@pytest.fixture
def register_dir(tmp_path: Path) -> Path:
    """A private copy of the test register that a test may edit."""
    target = tmp_path / "register"
    shutil.copytree(TEST_REGISTER, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems_of(root: Path) -> list[str]:
    with pytest.raises(RegisterValidationError) as info:
        parse_register(root)
    return [str(p) for p in info.value.problems]


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def test_valid_register_parses_with_every_kind(register_dir: Path) -> None:
    parsed = parse_register(register_dir)
    assert list(parsed.organisations) == ["teststad"]
    kinds = sorted({e.kind for e in parsed.entries})
    assert kinds == [
        "algorithm",
        "data-category",
        "dataset",
        "organisation",
        "processing-activity",
        "sensor",
    ]


def test_yaml_syntax_error_names_file_and_line(register_dir: Path) -> None:
    path = register_dir / "teststad" / "activities" / "wmo.yaml"
    edit(path, "theme: Zorg", "theme: [Zorg")
    (problem,) = problems_of(register_dir)
    assert problem.startswith("teststad/activities/wmo.yaml:")
    assert "not valid YAML" in problem


def test_unknown_field_is_named_with_a_suggestion(register_dir: Path) -> None:
    path = register_dir / "teststad" / "activities" / "wmo.yaml"
    edit(path, "purposes:", "purpose:")
    found = problems_of(register_dir)
    line = line_of(path, "purpose:")
    assert (
        f"teststad/activities/wmo.yaml:{line}: processing-activity 'wmo-maatwerk': field "
        "'purpose': unknown field 'purpose'; did you mean 'purposes'?"
    ) in found
    assert any("field 'purposes': required field is missing" in p for p in found)


def test_wrong_value_names_nested_field_and_line(register_dir: Path) -> None:
    path = register_dir / "teststad" / "activities" / "parkeren.yaml"
    edit(path, "bwb_id: BWBR0005416", "bwb_id: GEMEENTEWET")
    (problem,) = problems_of(register_dir)
    line = line_of(path, "bwb_id:")
    assert problem.startswith(f"teststad/activities/parkeren.yaml:{line}: ")
    assert "field 'legal_basis.laws[0].bwb_id'" in problem
    assert "GEMEENTEWET" in problem


def test_bad_iso_duration_is_explained(register_dir: Path) -> None:
    path = register_dir / "teststad" / "activities" / "parkeren.yaml"
    edit(path, "period: PT24H", "period: 24 uur")
    (problem,) = problems_of(register_dir)
    assert f"parkeren.yaml:{line_of(path, 'period: 24 uur')}:" in problem
    assert "field 'retention[0].period'" in problem
    assert "not an ISO 8601 duration" in problem


def test_enum_value_lists_what_is_allowed(register_dir: Path) -> None:
    path = register_dir / "teststad" / "activities" / "wmo.yaml"
    edit(path, "confidentiality: vertrouwelijk", "confidentiality: geheim")
    (problem,) = problems_of(register_dir)
    assert "field 'confidentiality'" in problem
    assert "'normaal'" in problem and "'vertrouwelijk'" in problem


def test_unknown_reference_is_named(register_dir: Path) -> None:
    path = register_dir / "teststad" / "activities" / "parkeren.yaml"
    edit(path, "data_categories: [kenteken]", "data_categories: [kentekn]")
    (problem,) = problems_of(register_dir)
    assert "field 'data_categories[0]'" in problem
    assert "refers to unknown data-category 'kentekn'; did you mean 'kenteken'?" in problem


def test_duplicate_id_names_both_places(register_dir: Path) -> None:
    copy = register_dir / "teststad" / "activities" / "copy.yaml"
    shutil.copy(register_dir / "teststad" / "activities" / "wmo.yaml", copy)
    (problem,) = problems_of(register_dir)
    assert "duplicate id" in problem
    assert "teststad/activities/copy.yaml" in problem or "teststad/activities/wmo.yaml" in problem


def test_unknown_kind_and_non_mapping_documents(register_dir: Path) -> None:
    (register_dir / "teststad" / "extra.yaml").write_text(
        "kind: verwerking\nid: x\n---\n- just\n- a list\n", encoding="utf-8"
    )
    found = problems_of(register_dir)
    assert any("extra.yaml:1" in p and "unknown kind 'verwerking'" in p for p in found)
    assert any("a document must be a mapping" in p for p in found)


def test_directory_without_organisation_is_refused(tmp_path: Path) -> None:
    (tmp_path / "leeg").mkdir()
    (problem,) = problems_of(tmp_path / "leeg")
    assert "no organisation.yaml" in problem


def test_every_problem_is_reported_at_once(register_dir: Path) -> None:
    edit(
        register_dir / "teststad" / "activities" / "wmo.yaml",
        "confidentiality: vertrouwelijk",
        "confidentiality: geheim",
    )
    edit(
        register_dir / "teststad" / "activities" / "parkeren.yaml",
        "period: PT24H",
        "period: morgen",
    )
    assert len(problems_of(register_dir)) == 2


def _row_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(register_entry_version)).scalar())


def test_one_bad_file_loads_nothing(engine: Engine, register_dir: Path) -> None:
    load_register(engine, register_dir, approved_by="test-approver")
    before = _row_count(engine)
    edit(
        register_dir / "teststad" / "activities" / "parkeren.yaml",
        "name: Parkeerhandhaving",
        "name: Parkeercontrole",
    )
    edit(register_dir / "teststad" / "activities" / "wmo.yaml", "avg_ground: e", "avg_ground: z")
    with pytest.raises(RegisterValidationError):
        load_register(engine, register_dir, approved_by="test-approver")
    assert _row_count(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(register_load)).scalar() == 1


def test_reload_creates_versions_only_for_changes(engine: Engine, register_dir: Path) -> None:
    first = load_register(engine, register_dir, approved_by="test-approver")
    assert (first.added, first.changed, first.unchanged) == (9, 0, 0)
    again = load_register(engine, register_dir, approved_by="test-approver")
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 9)
    assert again.load_id is None
    edit(
        register_dir / "teststad" / "activities" / "parkeren.yaml", "period: PT24H", "period: PT48H"
    )
    third = load_register(engine, register_dir, approved_by="test-approver")
    assert (third.added, third.changed, third.removed, third.unchanged) == (0, 1, 0, 8)
    store = RegisterStore(engine)
    versions = store.versions("teststad", KIND_ACTIVITY, "parkeren-scanauto")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].content_hash != versions[1].content_hash
    assert [v.version for v in store.versions("teststad", KIND_ACTIVITY, "wmo-maatwerk")] == [1]


def test_version_as_of_a_moment(engine: Engine, register_dir: Path) -> None:
    load_register(engine, register_dir, approved_by="test-approver")
    edit(
        register_dir / "teststad" / "activities" / "parkeren.yaml", "period: PT24H", "period: PT48H"
    )
    load_register(engine, register_dir, approved_by="test-approver")
    store = RegisterStore(engine)
    v1, v2 = store.versions("teststad", KIND_ACTIVITY, "parkeren-scanauto")
    assert (
        store.as_of(
            "teststad",
            KIND_ACTIVITY,
            "parkeren-scanauto",
            v1.recorded_at - timedelta(microseconds=1),
        )
        is None
    )
    at_first = store.as_of("teststad", KIND_ACTIVITY, "parkeren-scanauto", v1.recorded_at)
    assert at_first is not None and at_first.version == 1
    between = v1.recorded_at + (v2.recorded_at - v1.recorded_at) / 2
    found = store.as_of("teststad", KIND_ACTIVITY, "parkeren-scanauto", between)
    assert found is not None and found.version == 1
    assert found.entry.retention[0].period == "PT24H"  # type: ignore[union-attr]
    latest = store.as_of("teststad", KIND_ACTIVITY, "parkeren-scanauto", v2.recorded_at)
    assert latest is not None and latest.version == 2
    by_uri = store.by_uri_as_of(
        "https://register.teststad.example/processing-activities/parkeren-scanauto", between
    )
    assert by_uri is not None and by_uri.version == 1


def test_removed_entry_gets_a_tombstone(engine: Engine, register_dir: Path) -> None:
    load_register(engine, register_dir, approved_by="test-approver")
    (register_dir / "teststad" / "activities" / "wmo.yaml").unlink()
    result = load_register(engine, register_dir, approved_by="test-approver")
    assert result.removed == 1
    store = RegisterStore(engine)
    history = store.versions("teststad", KIND_ACTIVITY, "wmo-maatwerk")
    assert [(v.version, v.removed) for v in history] == [(1, False), (2, True)]
    snapshot = store.snapshot()
    reg = snapshot.organisation("teststad")
    assert reg is not None and reg.activity("wmo-maatwerk") is None
    assert reg.activity("parkeren-scanauto") is not None
    # Putting it back is a new version, not an overwrite.
    shutil.copy(
        TEST_REGISTER / "teststad" / "activities" / "wmo.yaml",
        register_dir / "teststad" / "activities" / "wmo.yaml",
    )
    assert load_register(engine, register_dir, approved_by="test-approver").changed == 1
    assert len(store.versions("teststad", KIND_ACTIVITY, "wmo-maatwerk")) == 3


def test_organisations_are_kept_apart(engine: Engine, register_dir: Path, tmp_path: Path) -> None:
    other = register_dir / "anderstad"
    shutil.copytree(register_dir / "teststad", other)
    edit(other / "organisation.yaml", "id: teststad", "id: anderstad")
    edit(other / "organisation.yaml", "register.teststad.example", "register.anderstad.example")
    edit(other / "activities" / "parkeren.yaml", "period: PT24H", "period: PT12H")
    result = load_register(engine, register_dir, approved_by="test-approver")
    assert result.organisations == ["anderstad", "teststad"]
    snapshot = RegisterStore(engine).snapshot()
    mine = snapshot.organisation("teststad")
    theirs = snapshot.organisation("anderstad")
    assert mine is not None and theirs is not None
    ours = mine.get(KIND_ACTIVITY, "parkeren-scanauto")
    other_entry = theirs.get(KIND_ACTIVITY, "parkeren-scanauto")
    assert ours is not None and other_entry is not None
    assert ours.uri != other_entry.uri
    assert ours.entry.retention[0].period == "PT24H"  # type: ignore[union-attr]
    assert other_entry.entry.retention[0].period == "PT12H"  # type: ignore[union-attr]
    # Loading only one organisation leaves the other untouched.
    only = tmp_path / "only"
    shutil.copytree(register_dir / "teststad", only / "teststad")
    (only / "teststad" / "activities" / "wmo.yaml").unlink()
    assert load_register(engine, only, approved_by="test-approver").removed == 1
    after = RegisterStore(engine).snapshot()
    assert after.organisation("anderstad").activity("wmo-maatwerk") is not None  # type: ignore[union-attr]


def test_organisation_entry_is_versioned_too(engine: Engine, register_dir: Path) -> None:
    load_register(engine, register_dir, approved_by="test-approver")
    edit(
        register_dir / "teststad" / "organisation.yaml",
        "fg@teststad.example",
        "privacy@fg.teststad.example",
    )
    assert load_register(engine, register_dir, approved_by="test-approver").changed == 1
    history = RegisterStore(engine).versions("teststad", KIND_ORGANISATION, "teststad")
    assert len(history) == 2


def test_dry_run_writes_nothing(engine: Engine, register_dir: Path) -> None:
    result = load_register(engine, register_dir, dry_run=True, approved_by="test-approver")
    assert result.added == 9 and result.load_id is None
    assert _row_count(engine) == 0
