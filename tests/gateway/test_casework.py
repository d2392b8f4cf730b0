"""The social-domain scenario through the demo gateway and sources, step by step."""

from __future__ import annotations

from glazenstad.execution.casework import CaseworkLoad, demo_cases, run_scenario
from glazenstad.execution.gateway import load_gateway_config
from tests.gateway.conftest import DEMO_GATEWAY, Demo


def cases(demo: Demo) -> list:  # type: ignore[type-arg]
    client = load_gateway_config(DEMO_GATEWAY).client("demo-wmo-consulent")
    assert client is not None
    return demo_cases(demo.population, client.case_assignments)


def test_the_scenario_shows_permits_obligations_denials_and_break_the_glass(demo: Demo) -> None:
    case = cases(demo)[0]
    steps = list(run_scenario(demo.url, case))
    assert [s.status for s in steps] == [200, 403, 403, 200, 403, 200, 200]
    own, signals, unlinked, linked, colleague, glass, debt = steps
    assert own.withheld == ("justitieleAntecedenten",)  # not a Wmo data category
    assert "vroegsignalen-alleen-voor-schuldhulp" in signals.rules
    assert signals.explanation and "schulden" in signals.explanation
    assert "integrale-aanpak-niet-zonder-toestemming" in unlinked.rules
    assert linked.decision_id and not linked.explanation
    assert "alleen-eigen-dossier" in colleague.rules
    assert glass.decision_id and glass.decision_id != colleague.decision_id
    assert debt.items >= 1
    # The signals feed does not list the BSN as a category: it is withheld from the answer.
    assert debt.withheld == ("burgerservicenummer",)
    assert all(s.decision_id for s in steps)


def test_the_load_drives_the_gateway_at_a_rate(demo: Demo) -> None:
    seen: list[tuple[int, int]] = []
    result = CaseworkLoad(demo.url, cases(demo), seed=3).run(
        rate=200, duration=0.1, progress=lambda done, total: seen.append((done, total))
    )
    assert result.requests == 20
    assert seen[-1] == (20, 20)
    assert set(result.by_status) <= {200, 403}
    assert sum(result.by_status.values()) == 20
