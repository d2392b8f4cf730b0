"""Settings: safe defaults for the demo, strictness in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from glazenstad.settings import Settings


def test_default_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'glazenstad.sqlite3'}"
    assert settings.effective_public_url == "http://127.0.0.1:8000"


OWN_KEY = "k1:" + "b3duLWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU2Nzg5MDEy"


def test_production_requires_a_database_url() -> None:
    with pytest.raises(ValidationError, match="GLAZENSTAD_DATABASE_URL must be set"):
        Settings(mode="production", pseudonym_keys=OWN_KEY)  # type: ignore[arg-type]
    production = Settings(
        mode="production",
        database_url="postgresql://x@y/z",
        pseudonym_keys=OWN_KEY,  # type: ignore[arg-type]
    )
    assert production.mode == "production"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLAZENSTAD_PORT", "9001")
    monkeypatch.setenv("GLAZENSTAD_PUBLIC_URL", "https://register.example.nl/")
    settings = Settings()
    assert settings.port == 9001
    assert settings.effective_public_url == "https://register.example.nl"
