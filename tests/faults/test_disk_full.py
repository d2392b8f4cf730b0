"""The SQLite data directory fills up: writes are refused cleanly, and resume once there is room.

The data directory is a small tmpfs mounted for this test (root only), holding the SQLite
database in WAL mode (see `glazenstad.db.engine`): both the write-ahead log and the database
file need room to grow. `glazenstad serve` runs on it; log batches are sent until the disk is
full. From then on a write must be answered with 507 problem+json and Retry-After (no 500, no
traceback), a refused batch must have left nothing behind, everything acknowledged must be
stored, and the database must pass `PRAGMA integrity_check` and the hash-chain check. After the
tmpfs is made larger (`mount -o remount,size=...`), the refused batch is sent again and taken,
new writes succeed, and the chain still verifies.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import missing_tool
from tests.faults.support import (
    API_HEADERS,
    DECISIONS_URL,
    ORG,
    READY_URL,
    RECORDS_URL,
    Server,
    assert_retryable,
    cli_env,
    decision_body,
    log_records,
    verify_logbook,
)

SMALL = "3m"  # the demo database takes 0.8 MB: room for a few dozen batches, then full
LARGE = "64m"
BATCH_SIZE = 200
MAX_BATCHES = 200  # far more than fit in SMALL: the disk must fill before this
MAX_SMALL_WRITES = 3000


class Tmpfs:
    """A tmpfs mounted on a new directory; always unmounted and removed by `close`."""

    def __init__(self, size: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="gs-full-"))
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(self.path)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            self.path.rmdir()
            missing_tool(f"cannot mount a tmpfs for the disk-full test: {result.stderr.strip()}")

    def resize(self, size: str) -> None:
        subprocess.run(
            ["mount", "-o", f"remount,size={size}", str(self.path)], check=True, timeout=30
        )

    def close(self) -> None:
        if subprocess.run(["umount", str(self.path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
        self.path.rmdir()


@pytest.fixture
def small_disk() -> Iterator[Tmpfs]:
    if os.geteuid() != 0:
        missing_tool("mounting a tmpfs for the disk-full test needs root")
    disk = Tmpfs(SMALL)
    try:
        yield disk
    finally:
        disk.close()


def _fill(path: Path) -> None:
    """Write to `path` until the file system has no room left."""
    block = b"\0" * 4096
    with path.open("wb", buffering=0) as ballast:
        try:
            while True:
                ballast.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


def _integrity(database: Path) -> str:
    connection = sqlite3.connect(database)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def _stored_keys(database: Path) -> list[tuple[str, str]]:
    connection = sqlite3.connect(database)
    try:
        query = "SELECT trace_id, span_id FROM log_record WHERE organisation_id = ?"
        return [(str(t), str(s)) for t, s in connection.execute(query, (ORG,))]
    finally:
        connection.close()


def _stored_decisions(database: Path) -> set[str]:
    connection = sqlite3.connect(database)
    try:
        return {str(d) for (d,) in connection.execute("SELECT decision_id FROM decision_log")}
    finally:
        connection.close()


def _keys(batch: list[dict[str, object]]) -> set[tuple[str, str]]:
    return {(str(r["trace_id"]), str(r["span_id"])) for r in batch}


def test_a_full_disk_refuses_writes_cleanly_and_recovers(
    small_disk: Tmpfs, sqlite_template: tuple[Path, str], tmp_path: Path
) -> None:
    database = small_disk.path / "glazenstad.sqlite3"
    url = f"sqlite:///{database}"
    template, activity = sqlite_template
    shutil.copyfile(template, database)
    env = cli_env(url, small_disk.path)
    run = uuid.uuid4().hex[:8]
    server = Server(env, tmp_path, "server")
    acknowledged: set[tuple[str, str]] = set()
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.base_url, timeout=30, headers=API_HEADERS) as http:
            refused: list[dict[str, object]] | None = None
            for number in range(MAX_BATCHES):
                batch = log_records(activity, number, BATCH_SIZE, run)
                response = http.post(RECORDS_URL, json={"organisationId": ORG, "records": batch})
                if response.status_code != 200:
                    assert_retryable(response, (507,))
                    refused = batch
                    break
                answer = response.json()
                assert answer["accepted"] == BATCH_SIZE, answer
                acknowledged |= _keys(batch)
            assert refused is not None, f"the disk did not fill within {MAX_BATCHES} batches"
            assert acknowledged, "the disk was full before the first batch: make SMALL larger"

            # A batch no longer fits; a single row still may, in the write-ahead log's room
            # left by the refused batch. Fill the disk as another program would, then use up
            # that room: every write is answered 200 (and stored) or 507 (and left out), until
            # even the smallest is refused.
            _fill(small_disk.path / "ballast")
            decided: list[str] = []
            for _ in range(MAX_SMALL_WRITES):
                response = http.post(DECISIONS_URL, json=decision_body())
                if response.status_code != 200:
                    assert_retryable(response, (507,))
                    break
                decided.append(response.json()["receipt"]["decisionId"])
            else:
                pytest.fail(f"{MAX_SMALL_WRITES} decisions fitted on a full disk")
            one = log_records(activity, MAX_BATCHES + 10, 1, run)
            small = http.post(RECORDS_URL, json={"organisationId": ORG, "records": one})
            assert_retryable(small, (507,))
            # Reads still work and the server stays up.
            assert http.get(READY_URL).status_code == 200
            assert server.alive(), server.output()
            assert "Traceback" not in server.output(100_000)

            stored = _stored_keys(database)
            assert len(stored) == len(set(stored)), "a record is stored twice"
            assert acknowledged <= set(stored), "an acknowledged record is missing"
            assert not _keys(refused) & set(stored), "a refused batch left records behind"
            assert not _keys(one) & set(stored), "a refused record was stored"
            assert set(decided) <= _stored_decisions(database), "an acknowledged decision is lost"
            assert _integrity(database) == "ok"
            verified = verify_logbook(env, tmp_path)
            assert verified.returncode == 0, verified.stdout + verified.stderr

            # Room again: the refused batch is taken when sent again, and so is new work.
            small_disk.resize(LARGE)
            again = http.post(RECORDS_URL, json={"organisationId": ORG, "records": refused})
            assert again.status_code == 200, again.text
            assert again.json()["accepted"] == BATCH_SIZE
            acknowledged |= _keys(refused)
            decision = http.post(DECISIONS_URL, json=decision_body())
            assert decision.status_code == 200, decision.text
            for number in range(MAX_BATCHES, MAX_BATCHES + 3):
                batch = log_records(activity, number, BATCH_SIZE, run)
                response = http.post(RECORDS_URL, json={"organisationId": ORG, "records": batch})
                assert response.status_code == 200, response.text
                acknowledged |= _keys(batch)
    finally:
        server.stop()

    stored = _stored_keys(database)
    assert len(stored) == len(set(stored)) and set(stored) == acknowledged
    assert _integrity(database) == "ok"
    verified = verify_logbook(env, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
