"""Contract: the signals API answers as its OpenAPI says, also for a logged-in member of staff.

The shared contract test calls every operation without a token (so signals only ever answer
401 there); this one calls the signal operations as the demo's privacy officer, who may file
and triage, over the demo municipality with real denials in the decision log.

A request can match the schema and still be refused with 400: a decision id of the right shape
that is not in the decision log, a text with a BSN in it. The API answers those as every bad
input, 400 with `invalidParams`, so the check "schema-valid data is accepted" is left out.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from glazenstad.db.engine import make_engine
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import staff_token
from tests.insight.test_signals_setup import demo_decisions

_DATA = Path(tempfile.mkdtemp(prefix="glazenstad-signals-contract-"))
_URL = f"sqlite:///{_DATA / 'contract.sqlite3'}"
app = create_app(Settings(database_url=_URL, data_dir=_DATA, mode="demo"))
_engine = make_engine(_URL)
demo_decisions(_engine)
_engine.dispose()
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


@schema.include(path_regex="signal").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_signals_api_matches_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=staff_token("fg"), excluded_checks=[positive_data_acceptance])
