"""The social-domain scenario: a caseworker works a case through the gateway.

A Wmo consultant opens the file of a resident she supports, looks for early signals of payment
arrears, and tries to bring in the resident's Participatiewet benefit — the daily "kan het of mag
het?" of integrated work. Each step goes through the real gateway, so each answer is the
rules' answer: a permit with what was withheld or pseudonymised, or a denial with the rule's
explanation; and, for a case that is not hers, break-the-glass with a written reason.

`run_scenario` is what `glazenstad casework` shows step by step; `CaseworkLoad` drives a mix of
these requests for `glazenstad simulate casework`.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from glazenstad.sources import Population

PURPOSE_WMO = "wmo-maatwerkvoorziening"
PURPOSE_DEBT = "vroegsignalering-betalingsachterstanden"
CONSULTANT_TOKEN = "demo-wmo-consulent"
DEBT_WORKER_TOKEN = "demo-schuldhulpverlener"


@dataclass(frozen=True)
class Step:
    """One request of the scenario and the gateway's answer to it."""

    title: str
    path: str
    headers: dict[str, str]
    status: int = 0
    decision_id: str | None = None
    explanation: str | None = None
    rules: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()
    pseudonymised: tuple[str, ...] = ()
    items: int = 0

    @property
    def permitted(self) -> bool:
        return 200 <= self.status < 300

    def signal_link(self, portal_url: str) -> str | None:
        """Where the caseworker tells the rule's owner that this denial blocks her work.

        Only a refusal (403) that names its decision: the signal is filed about that receipt.
        """
        if self.status != 403 or not self.decision_id:
            return None
        return f"{portal_url.rstrip('/')}{SIGNAL_FORM}?besluit={self.decision_id}"


SIGNAL_FORM = "/medewerkers/signalen/nieuw"
"""The staff portal's form for a signal about a denied decision (`?besluit=<decision id>`)."""


@dataclass(frozen=True)
class Case:
    """A resident (BSN, known only to the sources and this client) and her consultant's case."""

    bsn: str
    dossier: str
    other_dossier: str


def _headers(token: str, purpose: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Glazenstad-Purpose": purpose, **extra}


def scenario_steps(case: Case) -> list[Step]:
    """The requests of the scenario, in order; run them with `run_step`."""
    consultant = {"Glazenstad-Case-Id": case.dossier}
    return [
        Step(
            "Wmo-dossier openen van een eigen cliënt",
            f"/sociaal-domein-zaaksysteem/clienten/{case.bsn}/dossiers",
            _headers(CONSULTANT_TOKEN, PURPOSE_WMO, **consultant),
        ),
        Step(
            "Signalen over betalingsachterstanden opvragen voor de Wmo",
            f"/vroegsignalering-feed/signalen/{case.bsn}",
            _headers(CONSULTANT_TOKEN, PURPOSE_WMO, **consultant),
        ),
        Step(
            "Uitkering (Participatiewet) koppelen aan het zorgdossier, zonder toestemming",
            f"/werk-inkomen-suite/uitkeringen/{case.bsn}",
            _headers(
                CONSULTANT_TOKEN,
                PURPOSE_WMO,
                **consultant,
                **{"Glazenstad-Link-Dataset": "sociaal-domein-zaaksysteem"},
            ),
        ),
        Step(
            "Dezelfde koppeling, met toestemming van de inwoner en een reden",
            f"/werk-inkomen-suite/uitkeringen/{case.bsn}",
            _headers(
                CONSULTANT_TOKEN,
                PURPOSE_WMO,
                **consultant,
                **{
                    "Glazenstad-Link-Dataset": "sociaal-domein-zaaksysteem",
                    "Glazenstad-Consent": PURPOSE_WMO,
                    "Glazenstad-Justification": "Integrale aanpak: zorg en inkomen samen bekijken",
                },
            ),
        ),
        Step(
            "Dossier van een collega openen",
            f"/sociaal-domein-zaaksysteem/clienten/{case.bsn}/dossiers",
            _headers(CONSULTANT_TOKEN, PURPOSE_WMO, **{"Glazenstad-Case-Id": case.other_dossier}),
        ),
        Step(
            "Hetzelfde dossier in een noodsituatie (break-the-glass)",
            f"/sociaal-domein-zaaksysteem/clienten/{case.bsn}/dossiers",
            _headers(
                CONSULTANT_TOKEN,
                PURPOSE_WMO,
                **{
                    "Glazenstad-Case-Id": case.other_dossier,
                    "Glazenstad-Justification": "Collega ziek; inwoner zonder zorg dit weekend",
                },
            ),
        ),
        Step(
            "De schuldhulpverlener bekijkt de signalen (vroegsignalering)",
            f"/vroegsignalering-feed/signalen/{case.bsn}",
            _headers(DEBT_WORKER_TOKEN, PURPOSE_DEBT),
        ),
    ]


def _listed(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def run_step(client: httpx.Client, step: Step) -> Step:
    """`step` with the gateway's answer filled in."""
    answer = client.get(step.path, headers=step.headers)
    explanation = None
    rules: tuple[str, ...] = ()
    items = 0
    if answer.headers.get("content-type", "").startswith("application/problem+json"):
        problem = answer.json()
        explanation = str(problem.get("detail", ""))
        rules = tuple(problem.get("rules", ()))
    elif answer.status_code == 200:
        body = answer.json()
        items = len(body) if isinstance(body, list) else 1
    return Step(
        step.title,
        step.path,
        step.headers,
        status=answer.status_code,
        decision_id=answer.headers.get("glazenstad-decision-id"),
        explanation=explanation,
        rules=rules,
        withheld=_listed(answer.headers.get("glazenstad-withheld", "")),
        pseudonymised=_listed(answer.headers.get("glazenstad-pseudonymised", "")),
        items=items,
    )


def run_scenario(gateway_url: str, case: Case) -> Iterator[Step]:
    """Run the scenario against a gateway, yielding each step as answered."""
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        for step in scenario_steps(case):
            yield run_step(client, step)


def demo_cases(population: Population, assignments: list[str]) -> list[Case]:
    """The consultant's cases in the demo sources, each with a colleague's dossier beside it."""
    assigned = set(assignments)
    others = [
        d.dossiernummer
        for files in population.dossiers.values()
        for d in files
        if d.dossiernummer not in assigned
    ]
    if not others:
        raise ValueError("the demo sources hold no dossier outside the assignments")
    return [
        Case(bsn, d.dossiernummer, others[0])
        for bsn, files in population.dossiers.items()
        for d in files
        if d.dossiernummer in assigned
    ]


@dataclass
class LoadResult:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0


class CaseworkLoad:
    """A steady stream of scenario steps for many residents, at a given rate."""

    def __init__(self, gateway_url: str, cases: list[Case], *, seed: int = 0) -> None:
        if not cases:
            raise ValueError("no cases to work on")
        self.gateway_url = gateway_url
        self.cases = cases
        self.rng = random.Random(seed)

    def run(
        self,
        rate: float,
        duration: float,
        progress: Callable[[int, int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> LoadResult:
        """Send `rate` requests per second for `duration` seconds (paced, not bursted)."""
        total = max(1, int(rate * duration))
        result = LoadResult()
        started = clock()
        with httpx.Client(base_url=self.gateway_url, timeout=30) as client:
            for n in range(total):
                due = started + n / rate
                wait = due - clock()
                if wait > 0:
                    sleep(wait)
                case = self.rng.choice(self.cases)
                step = self.rng.choice(scenario_steps(case))
                answered = run_step(client, step)
                result.requests += 1
                result.by_status[answered.status] += 1
                if progress is not None:
                    progress(n + 1, total)
        result.seconds = clock() - started
        return result
