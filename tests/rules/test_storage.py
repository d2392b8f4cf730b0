"""Policy lifecycle and the decision log on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select

from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from glazenstad.rules.decisionlog import DecisionLog, stored_decision
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyLifecycleError, PolicyStore
from glazenstad.rules.tables import decision_log
from tests.conftest import TEST_REGISTER
from tests.rules.conftest import TEST_POLICIES
from tests.rules.test_engine import _request


@pytest.fixture
def service(engine: Engine) -> RulesService:
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    return RulesService(RegisterStore(engine), PolicyStore(engine), refresh_interval=0)


def test_lifecycle_draft_active_retired(service: RulesService) -> None:
    store = service.policies
    policy = parse_policies(TEST_POLICIES).policies[0].policy
    first, created = store.save(policy, by="privacy-officer")
    assert created and first.status == "draft"
    again, created_again = store.save(policy, by="someone")
    assert not created_again and again.id == first.id
    assert service.decide(_request()).outcome.reason == "no_policy"
    store.activate("teststad", first.content_hash[:10], by="ciso", note="go")
    assert service.decide(_request()).permitted
    changed = policy.model_copy(update={"title": "Spelregels 2027"})
    second, _ = store.save(changed, by="privacy-officer")
    draft = service.decide(_request(), second.content_hash)
    assert draft.policy_hash == second.content_hash
    store.activate("teststad", second.content_hash, by="ciso")
    versions = {v.content_hash: v for v in store.versions("teststad")}
    assert versions[first.content_hash].status == "retired"
    assert versions[second.content_hash].status == "active"
    assert [e.status for e in versions[first.content_hash].events] == ["draft", "active", "retired"]
    assert versions[first.content_hash].events[1].by == "ciso"
    assert service.decide(_request()).policy_hash == second.content_hash
    with pytest.raises(PolicyLifecycleError, match="retired"):
        store.activate("teststad", first.content_hash, by="ciso")


def test_decision_log_batches_and_keeps_everything(service: RulesService, engine: Engine) -> None:
    store = service.policies
    version, _ = store.save(parse_policies(TEST_POLICIES).policies[0].policy, by="t")
    store.activate("teststad", version.content_hash, by="approver")
    log = DecisionLog(engine, max_batch=50, interval=0.01)
    decisions = [
        service.decide(_request(role="x" if i % 3 else "parkeerhandhaver")) for i in range(500)
    ]
    threads = [threading.Thread(target=log.record_many, args=(decisions[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.record(
        decisions[0].__class__(None, decisions[0].request, 0.0, 0.0, decisions[0].outcome),
        wait=True,
    )
    log.close()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(decision_log)).scalar() == 501
    row = stored_decision(engine, decisions[0].id)
    assert row is not None
    assert row["effect"] == "permit" and row["rules"] == ["doelbinding-parkeren-scanauto"]
    assert row["policy_version"] == version.content_hash
    assert row["input_hash"] == decisions[0].receipt()["inputHash"]
    assert row["request"]["actor"]["role"] == "parkeerhandhaver"
    denied = stored_decision(engine, decisions[1].id)
    assert denied is not None and denied["reason"] == "no_permit"


def test_wait_means_committed(service: RulesService, engine: Engine) -> None:
    log = DecisionLog(engine, interval=5.0)  # a long interval: only `wait` forces the write
    decision = service.decide(_request())
    log.record(decision, wait=True)
    assert stored_decision(engine, decision.id) is not None
    log.close()


def test_activation_reaches_a_running_service_after_the_refresh_interval(
    engine: Engine,
) -> None:
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    store = PolicyStore(engine)
    service = RulesService(RegisterStore(engine), store, refresh_interval=3600)
    assert service.decide(_request()).outcome.reason == "no_policy"
    version, _ = store.save(parse_policies(TEST_POLICIES).policies[0].policy, by="t")
    store.activate("teststad", version.content_hash, by="approver")
    # Within the interval the service keeps deciding with what it compiled ...
    assert service.decide(_request()).outcome.reason == "no_policy"
    service.refresh_interval = 0
    # ... and after it, with the newly active version.
    assert service.decide(_request()).permitted
