"""What the contract modules share: the demo installation they run against, and its tokens.

`CREDENTIALS` is the one place that says which bearer token the contract sends for each
security scheme of the OpenAPI document.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import DEMO_REGISTER, ROOT, demo_system_token, staff_token

ORGANISATION = "voorbeeldstad"
CREDENTIALS: dict[str, str] = {
    "staffToken": staff_token("fg")["Authorization"].removeprefix("Bearer "),
    "systemToken": demo_system_token(ORGANISATION)["Authorization"].removeprefix("Bearer "),
}
"""Bearer token per security scheme. The demo privacy officer ("fg") holds every staff
permission (demo/staff.yaml); the demo system client of Voorbeeldstad every scope."""

OPENAPI = "/api/v1/openapi.json"
UNLIMITED = {"rate_limit_login": "100000/minute", "rate_limit_search": "100000/minute"}
"""Thousands of generated requests come from one address: the rate limits (tested on their
own) would answer 429 long before the contract is covered."""


def contract_app() -> FastAPI:
    """The demo municipality in a fresh SQLite database: register in force, policies active."""
    data = Path(tempfile.mkdtemp(prefix="glazenstad-contract-"))
    url = f"sqlite:///{data / 'contract.sqlite3'}"
    app = create_app(Settings(database_url=url, data_dir=data, **UNLIMITED))
    engine = make_engine(url)
    load_register(engine, DEMO_REGISTER, loaded_by="informatiemanager", approved_by="fg")
    store = PolicyStore(engine)
    for loaded in parse_policies(ROOT / "demo" / "policies").policies:
        version, _ = store.save(loaded.policy, by="informatiemanager")
        store.activate(version.organisation_id, version.content_hash, by="fg")
    engine.dispose()
    return app


def secured(operation: Any) -> bool:
    """Whether an operation asks for a token (a `security` requirement in the document)."""
    return bool(operation.definition.raw.get("security"))
