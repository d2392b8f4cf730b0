"""What the fault tests share: the request headers, the demo database, and `glazenstad` processes.

Every fault test runs the real commands (`glazenstad serve`, `glazenstad pipeline parking`,
`glazenstad logbook verify`) as child processes configured only through GLAZENSTAD_* variables,
because a fault such as SIGKILL must hit a whole process, not a thread of the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx
import pytest

from glazenstad.db.engine import make_engine, migrate
from glazenstad.register.loader import load_register
from glazenstad.register.model import KIND_ACTIVITY, entry_uri
from glazenstad.register.store import RegisterStore
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore
from tests.conftest import DEMO_REGISTER, ROOT, free_port
from tests.logbook.conftest import KEY_2026

ORG: Final = "voorbeeldstad"
# Every write request of these tests carries these headers; the system client's token of the
# demo organisation.
API_HEADERS: Final = {"Authorization": "Bearer demo-system-voorbeeldstad"}
DECISIONS_URL: Final = "/api/v1/decisions"
RECORDS_URL: Final = "/api/v1/logboek/records"
READY_URL: Final = f"/api/v1/organisations/{ORG}"
START_DEADLINE_S: Final = 90.0  # generous: a loaded machine starts slowly
PARKING_ACTIVITY: Final = "parkeerhandhaving-scanauto"
AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")
# A synthetic test BSN (passes the eleven test, issued to no one).
BSN: Final = "999993653"

CLI: Final = [sys.executable, "-c", "from glazenstad.cli import app; app()"]


def prepare_database(database_url: str) -> str:
    """Migrate, load the demo register and policies (saved by one person, activated by a
    second); returns the URI of the scan-car activity."""
    engine = make_engine(database_url)
    try:
        migrate(engine)
        load_register(engine, DEMO_REGISTER, loaded_by="test-author", approved_by="test-reviewer")
        store = PolicyStore(engine)
        for loaded in parse_policies(ROOT / "demo" / "policies").policies:
            version, _ = store.save(loaded.policy, by="test-author")
            if version.status != "active":
                store.activate(version.organisation_id, version.content_hash, by="test-reviewer")
        register = RegisterStore(engine).snapshot().organisation(ORG)
        assert register is not None
        return entry_uri(str(register.org.register_uri), KIND_ACTIVITY, PARKING_ACTIVITY)
    finally:
        engine.dispose()


def cli_env(database_url: str, data_dir: Path, mqtt_url: str | None = None) -> dict[str, str]:
    """The environment of a `glazenstad` child: this test's settings, none of the machine's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLAZENSTAD_")}
    env.update(
        GLAZENSTAD_DATABASE_URL=database_url,
        GLAZENSTAD_DATA_DIR=str(data_dir),
        GLAZENSTAD_PSEUDONYM_KEYS=KEY_2026,
    )
    if mqtt_url:
        env["GLAZENSTAD_MQTT_URL"] = mqtt_url
    return env


class Service:
    """One `glazenstad ...` child process, its output kept in files beside the test's data."""

    def __init__(self, args: list[str], env: dict[str, str], log_dir: Path, name: str) -> None:
        self.name = name
        self.stdout_path = log_dir / f"{name}.stdout"
        self.stderr_path = log_dir / f"{name}.stderr"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            # cwd is the log directory, so that no stray .env file is read.
            self.process = subprocess.Popen(
                [*CLI, *args], cwd=log_dir, env=env, stdout=out, stderr=err
            )

    def output(self, tail: int = 4000) -> str:
        text = self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(
            errors="replace"
        )
        return f"--- {self.name} (last {tail} characters) ---\n{text[-tail:]}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, open transactions just stop."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end within ten seconds."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class Server(Service):
    """`glazenstad serve` on a free port."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            ["serve", "--host", "127.0.0.1", "--port", str(self.port)], env, log_dir, name
        )

    def wait_ready(self) -> None:
        """Poll until the API answers with the demo organisation, or fail with the server's say."""
        deadline = time.monotonic() + START_DEADLINE_S
        last = "no answer yet"
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while True:
                if not self.alive():
                    pytest.fail(f"the server exited at start-up\n{self.output()}")
                try:
                    response = client.get(READY_URL)
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:300]}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not get ready ({last})\n{self.output()}")
                time.sleep(0.05)


def verify_logbook(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`glazenstad logbook verify` as an operator runs it."""
    return subprocess.run(
        [*CLI, "logbook", "verify"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def decision_body() -> dict[str, Any]:
    """A decision the demo policy permits (a scan car records a plate on a Monday morning)."""
    return {
        "actor": {"role": "parkeerhandhaver", "department": "Parkeren", "organisation": ORG},
        "action": "write",
        "resource": {"dataCategory": "kenteken", "dataset": "scanauto-systeem"},
        "purpose": PARKING_ACTIVITY,
        "context": {"time": "2026-03-02T09:30:00+01:00", "channel": "mobiel"},
    }


def log_records(activity: str, batch: int, size: int, run: str) -> list[dict[str, Any]]:
    """`size` new LDV records, unique per (run, batch, index), for the demo organisation."""
    now = int(time.time() * 1000)
    return [
        {
            "trace_id": f"{run}{batch + 1:08x}{1:016x}"[:32],
            "span_id": f"{batch + 1:08x}{i + 1:08x}",
            "name": "Scanauto controleert kenteken",
            "start_time": now,
            "end_time": now + 5,
            "status": "Ok",
            "resource": {"attributes": {"service.name": "scanauto"}},
            "attributes": {
                "dpl.core.processing_activity_id": activity,
                "dpl.core.data_subject_id": BSN,
                "dpl.core.data_subject_id_type": "BSN",
            },
        }
        for i in range(size)
    ]


def last_paid_hour() -> datetime:
    """The latest weekday 10:00 in Amsterdam before today: paid parking, in the past."""
    day = datetime.now(AMSTERDAM).date() - timedelta(days=1)
    while day.weekday() > 4:
        day -= timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=AMSTERDAM).astimezone(UTC)


def assert_retryable(response: httpx.Response, statuses: tuple[int, ...] = (503,)) -> None:
    """A clean refusal: problem+json, one of `statuses`, a Retry-After, no traceback."""
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/problem+json", response.headers
    assert int(response.headers["retry-after"]) > 0
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["detail"] and "Traceback" not in response.text
