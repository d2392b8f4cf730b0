"""The published OpenAPI passes the official NL API Design Rules ruleset (Spectral)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT, missing_tool

RULESET = ROOT.parent / "shared" / "standards" / "adr-spectral-ruleset.yaml"
SPECTRAL = ROOT / "node_modules" / ".bin" / "spectral"


def _require(path: Path, what: str) -> None:
    if not path.exists():
        reason = f"{what} not found at {path}"
        missing_tool(reason)


@pytest.mark.node
def test_openapi_passes_the_nl_api_design_rules(client: TestClient, tmp_path: Path) -> None:
    _require(RULESET, "the NL API Design Rules ruleset (../shared/standards)")
    _require(SPECTRAL, "Spectral (run npm ci)")
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document.json()), encoding="utf-8")
    # Copy the read-only ruleset: Spectral resolves and caches next to it.
    ruleset = tmp_path / "ruleset.yaml"
    shutil.copy(RULESET, ruleset)
    result = subprocess.run(
        [
            str(SPECTRAL),
            "lint",
            "-r",
            str(ruleset),
            "--fail-severity=warn",
            "-f",
            "text",
            str(spec),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_openapi_document_shape(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "/api/v1", "description": "This installation"}]
    for path, operations in document["paths"].items():
        assert not path.startswith("/api/"), path
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, f"{method} {path}"
            assert "400" in responses, f"{method} {path}"
            for status, response in responses.items():
                if status.startswith("2"):
                    assert "API-Version" in response["headers"], f"{method} {path}"
                else:
                    assert list(response["content"]) == ["application/problem+json"]
