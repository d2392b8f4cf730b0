"""A small run of each benchmark, so they keep working (figures are not judged here).

The decision benchmark's smoke run still fails on any disagreement between the engines.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL, ROOT, missing_tool, require_postgres

pytestmark = pytest.mark.heavy


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_decision_benchmark_smoke() -> None:
    import importlib.util

    missing = [m for m in ("cedarpy", "casbin") if importlib.util.find_spec(m) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed (the bench extra; bin/setup --dev has it)"
        missing_tool(reason)
    result = _run("benchmarks.decisions", "--smoke")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Engine.decide" in result.stdout


def test_http_benchmark_smoke() -> None:
    if shutil.which("wrk") is None:
        reason = "wrk not installed (apt-get install wrk)"
        missing_tool(reason)
    result = _run("benchmarks.http", "--seconds", "1", "--connections", "4", "--batch", "10")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:]}
    assert float(lines["single"][1]) > 0 and lines["single"][-1] == "0"  # calls, no errors
    assert lines["batch"][-1] == "0"


@pytest.mark.postgres
def test_logbook_benchmark_smoke() -> None:
    """Both databases, both ingest paths, the floor, verify and a resident read, in miniature.

    The benchmark creates and drops its own uniquely named PostgreSQL databases.
    """
    require_postgres()
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    result = _run("benchmarks.logbook", "--smoke", "--postgres", admin)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = result.stdout.split("server processes")[-1]
    assert "sqlite" in summary and "postgresql" in summary
    assert summary.count("read at") == 2


def _execution_benchmark(database: str) -> str:
    """A miniature run of both halves on `database`: scans through a private Mosquitto into
    the pipeline, and the gateway, a pass-through proxy and direct calls with wrk. Checks what
    both databases print; returns the output."""
    from glazenstad.execution.mosquitto import mosquitto_binary

    missing = [
        name
        for name, found in (("wrk", shutil.which("wrk")), ("mosquitto", mosquitto_binary()))
        if found is None
    ]
    if missing:
        reason = f"{', '.join(missing)} not installed (Debian packages)"
        missing_tool(reason)
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    result = _run(
        "benchmarks.execution",
        *("--seconds", "1", "--connections", "4", "--databases", database),
        *("--scan-databases", database, "--capacity-scans", "300", "--scan-seconds", "2"),
        *("--scan-target", "300", "--timing-samples", "20", "--postgres", admin),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(database)]
    for path in ("direct", "gateway", "passthrough"):
        figures = next(r for r in rows if r[1] == path)
        assert float(figures[2].replace(",", "")) > 0 and figures[-1] == "0", path
    logged = next(line for line in result.stdout.splitlines() if "log records" in line)
    assert not logged.split("; ")[-1].startswith("0 log records")
    assert "Server-Timing: decide" in result.stdout
    assert "a proxy that only forwards" in result.stdout
    capacity = next(line for line in result.stdout.splitlines() if "capacity" in line)
    assert float(capacity.split("capacity ")[-1].split()[0].replace(",", "")) > 0
    assert "target 300 scans/s sustained" in result.stdout
    return result.stdout


def test_execution_benchmark_smoke() -> None:
    output = _execution_benchmark("sqlite")
    assert "floor" not in output  # the database floor is measured on PostgreSQL only


@pytest.mark.postgres
def test_execution_benchmark_smoke_postgresql() -> None:
    """On PostgreSQL the run also copies what it stored into a fresh database (the floor):
    for the scans and for the gateway's requests, with the rows each wrote per unit."""
    require_postgres()
    output = _execution_benchmark("postgresql")
    floors = [line for line in output.splitlines() if "floor (raw COPY" in line]
    assert len(floors) == 2, output
    for line in floors:
        rate = line.split(": ")[-1].split()[0]
        assert float(rate.replace(",", "")) > 0, line

    def per_unit(prefix: str) -> dict[str, str]:
        line = next(line for line in output.splitlines() if prefix in line)
        return {t.split()[0]: t.split(" ", 1)[1] for t in line.split(": ", 1)[1].split(", ")}

    # Every stored scan wrote at least one decision and one LDV record, copied by the floor;
    # the key tables were filled by the copy's triggers, as by the pipeline's writes.
    per_scan = per_unit("rows per scan")
    assert float(per_scan["decision_log"]) >= 1 and float(per_scan["log_record"]) >= 1
    assert per_scan["log_record_key"].endswith("(by trigger)")
    per_request = per_unit("rows per request")
    assert float(per_request["decision_log"]) >= 1
    assert per_request["decision_log_key"].endswith("(by trigger)")


@pytest.mark.postgres
def test_compliance_benchmark_smoke() -> None:
    """The whole check set over a small filled logbook, on both databases."""
    require_postgres()
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    result = _run("benchmarks.compliance", "--smoke", "--postgres", admin)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = result.stdout.split("compliance checks,")[-1]
    rows = [line.split() for line in summary.splitlines() if line.startswith(("sqlite", "post"))]
    assert [r[0] for r in rows] == ["sqlite", "postgresql"]
    assert all(int(r[1].replace(",", "")) >= 5000 and float(r[6]) > 0 for r in rows)


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_impact_benchmark_smoke(database: str) -> None:
    """Impact replay of a few thousand recorded requests; both replays must count the same."""
    args = ["benchmarks.impact", "--requests", "3000", "--repeat", "1"]
    if database == "postgresql":
        require_postgres()
        args += ["--database-url", PG_ADMIN_URL]
    result = _run(*args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "3,000 requests →" in result.stdout
    assert "both replays count the same: yes" in result.stdout
    assert "replay from DB (dedup + compiled)" in result.stdout


@pytest.mark.postgres
def test_dashboard_benchmark_smoke() -> None:
    """Figure queries, dashboard and home page over 20,000 decisions, on both databases."""
    require_postgres()
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    result = _run("benchmarks.dashboard", "--smoke", "--postgres", admin)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for database in ("sqlite", "postgresql"):
        assert f"== {database}: 20,000 decision rows ==" in result.stdout
    assert "pages not measured" not in result.stdout
    assert result.stdout.count("dashboard_30_days_page_warm_best_s") == 2
    assert "ix_decision_log_org_time" in result.stdout


def test_soak_benchmark_smoke(tmp_path: Path) -> None:
    """Every kind of the mixed load answered on SQLite, without errors, in a few seconds.

    Memory is sampled but not judged: a few seconds say nothing about growth.
    """
    report = tmp_path / "soak.json"
    result = _run(
        "benchmarks.soak",
        *("--database", "sqlite", "--duration", "6", "--interval", "2"),
        *("--decisions", "5", "--log-batches", "1", "--log-batch-size", "20"),
        *("--log-reads", "1", "--api-reads", "4", "--portal-reads", "2"),
        *("--json", str(report)),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(report.read_text(encoding="utf-8"))
    assert set(figures["totals"]) == {"decide", "log-write", "log-read", "api-read", "portal"}
    for kind, totals in figures["totals"].items():
        assert totals["completed"] > 0 and totals["errors"] == {}, (kind, totals)
    assert figures["errors"] == 0
    assert len(figures["intervals"]) == 3
    assert all(row["rss_mb"] > 0 and row["db_mb"] > 0 for row in figures["intervals"])
    assert figures["memory"]["verdict"].startswith("not judged")
    assert "server RSS: first" in result.stdout
