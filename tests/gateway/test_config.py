"""The gateway configuration: the demo file loads, and mistakes name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from glazenstad.execution.gateway import GatewayConfigError, create_gateway, load_gateway_config
from glazenstad.execution.gateway.config import token_hash
from glazenstad.settings import Settings
from tests.conftest import ROOT

DEMO = ROOT / "demo" / "gateway" / "voorbeeldstad.yaml"
GOOD_ROUTE = """\
  - dataset: brp
    path: /personen/{bsn}
    data_category: naw
    subject: {param: bsn, type: BSN}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(GatewayConfigError) as caught:
        load_gateway_config(path)
    return [str(p) for p in caught.value.problems]


def test_the_demo_configuration_loads_and_its_tokens_are_the_documented_ones() -> None:
    config = load_gateway_config(DEMO)
    assert config.organisation == "voorbeeldstad"
    assert config.has_demo_clients
    client = config.client("demo-wmo-consulent")
    assert client is not None and client.role == "wmo-consulent"
    assert config.client("wmo-consulent") is None
    found = config.route("GET", "/brp/personen/999990019")
    assert found is not None and found[1] == {"burgerservicenummer": "999990019"}
    assert config.route("POST", "/brp/personen/999990019") is None
    shared = config.route("GET", "/brp/verstrekkingen/personen/999990019")
    assert shared is not None and shared[0].route.action == "share"


def test_an_unknown_field_names_line_and_suggests(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kind: gateway\norganisation: voorbeeldstad\nroutes:\n"
        + GOOD_ROUTE
        + "    data_categroy: naw\n",
    )
    [problem] = problems(path)
    assert problem.startswith("gateway.yaml:8")
    assert "data_categroy" in problem


def test_a_subject_parameter_must_be_in_the_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kind: gateway\norganisation: voorbeeldstad\nroutes:\n"
        + GOOD_ROUTE.replace("{param: bsn", "{param: nummer"),
    )
    [problem] = problems(path)
    assert "routes[0].subject.param" in problem and "'nummer'" in problem


def test_a_token_hash_must_be_hex_and_used_once(tmp_path: Path) -> None:
    client = (
        "  - {id: a, token_sha256: %s, role: r, department: D}\n"
        "  - {id: b, token_sha256: %s, role: r, department: D}\n"
    )
    same = token_hash("x")
    path = write(
        tmp_path,
        "kind: gateway\norganisation: voorbeeldstad\nclients:\n"
        + client % (same, same)
        + "routes:\n"
        + GOOD_ROUTE,
    )
    assert any("clients[1].token_sha256" in p and "twice" in p for p in problems(path))
    path = write(
        tmp_path,
        "kind: gateway\norganisation: voorbeeldstad\nclients:\n"
        + client % ("secret", same)
        + "routes:\n"
        + GOOD_ROUTE,
    )
    assert any("clients[0].token_sha256" in p for p in problems(path))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    [problem] = problems(write(tmp_path, "kind: gateway\nroutes: [\n"))
    assert problem.startswith("gateway.yaml:") and "not valid YAML" in problem


def test_production_refuses_demo_clients(tmp_path: Path) -> None:
    settings = Settings(
        mode="production",
        database_url=f"sqlite:///{tmp_path / 'g.sqlite3'}",
        pseudonym_keys="k1:" + "QUJD" * 11,
    )
    with pytest.raises(GatewayConfigError, match="production"):
        create_gateway(settings, DEMO)
