"""Production mode refuses what only makes sense for a demo: public keys and tokens, the
development logins, the embedded database. The operator gets a plain message, not a trace."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glazenstad.cli import main
from glazenstad.logbook.pseudonym import DEMO_KEYS
from glazenstad.settings import Settings, get_settings
from glazenstad.web.app import create_app
from tests.conftest import ROOT, TEST_SYSTEMS, demo_system_token, staff_token

OWN_KEY = "k1:" + base64.b64encode(b"a production secret of 32 bytes!").decode()


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("GLAZENSTAD_STAFF_DIRECTORY", "GLAZENSTAD_SYSTEM_CLIENTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GLAZENSTAD_MODE", "production")
    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite3'}")
    monkeypatch.setenv("GLAZENSTAD_PSEUDONYM_KEYS", OWN_KEY)
    monkeypatch.chdir(tmp_path)  # no .env file of the checkout
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _refusal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setattr("sys.argv", ["glazenstad", "db", "migrate"])
    get_settings.cache_clear()
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    message = capsys.readouterr().err
    assert message.startswith("Configuration error:")
    assert "Traceback" not in message
    return message


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("GLAZENSTAD_DATABASE_URL", "", "GLAZENSTAD_DATABASE_URL"),
        ("GLAZENSTAD_PSEUDONYM_KEYS", "", "GLAZENSTAD_PSEUDONYM_KEYS"),
        ("GLAZENSTAD_PSEUDONYM_KEYS", "demo", "demo key is public"),
    ],
)
def test_production_refuses_demo_settings(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    named: str,
) -> None:
    monkeypatch.setenv(variable, DEMO_KEYS if value == "demo" else value)
    assert named in _refusal(monkeypatch, capsys)


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    ("variable", "file"),
    [
        ("GLAZENSTAD_STAFF_DIRECTORY", ROOT / "demo" / "staff.yaml"),
        ("GLAZENSTAD_SYSTEM_CLIENTS", ROOT / "demo" / "systems.yaml"),
    ],
)
def test_production_refuses_files_with_public_tokens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, file: Path
) -> None:
    monkeypatch.setenv(variable, str(file))
    with socket.socket() as taken:  # should the refusal fail, serving fails at once, not hangs
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        monkeypatch.setattr("sys.argv", ["glazenstad", "serve", "--port", port])
        get_settings.cache_clear()
        with pytest.raises(SystemExit) as exited:
            main()
    assert exited.value.code == 2
    message = capsys.readouterr().err
    assert "refused in production mode" in message and "Traceback" not in message


def test_production_has_no_development_logins_and_no_demo_tokens(tmp_path: Path) -> None:
    settings = Settings(
        mode="production",
        database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}",
        pseudonym_keys=OWN_KEY,  # type: ignore[arg-type]
        system_clients=TEST_SYSTEMS,
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/inloggen").status_code == 404
        assert client.post("/inloggen", data={"bsn": "999993653"}).status_code == 404
        assert client.get("/medewerkers/inloggen").status_code == 404
        assert client.post("/medewerkers/inloggen", data={"medewerker": "fg"}).status_code == 404
        staff_route = "/api/v1/organisations/voorbeeldstad/compliance"
        assert client.get(staff_route, headers=staff_token("fg")).status_code == 401
        decide = client.post("/api/v1/decisions", json={}, headers=demo_system_token())
        assert decide.status_code == 401
        # The installation's own clients still work.
        own = client.post(
            "/api/v1/decisions", json={}, headers={"Authorization": "Bearer test-system-teststad"}
        )
        assert own.status_code == 400  # past authentication: the empty body is refused
