"""Typed settings from the environment.

Every setting has a safe default for the embedded demo, so that `glazenstad demo` works on a fresh
machine; production mode refuses what only makes sense for a demo.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings read from `GLAZENSTAD_*` environment variables (and a `.env` file if present)."""

    model_config = SettingsConfigDict(env_prefix="GLAZENSTAD_", env_file=".env", extra="ignore")

    mode: Literal["demo", "development", "production"] = Field(
        default="demo", description="demo and development allow demo data; production is strict."
    )
    data_dir: Path = Field(
        default=Path("data"), description="Directory for the embedded SQLite database and files."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. "
        "Empty means SQLite at <data_dir>/glazenstad.sqlite3.",
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `serve` listens on.")
    public_url: str | None = Field(
        default=None, description="Base URL the public sees; defaults to http://host:port."
    )

    @model_validator(mode="after")
    def _production_is_strict(self) -> Settings:
        if self.mode == "production" and not self.database_url:
            raise ValueError(
                "GLAZENSTAD_DATABASE_URL must be set in production mode "
                "(the embedded SQLite database is for demo and development)"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        """The database URL in force: the configured one or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'glazenstad.sqlite3').resolve()}"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
