"""PostgreSQL restarts under load: clients get retryable answers, the server recovers by itself.

The test runs a PostgreSQL cluster of its own (initdb and pg_ctl, as the `postgres` user, in a
temporary directory on a free port), so restarting it touches nothing else on the machine.
`glazenstad serve` runs against it while client threads ask for decisions and send log batches;
mid-load the cluster is restarted with `pg_ctl restart -m fast`, which ends every open
connection and refuses new ones until it is back. During that outage every answer must be a
503 problem+json with Retry-After (never a 500, never a request left hanging), the server must
answer 200 again afterwards without being restarted, and nothing it acknowledged may be lost.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from glazenstad.db.engine import make_engine
from glazenstad.logbook.tables import log_record
from glazenstad.rules.tables import decision_log
from tests.conftest import free_port, missing_tool
from tests.faults.load import Ledger, start_clients, wait_until
from tests.faults.support import (
    ORG,
    Server,
    cli_env,
    prepare_database,
    verify_logbook,
)

ACKS_BEFORE_RESTART = (10, 5)  # decisions, log batches
ACKS_AFTER_RESTART = (10, 5)
LOAD_DEADLINE_S = 40.0


class PrivateCluster:
    """A PostgreSQL cluster in a directory of its own, run as the `postgres` OS user."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="gs-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        shutil.chown(self.directory, user="postgres", group="postgres")

    def _as_postgres(self, *command: str) -> None:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command[:2])} failed ({result.returncode}): "
                f"{result.stdout}{result.stderr}\n{log}"
            )

    def _options(self) -> str:
        return f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"

    def create(self) -> None:
        self._as_postgres(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
            "--no-instructions",
        )  # fmt: skip
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-w",
            "-t", "30", "start",
        )  # fmt: skip

    def restart(self) -> None:
        """Fast shutdown (open connections are ended, transactions rolled back), then start."""
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-m",
            "fast", "-w", "-t", "30", "restart",
        )  # fmt: skip

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running: nothing to stop
            self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    if os.geteuid() != 0:
        missing_tool(
            "a private PostgreSQL cluster is started as the postgres user, which needs root"
        )
    for tool in ("initdb", "pg_ctl", "runuser"):
        if shutil.which(tool) is None:
            missing_tool(f"{tool} is not on PATH: cannot run a private PostgreSQL cluster")
    private = PrivateCluster()
    try:
        private.create()
    except RuntimeError as exc:
        private.destroy()
        missing_tool(f"a private PostgreSQL cluster did not start: {exc}")
    try:
        yield private
    finally:
        private.destroy()


def test_postgres_restart_gives_retryable_answers_and_the_server_recovers(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    activity = prepare_database(cluster.url)
    env = cli_env(cluster.url, tmp_path)
    server = Server(env, tmp_path, "server")
    ledger = Ledger(activity=activity, run=uuid.uuid4().hex[:8])
    threads: list[threading.Thread] = []
    try:
        server.wait_ready()
        threads = start_clients(
            ledger, server.base_url, decisions=2, logs=2, end_on_transport_error=False
        )
        wait_until(
            lambda: (
                all(n >= m for n, m in zip(ledger.counts(), ACKS_BEFORE_RESTART, strict=True))
                or bool(ledger.unexpected)
            ),
            LOAD_DEADLINE_S,
            lambda: f"acknowledgements before the restart: {ledger.summary()}\n{server.output()}",
        )
        restarting = time.monotonic()
        cluster.restart()
        back = time.monotonic()
        wait_until(
            lambda: (
                all(
                    n >= m
                    for n, m in zip(
                        ledger.acknowledged_since(back), ACKS_AFTER_RESTART, strict=True
                    )
                )
                or bool(ledger.unexpected)
            ),
            LOAD_DEADLINE_S,
            lambda: f"acknowledgements after the restart: {ledger.summary()}\n{server.output()}",
        )
    finally:
        ledger.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        alive = server.alive()
        server.stop()

    assert not ledger.unexpected, f"{ledger.unexpected[:3]}\n{server.output()}"
    assert not ledger.transport_errors, f"{ledger.transport_errors[:3]} (a hung or dropped request)"
    assert alive, f"the server died with its database\n{server.output()}"
    # The outage was hit, and every answer during it was a clean, retryable one.
    during = [r for r in ledger.refusals if r.at >= restarting]
    assert during, "no request met the restart: the test did not exercise the outage"
    for refusal in ledger.refusals:
        assert refusal.status == 503, (refusal.what, refusal.status, refusal.body[:500])
        assert refusal.headers["content-type"] == "application/problem+json"
        assert int(refusal.headers["retry-after"]) > 0
        assert "Traceback" not in refusal.body

    engine = make_engine(cluster.url)
    try:
        with engine.connect() as conn:
            stored_decisions = {
                str(d): int(n)
                for d, n in conn.execute(
                    select(decision_log.c.decision_id, func.count()).group_by(
                        decision_log.c.decision_id
                    )
                )
            }
            keys = [
                (str(t), str(s))
                for t, s in conn.execute(
                    select(log_record.c.trace_id, log_record.c.span_id).where(
                        log_record.c.organisation_id == ORG
                    )
                )
            ]
    finally:
        engine.dispose()
    missing = [d for d in ledger.decisions if d not in stored_decisions]
    assert not missing, f"{len(missing)} acknowledged decision(s) lost"
    assert all(n == 1 for n in stored_decisions.values())
    assert len(keys) == len(set(keys)), "a log record is stored twice"
    lost = ledger.acknowledged_records() - set(keys)
    assert not lost, f"{len(lost)} acknowledged log record(s) lost"
    verified = verify_logbook(env, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
