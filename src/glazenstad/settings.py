"""Typed settings from the environment.

Every setting has a safe default for the embedded demo, so that `glazenstad demo` works on a fresh
machine; production mode refuses what only makes sense for a demo.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from glazenstad.logbook.pseudonym import Pseudonymizer


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
    pseudonym_keys: SecretStr | None = Field(
        default=None,
        description="Keys for data-subject pseudonyms: 'kid:base64secret,...', the first is "
        "current. Empty means the built-in demo key, which production mode refuses.",
    )
    public_url: str | None = Field(
        default=None, description="Base URL the public sees; defaults to http://host:port."
    )
    gateway_config: Path | None = Field(
        default=None,
        description="Gateway configuration (clients, routes). Empty means the demo "
        "configuration, which production mode refuses (its tokens are public).",
    )
    gateway_port: int = Field(default=8001, ge=1, le=65535, description="Port of `gateway`.")
    staff_directory: Path | None = Field(
        default=None,
        description="Staff directory (people, roles, permissions, API token hashes). Empty "
        "means the demo directory outside production; production then has no staff access.",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="MQTT broker for scan cars and sensors, e.g. mqtt://127.0.0.1:1883. "
        "Empty means the embedded default: simulators feed the pipelines in process.",
    )

    @model_validator(mode="after")
    def _production_is_strict(self) -> Settings:
        if self.mode == "production" and not self.database_url:
            raise ValueError(
                "GLAZENSTAD_DATABASE_URL must be set in production mode "
                "(the embedded SQLite database is for demo and development)"
            )
        if self.mode == "production":
            from glazenstad.logbook.pseudonym import is_demo_key, parse_keys

            keys = self.pseudonym_keys.get_secret_value() if self.pseudonym_keys else ""
            if not keys or any(is_demo_key(k) for k in parse_keys(keys)):
                raise ValueError(
                    "GLAZENSTAD_PSEUDONYM_KEYS must be set to keys of your own in production "
                    "mode (the demo key is public)"
                )
        return self

    def pseudonymizer(self) -> Pseudonymizer:
        """The pseudonym keys in force: the configured ones, or the demo key outside production."""
        from glazenstad.logbook.pseudonym import Pseudonymizer

        if self.pseudonym_keys:
            return Pseudonymizer.from_config(self.pseudonym_keys.get_secret_value())
        return Pseudonymizer.demo()

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
