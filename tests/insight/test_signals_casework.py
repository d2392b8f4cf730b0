"""From the caseworker application to a signal: a denial at the gateway becomes a signal.

The Wmo consultant works her case through the real demo gateway; where the gateway refuses
(403 with a decision id), the application offers the signal form for that decision, and the
signal filed with that id is about the rule that refused, for the owner who answers for it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from glazenstad.execution.casework import SIGNAL_FORM, demo_cases, run_scenario
from glazenstad.execution.gateway import load_gateway_config
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import login_staff, staff_token
from tests.gateway.conftest import DEMO_GATEWAY, Demo, demo  # noqa: F401  (the fixture)

PORTAL = "https://glazenstad.voorbeeldstad.example"


def test_a_denied_step_offers_a_signal_about_its_rule(
    demo: Demo,  # noqa: F811
    database_url: str,
    tmp_path: Path,
) -> None:
    client = load_gateway_config(DEMO_GATEWAY).client("demo-wmo-consulent")
    assert client is not None
    case = demo_cases(demo.population, client.case_assignments)[0]
    steps = list(run_scenario(demo.url, case))
    colleague = steps[4]  # a colleague's file: refused by "alleen-eigen-dossier"
    assert colleague.status == 403 and "alleen-eigen-dossier" in colleague.rules
    link = colleague.signal_link(PORTAL + "/")
    assert link == f"{PORTAL}{SIGNAL_FORM}?besluit={colleague.decision_id}"
    assert all(s.signal_link(PORTAL) is None for s in steps if s.permitted)
    assert all(s.signal_link(PORTAL) for s in steps if s.status == 403)

    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, mode="demo"))
    with TestClient(app) as api:
        filed = api.post(
            "/api/v1/organisations/voorbeeldstad/signals",
            json={
                "decisionId": colleague.decision_id,
                "text": "Mijn collega is ziek en haar cliënt heeft vandaag hulp nodig.",
            },
            headers=staff_token("wmo-consulent"),
        )
        assert filed.status_code == 201, filed.text
        signal = filed.json()
        assert signal["ruleId"] == "alleen-eigen-dossier"
        assert signal["owner"] == "Afdeling Sociaal Domein"
        assert signal["purpose"] == "wmo-maatwerkvoorziening"
        # The portal form shows the same denial, for the consultant to file from.
        login_staff(api, "klantmanager")
        form = api.get(link.removeprefix(PORTAL))
        assert form.status_code == 200
        assert "Een consulent opent alleen dossiers waaraan hij is toegewezen" in form.text
