"""Quality checks find what is really wrong in a register, and nothing that is not."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from glazenstad.register.loader import load_register
from glazenstad.register.quality import CHECKS, check_organisation
from glazenstad.register.store import OrganisationRegister, RegisterStore
from tests.conftest import TEST_REGISTER
from tests.register.test_loader import edit


@pytest.fixture
def register_dir(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    shutil.copytree(TEST_REGISTER, target)
    return target


def org(engine: Engine, root: Path) -> OrganisationRegister:
    load_register(engine, root, approved_by="test-approver")
    reg = RegisterStore(engine).snapshot().organisation("teststad")
    assert reg is not None
    return reg


def codes(reg: OrganisationRegister, today: date | None = None) -> set[tuple[str, str]]:
    return {(f.code, f.entry_id) for f in check_organisation(reg, today)}


def test_every_check_has_code_severity_and_dutch_explanation() -> None:
    assert len(CHECKS) >= 15
    for code, check in CHECKS.items():
        assert code == check.code and len(code) == 5
        assert check.severity in ("fout", "waarschuwing", "info")
        assert check.title and len(check.explanation) > 30


def test_fixture_findings(engine: Engine, register_dir: Path) -> None:
    found = codes(org(engine, register_dir))
    assert found == {
        ("VA001", "wmo-maatwerk"),  # health data, DPIA only "nodig"
        ("VA004", "wmo-maatwerk"),
        ("AL002", "kentekenherkenning"),  # impactful, no impact assessment
    }


def test_fixing_the_gaps_clears_the_findings(engine: Engine, register_dir: Path) -> None:
    edit(
        register_dir / "teststad" / "activities" / "wmo.yaml", "status: nodig", "status: uitgevoerd"
    )
    edit(
        register_dir / "teststad" / "algorithm.yaml",
        "activities: [parkeren-scanauto]\n---",
        "activities: [parkeren-scanauto]\nimpacttoetsen_grouping:\n  - title: DPIA\n---",
    )
    assert codes(org(engine, register_dir)) == set()


def test_register_gaps_are_found(engine: Engine, register_dir: Path) -> None:
    wmo = register_dir / "teststad" / "activities" / "wmo.yaml"
    edit(wmo, "  special_category_ground: Artikel 5.1.1 Wmo 2015\n", "")
    edit(wmo, "retention:\n  - outcome: standaard\n    period: P15Y\n", "")
    park = register_dir / "teststad" / "activities" / "parkeren.yaml"
    edit(
        park,
        '  laws:\n    - title: Gemeentewet\n      bwb_id: BWBR0005416\n      article: "225"\n',
        "  laws: []\n",
    )
    edit(
        park,
        "roles: [parkeerhandhaver]",
        "roles: []\nprocessors:\n  - name: ScanBV\n    agreement: false",
    )
    algo = register_dir / "teststad" / "algorithm.yaml"
    edit(algo, "status: In gebruik", "status: Buiten gebruik")
    edit(
        algo,
        "human_intervention: <p>Een handhaver controleert elke mogelijke overtreding.</p>",
        "goal: <p>Snel <b>handhaven</b></p>",
    )
    edit(algo, "activities: [parkeren-scanauto]\n---", "activities: []\n---")
    edit(algo, "activities: [parkeren-scanauto]\n", "valid_until: 2020-01-01\n")
    edit(algo, "retention_months: 6\n", "")
    found = codes(org(engine, register_dir), today=date(2026, 1, 1))
    expected = {
        ("VA002", "wmo-maatwerk"),
        ("VA005", "wmo-maatwerk"),
        ("VA003", "parkeren-scanauto"),
        ("VA006", "parkeren-scanauto"),
        ("VA008", "parkeren-scanauto"),
        ("AL001", "kentekenherkenning"),
        ("AL003", "kentekenherkenning"),
        ("AL004", "kentekenherkenning"),
        ("AL005", "kentekenherkenning"),
        ("SE001", "scanauto-camera-1"),
        ("SE002", "scanauto-camera-1"),
        ("SE003", "scanauto-camera-1"),
    }
    assert expected <= found
    # A sensor's validity is judged against the day of the check.
    assert ("SE003", "scanauto-camera-1") not in codes(
        RegisterStore(engine).snapshot().organisation("teststad"),  # type: ignore[arg-type]
        today=date(2019, 1, 1),
    )


def test_bsn_under_consent_is_flagged(engine: Engine, register_dir: Path) -> None:
    edit(register_dir / "teststad" / "activities" / "wmo.yaml", "avg_ground: e", "avg_ground: a")
    assert ("VA007", "wmo-maatwerk") in codes(org(engine, register_dir))


def test_unused_data_category_is_info(engine: Engine, register_dir: Path) -> None:
    with (register_dir / "teststad" / "data.yaml").open("a", encoding="utf-8") as handle:
        handle.write("---\nkind: data-category\nid: hobby\nname: Hobby's\n")
    reg = org(engine, register_dir)
    (finding,) = [f for f in check_organisation(reg) if f.code == "GC001"]
    assert finding.entry_id == "hobby" and finding.check.severity == "info"
