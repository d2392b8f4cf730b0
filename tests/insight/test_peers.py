"""Peer figures: the opt-in, the five figures, and the standing among publishing peers."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from glazenstad.insight.compliance.history import store_snapshot
from glazenstad.insight.compliance.run import run_checks
from glazenstad.insight.incidents.breaches import BreachFacts, Who, register_breach
from glazenstad.insight.peers.comparison import compare, published_figures
from glazenstad.insight.peers.figures import (
    METRIC_KEYS,
    PeerFigures,
    peer_figures,
    register_completeness,
    standings,
)
from glazenstad.insight.peers.publication import (
    is_published,
    publication_history,
    published_organisations,
    set_published,
)
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore

DEMO_REGISTER = Path(__file__).resolve().parents[2] / "demo" / "register"
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def _figures(org: str, **values: float | None) -> PeerFigures:
    full: dict[str, float | None] = dict.fromkeys(METRIC_KEYS)
    full.update(values)
    return PeerFigures(org, org.title(), None, 0, 0, full)


def test_standing_ranks_ties_and_medians() -> None:
    own = _figures("a", complianceScore=80.0, signalsHandled=None)
    peers = [
        own,
        _figures("b", complianceScore=90.0, signalsHandled=50.0),
        _figures("c", complianceScore=80.0),
        _figures("d", complianceScore=60.0),
    ]
    by_key = {s.metric.key: s for s in standings(own, peers)}
    score = by_key["complianceScore"]
    assert (score.rank, score.peers, score.best, score.worst) == (2, 4, 90.0, 60.0)
    assert score.median == 80.0
    signals = by_key["signalsHandled"]  # no own value: no rank, but the peers are shown
    assert (signals.rank, signals.peers, signals.median) == (None, 1, 50.0)
    nothing = by_key["registerCompleteness"]
    assert (nothing.rank, nothing.peers, nothing.median) == (None, 0, None)


def test_own_figures_count_once_even_when_listed(engine: Engine) -> None:
    own = _figures("a", complianceScore=70.0)
    twice = standings(own, [own, own, _figures("b", complianceScore=75.0)])
    assert twice[0].peers == 2 and twice[0].rank == 2


def test_publication_is_a_history_of_choices(engine: Engine) -> None:
    assert not is_published(engine, "voorbeeldstad")
    set_published(engine, "voorbeeldstad", True, by="fg", note="raad wil vergelijken", at=NOW)
    again = set_published(engine, "voorbeeldstad", True, by="someone-else")
    assert again.by == "fg"  # choosing what is in force records nothing new
    set_published(engine, "duinwijk", True, by="duinwijk-fg", at=NOW)
    assert published_organisations(engine) == {"voorbeeldstad", "duinwijk"}
    set_published(engine, "voorbeeldstad", False, by="fg", at=NOW + timedelta(days=1))
    assert published_organisations(engine) == {"duinwijk"}
    history = publication_history(engine, "voorbeeldstad")
    assert [(e.published, e.by) for e in history] == [(True, "fg"), (False, "fg")]
    assert history[0].note == "raad wil vergelijken"
    with pytest.raises(ValueError, match="note"):
        set_published(engine, "duinwijk", False, by="x", note="x" * 1001)


def test_register_completeness_counts_entries_with_errors(tmp_path: Path, engine: Engine) -> None:
    root = tmp_path / "register"
    shutil.copytree(DEMO_REGISTER, root)
    load_register(engine, root, approved_by="test-approver")
    before = RegisterStore(engine).snapshot().organisation("voorbeeldstad")
    assert before is not None
    entries = len(before.activities()) + len(before.algorithms()) + len(before.sensors())
    complete = register_completeness(before)
    assert complete is not None
    # Take the retention periods out of one activity that has none wrong yet: one error more.
    path = root / "voorbeeldstad" / "processing-activities" / "afvalinzameling.yaml"
    document = yaml.safe_load(path.read_text())
    assert document.get("retention")
    del document["retention"]
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    load_register(engine, root, approved_by="test-approver")
    after = RegisterStore(engine).snapshot().organisation("voorbeeldstad")
    assert after is not None
    assert register_completeness(after) == pytest.approx(complete - 100 / entries, abs=0.11)


def test_figures_and_comparison_from_what_was_measured(engine: Engine) -> None:
    load_register(engine, DEMO_REGISTER, approved_by="test-approver")
    now = datetime.now(UTC)  # after the load: the register is measured as it stands
    store = RegisterStore(engine)
    report = run_checks(engine, store, "voorbeeldstad", now)
    store_snapshot(engine, report, stored_by="test")
    register_breach(
        engine,
        store,
        "voorbeeldstad",
        BreachFacts(
            title="Brief naar verkeerd adres",
            description="Een beschikking is naar een verkeerd adres gestuurd.",
            discovered_at=now - timedelta(hours=100),
        ),
        Who("fg", "F. de Graaf"),
        now=now - timedelta(hours=99),
    )
    snapshot = store.snapshot()
    register = snapshot.organisation("voorbeeldstad")
    assert register is not None
    mine = peer_figures(engine, register, now)
    assert mine.values["complianceScore"] == round(report.overall_score, 1)
    assert mine.compliance_measured_at == report.measured_at
    assert mine.breaches_last_year == 1
    assert mine.values["breachesSettledInTime"] == 0.0  # undecided after 100 hours
    assert mine.values["signalsHandled"] is None  # no signals: nothing to say

    alone = compare(engine, snapshot, "voorbeeldstad", now)
    assert alone is not None and not alone.published and alone.standings == []
    set_published(engine, "voorbeeldstad", True, by="fg", at=now)
    set_published(engine, "duinwijk", True, by="duinwijk-fg", at=now)
    both = compare(engine, snapshot, "voorbeeldstad", now)
    assert both is not None and both.published and both.peers == 2
    score = next(s for s in both.standings if s.metric.key == "complianceScore")
    assert score.peers == 1  # duinwijk has no compliance measurement yet
    assert [f.organisation_id for f in published_figures(engine, snapshot, now)] == [
        "duinwijk",
        "voorbeeldstad",
    ]
    assert compare(engine, snapshot, "elders", now) is None
