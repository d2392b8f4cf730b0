"""BRP-like person lookup (after Haal Centraal BRP Personen bevragen, much simplified).

One person per request, by BSN in the path, with partner, parents and children named by BSN
too: the gateway has to find and log every person in an answer, not only the one asked for.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from glazenstad.sources.responses import bsn_endpoint
from glazenstad.sources.synthetic import Population

PREFIX = "/brp/v2"


def routes(population: Population) -> list[BaseRoute]:
    persoon = bsn_endpoint(
        population.persons, None, "Geen persoon met dit burgerservicenummer in de BRP."
    )
    return [Route("/personen/{burgerservicenummer}", persoon, methods=["GET"])]
