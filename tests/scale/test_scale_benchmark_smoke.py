"""A small run of benchmarks/scale.py, so it keeps working (its figures are not judged here)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT
from tests.scale.conftest import require_nats


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
