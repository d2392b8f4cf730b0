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


def _loopback(url: str) -> bool:
    """An http URL that never leaves this machine (RFC 8252 section 8.3)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")


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
    database_read_url: str | None = Field(
        default=None,
        description="PostgreSQL streaming replica for residents' reads of their own processings "
        "(docs/replica.md), e.g. postgresql+psycopg://user@replica/db. Empty means every read "
        "goes to GLAZENSTAD_DATABASE_URL.",
    )
    database_read_lag_notice_s: float = Field(
        default=5.0,
        ge=0,
        description="Residents are told how old their data may be (header Data-Lag-Seconds, a "
        "line on the page) when the replica is further behind than this many seconds.",
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
    system_clients: Path | None = Field(
        default=None,
        description="System clients file (applications, gateway, pipelines: organisation, "
        "scopes, token hashes). Empty means the demo file outside production; production then "
        "accepts only OAuth2 access tokens.",
    )
    max_request_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted (bytes); larger ones get 413.",
    )
    rate_limit_login: str = Field(
        default="10/minute", description="Login attempts per client address, e.g. '10/minute'."
    )
    rate_limit_search: str = Field(
        default="120/minute", description="Free-text searches (q=) per client address."
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live: memory:// (this process) or redis://host "
        "(shared by several server processes).",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="MQTT broker for scan cars and sensors, e.g. mqtt://127.0.0.1:1883. "
        "Empty means the embedded default: simulators feed the pipelines in process.",
    )
    rules_refresh_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often a serve node asks the database whether the active policies or the "
        "register changed (a change announced on NATS is applied at once).",
    )
    # --- NATS JetStream ingest queue (docs/scaling.md); empty keeps the single-process path
    nats_url: str | None = Field(
        default=None,
        description="NATS server(s) with JetStream, e.g. nats://127.0.0.1:4222 (comma-separated "
        "for a cluster). Set: log records are acknowledged once JetStream stored them and "
        "`glazenstad logbook writer` writes them. Empty: written and committed in process.",
    )
    nats_logbook_stream: str = Field(
        default="GLAZENSTAD_LOGBOOK", description="JetStream stream of queued log record batches."
    )
    nats_logbook_subject: str = Field(
        default="glazenstad.logbook",
        description="Subject prefix of queued batches; a batch goes to <prefix>.<organisation>.",
    )
    nats_logbook_consumer: str = Field(
        default="logbook-writer",
        description="Durable pull consumer the logbook writers share.",
    )
    nats_replicas: int = Field(
        default=1, ge=1, le=5, description="Stream replicas: 3 in a three-node NATS cluster."
    )
    nats_decisions_stream: str | None = Field(
        default=None,
        description="JetStream stream for decision-log entries. Set (with nats_url): a decision "
        "is answered once JetStream stored it and `glazenstad logbook writer` writes it. Empty: "
        "answered once committed to the decision log in process.",
    )
    nats_decisions_subject: str = Field(
        default="glazenstad.decisions",
        description="Subject prefix of queued decisions; they go to <prefix>.<organisation>.",
    )
    nats_decisions_consumer: str = Field(
        default="decision-writer", description="Durable pull consumer the decision writers share."
    )
    nats_events_subject: str = Field(
        default="glazenstad.events",
        description="Subject prefix of change announcements: a policy activated or a register "
        "load approved is announced on <prefix>.rules and every serve node recompiles at once.",
    )
    nats_ack_wait: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a writer has to commit and acknowledge a batch before JetStream "
        "delivers it again.",
    )
    nats_execution_stream: str = Field(
        default="GLAZENSTAD_EXECUTION",
        description="JetStream stream of scan and sensor messages (`glazenstad pipeline bridge`).",
    )
    nats_execution_subject: str = Field(
        default="glazenstad.execution",
        description="Subject prefix of bridged messages: <prefix>.scans|sensors.<organisation>.",
    )
    nats_execution_parking_consumer: str = Field(
        default="parking-pipeline",
        description="Durable consumer the scan pipelines share (`pipeline parking "
        "--from-jetstream`).",
    )
    nats_execution_sensor_consumer: str = Field(
        default="sensor-pipeline",
        description="Durable consumer the sensor pipelines share (`pipeline sensors "
        "--from-jetstream`).",
    )
    nats_execution_keys: SecretStr | None = Field(
        default=None,
        description="AES-256 keys that seal scan and sensor payloads in JetStream: "
        "'kid:base64key,...' (32-byte keys), the first seals, all open. Required for the bridge "
        "and the feeds: scan payloads carry licence plates.",
    )

    # --- OpenID Connect (docs/login.md); with none of these set, the demo logins stay as they are
    staff_oidc_issuer: str | None = Field(
        default=None,
        description="Issuer URL of the municipality's identity provider for staff single "
        "sign-on (Microsoft Entra ID, Keycloak, ...). Empty means no single sign-on.",
    )
    staff_oidc_client_id: str | None = Field(
        default=None, description="Client id of Glazen Stad at the staff identity provider."
    )
    staff_oidc_client_secret: SecretStr | None = Field(
        default=None, description="Client secret at the staff identity provider."
    )
    staff_oidc_scopes: str = Field(
        default="openid profile", description="Scopes asked of the staff identity provider."
    )
    staff_oidc_id_claim: str = Field(
        default="preferred_username",
        description="Claim that becomes the staff id shown in audit trails ('sub' if absent).",
    )
    staff_oidc_role_claim: str = Field(
        default="roles",
        description="Claim with the user's roles or groups; dots reach into objects "
        "(Keycloak: realm_access.roles).",
    )
    staff_oidc_department_claim: str = Field(
        default="department", description="Claim with the user's department."
    )
    staff_oidc_role_map: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="JSON: role-claim value -> a role (or list of roles) of the staff "
        'directory, e.g. {"GS-Privacy": "informatiemanager"}. Unmapped values grant nothing.',
    )
    staff_oidc_organisation: str | None = Field(
        default=None, description="Organisation id of every member of staff who signs in."
    )
    staff_oidc_organisation_claim: str | None = Field(
        default=None,
        description="Claim with the organisation id, for an installation serving several.",
    )
    resident_oidc_issuer: str | None = Field(
        default=None,
        description="Issuer URL of the OpenID Connect broker that authenticates residents "
        "(DigiD) and asserts their BSN. Empty means no resident login outside demo mode.",
    )
    resident_oidc_client_id: str | None = Field(
        default=None, description="Client id of Glazen Stad at the resident broker."
    )
    resident_oidc_client_secret: SecretStr | None = Field(
        default=None, description="Client secret at the resident broker."
    )
    resident_oidc_scopes: str = Field(
        default="openid", description="Scopes asked of the resident broker."
    )
    resident_oidc_bsn_claim: str = Field(
        default="bsn", description="Claim in which the broker asserts the BSN."
    )
    resident_oidc_organisation: str | None = Field(
        default=None,
        description="Organisation id residents sign in to; empty lets them choose.",
    )
    system_oidc_issuer: str | None = Field(
        default=None,
        description="Issuer URL of the authorization server that gives systems "
        "client-credentials access tokens.",
    )
    system_oidc_audience: str | None = Field(
        default=None, description="Audience (aud) that system access tokens must name."
    )
    system_oidc_organisation_claim: str = Field(
        default="organisation",
        description="Claim of a system access token that names its organisation.",
    )
    system_oidc_organisation: str | None = Field(
        default=None,
        description="Organisation of system access tokens that name none (an installation of "
        "one municipality).",
    )

    @model_validator(mode="after")
    def _oidc_is_complete(self) -> Settings:
        for kind in ("staff", "resident"):
            issuer = getattr(self, f"{kind}_oidc_issuer")
            if issuer and not getattr(self, f"{kind}_oidc_client_id"):
                prefix = f"GLAZENSTAD_{kind.upper()}_OIDC"
                raise ValueError(f"{prefix}_CLIENT_ID must be set with {prefix}_ISSUER")
        if self.staff_oidc_issuer and not (
            self.staff_oidc_organisation or self.staff_oidc_organisation_claim
        ):
            raise ValueError(
                "GLAZENSTAD_STAFF_OIDC_ORGANISATION or GLAZENSTAD_STAFF_OIDC_ORGANISATION_CLAIM "
                "must be set with GLAZENSTAD_STAFF_OIDC_ISSUER (staff belong to an organisation)"
            )
        if bool(self.system_oidc_issuer) != bool(self.system_oidc_audience):
            raise ValueError(
                "GLAZENSTAD_SYSTEM_OIDC_ISSUER and GLAZENSTAD_SYSTEM_OIDC_AUDIENCE go together"
            )
        if self.mode == "production":
            for name in ("staff_oidc_issuer", "resident_oidc_issuer", "system_oidc_issuer"):
                value = getattr(self, name)
                if value and not (value.startswith("https://") or _loopback(value)):
                    raise ValueError(
                        f"GLAZENSTAD_{name.upper()} must be an https:// URL in production mode "
                        "(plain http only to a provider on this machine's loopback address)"
                    )
            if (self.staff_oidc_issuer or self.resident_oidc_issuer) and not (
                self.public_url and self.public_url.startswith("https://")
            ):
                raise ValueError(
                    "GLAZENSTAD_PUBLIC_URL must be an https:// URL in production mode when "
                    "single sign-on is configured (the provider sends users back to it)"
                )
        return self

    @model_validator(mode="after")
    def _read_replica_is_postgres(self) -> Settings:
        if not self.database_read_url:
            return self
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            read_backend = make_url(self.database_read_url).get_backend_name()
            primary_backend = make_url(self.effective_database_url).get_backend_name()
        except ArgumentError:
            raise ValueError(
                "GLAZENSTAD_DATABASE_READ_URL and GLAZENSTAD_DATABASE_URL must be database URLs "
                "(e.g. postgresql+psycopg://user@replica/db)"
            ) from None
        if read_backend != "postgresql":
            raise ValueError(
                "GLAZENSTAD_DATABASE_READ_URL must be a PostgreSQL streaming replica "
                f"(postgresql://...), not {read_backend}"
            )
        if primary_backend != "postgresql":
            raise ValueError(
                "GLAZENSTAD_DATABASE_READ_URL needs a PostgreSQL primary in "
                "GLAZENSTAD_DATABASE_URL (an SQLite database has no replicas)"
            )
        return self

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
