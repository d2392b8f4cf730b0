"""Early signals of payment arrears from housing, energy, water and health-insurance creditors.

A signal names the resident and address as the creditor reported them, the arrears amount and
the months behind: the data an early-intervention worker may see and a parking officer may not.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from glazenstad.sources.responses import bsn_endpoint
from glazenstad.sources.synthetic import Population

PREFIX = "/vroegsignalering/v1"


def routes(population: Population) -> list[BaseRoute]:
    signalen = bsn_endpoint(
        population.signalen,
        "signalen",
        "Geen signalen van betalingsachterstanden op dit burgerservicenummer.",
    )
    return [Route("/signalen/{burgerservicenummer}", signalen, methods=["GET"])]
