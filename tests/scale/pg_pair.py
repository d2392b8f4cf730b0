"""A PostgreSQL primary and a streaming replica of the test's own (initdb, pg_basebackup -R and
pg_ctl as the `postgres` user, temporary directories, free loopback ports): nothing else on
the machine is touched. Needs root (to act as `postgres`); skipped, or failed with CI=true,
without it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

from glazenstad.db.replica import parse_lsn
from tests.conftest import missing_tool
from tests.faults.load import wait_until
from tests.faults.test_postgres_restart import PrivateCluster

REPLAY_DEADLINE_S = 30.0


class StreamingReplica(PrivateCluster):
    """A hot standby of `primary`, made with pg_basebackup -R (streaming from the primary)."""

    def __init__(self, primary: PrivateCluster) -> None:
        super().__init__()
        self.primary = primary

    def create(self) -> None:
        self._as_postgres(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
            "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-w",
            "-t", "30", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextmanager
def primary_and_replica() -> Iterator[tuple[PrivateCluster, StreamingReplica]]:
    if os.geteuid() != 0:
        missing_tool("private PostgreSQL clusters are started as the postgres user: needs root")
    for tool in ("initdb", "pg_ctl", "pg_basebackup", "runuser"):
        if shutil.which(tool) is None:
            missing_tool(f"{tool} is not on PATH: cannot run a private primary and replica")
    primary = PrivateCluster()
    replica = StreamingReplica(primary)
    try:
        try:
            primary.create()
            replica.create()
        except RuntimeError as exc:
            missing_tool(f"a private PostgreSQL primary and replica did not start: {exc}")
        yield primary, replica
    finally:
        replica.destroy()
        primary.destroy()


def wait_replayed(primary: Engine, replica: Engine) -> None:
    """Wait until the replica has replayed everything the primary had written when called."""
    with primary.connect() as conn:
        target = parse_lsn(str(conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar()))

    def replayed() -> int:
        with replica.connect() as conn:
            lsn = conn.execute(text("SELECT pg_last_wal_replay_lsn()::text")).scalar()
        return parse_lsn(str(lsn)) if lsn else 0

    wait_until(
        lambda: replayed() >= target,
        REPLAY_DEADLINE_S,
        lambda: f"the replica to replay up to {target} (at {replayed()})",
    )
