"""Small runs of benchmarks/scale.py and benchmarks/reads.py, so they keep working (their figures
are not judged here)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import PG_ADMIN_URL, ROOT, require_postgres
from tests.scale.conftest import require_nats

pytestmark = pytest.mark.heavy


def test_scale_benchmark_smoke() -> None:
    require_nats()
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "writers=1" in result.stdout and "writers=2" in result.stdout
    assert "fronts=2" in result.stdout


def test_reads_benchmark_smoke() -> None:
    require_postgres()
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.reads", "--smoke", "--postgres", admin],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Both levels were filled to exactly their size and read (the sample residents were found:
    # a read that finds nothing stops the benchmark).
    rows = re.findall(r"^\s+(20,000|60,000)\s+[\d.]+\s+([\d.]+)\s", result.stdout, re.MULTILINE)
    assert [level for level, _ in rows] == ["20,000", "60,000"], result.stdout[-2000:]
    assert all(float(per_resident) > 5 for _, per_resident in rows)
