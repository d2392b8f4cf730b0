"""Several serve nodes on one database: a policy activated by the CLI is applied by every node
that listens on NATS, straight away, and each receipt names the version that decided.

The nodes check the database for changes only once an hour here, so nothing but the
announcement can make them apply the new policy; a node without NATS is the control and keeps
deciding by what it had.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from glazenstad.cli import app
from glazenstad.db.engine import make_engine, migrate
from glazenstad.register.loader import load_register
from glazenstad.rules.store import PolicyStore
from glazenstad.settings import Settings, get_settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, serving, system_token
from tests.rules.conftest import TEST_POLICIES
from tests.scale.conftest import DECISION, NATS_URL, require_nats

pytestmark = pytest.mark.postgres

HOUR = 3600.0


@pytest.fixture
def nodes(postgres_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Two listening nodes and one without NATS, all on one fresh PostgreSQL database."""
    require_nats()
    subject = f"gs-test-{uuid.uuid4().hex[:12]}"
    _registered(postgres_url)

    def node(name: str, nats_url: str | None) -> Any:
        return create_app(
            Settings(
                database_url=postgres_url,
                data_dir=tmp_path / name,
                system_clients=TEST_SYSTEMS,
                nats_url=nats_url,
                nats_events_subject=subject,
                rules_refresh_seconds=HOUR,
            )
        )

    with ExitStack() as stack:
        urls = {
            name: stack.enter_context(serving(node(name, url)))
            for name, url in (("a", NATS_URL), ("b", NATS_URL), ("control", None))
        }
        yield {"urls": urls, "database_url": postgres_url, "subject": subject}


def _registered(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    engine.dispose()


def _decide(base_url: str) -> dict[str, Any]:
    response = httpx.post(f"{base_url}/api/v1/decisions", json=DECISION, headers=system_token())
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _cli(*args: str, environment: dict[str, str]) -> Result:
    """The command line, in this process (the nodes run in threads of their own)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args))
        finally:
            get_settings.cache_clear()


def test_an_activation_is_applied_by_every_listening_node(nodes: dict[str, Any]) -> None:
    urls = nodes["urls"]
    for url in urls.values():
        assert _decide(url)["reason"] == "no_policy"

    environment = {
        "GLAZENSTAD_DATABASE_URL": nodes["database_url"],
        "GLAZENSTAD_NATS_URL": NATS_URL,
        "GLAZENSTAD_NATS_EVENTS_SUBJECT": nodes["subject"],
    }
    loaded = _cli("rules", "load", str(TEST_POLICIES), "--by", "author", environment=environment)
    assert loaded.exit_code == 0, loaded.output
    engine = make_engine(nodes["database_url"])
    try:
        (version,) = PolicyStore(engine).versions("teststad")
    finally:
        engine.dispose()
    activated = _cli(
        *("rules", "activate", "teststad", version.content_hash),
        *("--by", "approver", "--note", "in force on every node"),
        environment=environment,
    )
    assert activated.exit_code == 0, activated.output
    assert "Could not announce" not in activated.output

    # The announcement travels asynchronously; wait for it, within a bound far below an hour.
    deadline = time.monotonic() + 20
    for name in ("a", "b"):
        while (decision := _decide(urls[name]))["reason"] != "permit":
            assert time.monotonic() < deadline, f"node {name} never applied it: {decision}"
            time.sleep(0.05)
        assert decision["receipt"]["policyVersion"] == version.content_hash, name
    control = _decide(urls["control"])
    assert control["reason"] == "no_policy", "without NATS the hourly check had not come yet"


def test_an_unreachable_nats_does_not_fail_the_change(postgres_url: str) -> None:
    """The activation is committed either way; the command says the nodes will follow later."""
    _registered(postgres_url)
    environment = {"GLAZENSTAD_DATABASE_URL": postgres_url}
    loaded = _cli("rules", "load", str(TEST_POLICIES), "--by", "author", environment=environment)
    assert loaded.exit_code == 0, loaded.output
    engine = make_engine(postgres_url)
    try:
        (version,) = PolicyStore(engine).versions("teststad")
    finally:
        engine.dispose()
    nowhere = {**environment, "GLAZENSTAD_NATS_URL": "nats://127.0.0.1:9"}
    activated = _cli(
        *("rules", "activate", "teststad", version.content_hash[:12]),
        *("--by", "approver", "--note", "nats is down"),
        environment=nowhere,
    )
    assert activated.exit_code == 0, activated.output
    assert "Could not announce the change on NATS" in activated.output
    engine = make_engine(postgres_url)
    try:
        assert [v.status for v in PolicyStore(engine).versions("teststad")] == ["active"]
    finally:
        engine.dispose()
