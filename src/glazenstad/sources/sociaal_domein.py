"""Case files of the social domain (Wmo 2015 and Jeugdwet), per client.

Answers carry what a gateway must not pass on to every asker: health notes, a flag for
criminal records, and for a child's youth-care file the parents who hold custody.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from glazenstad.sources.responses import bsn_endpoint
from glazenstad.sources.synthetic import Population

PREFIX = "/sociaal-domein/v1"


def routes(population: Population) -> list[BaseRoute]:
    dossiers = bsn_endpoint(
        population.dossiers,
        "dossiers",
        "Geen cliënt met dit burgerservicenummer in het zaaksysteem sociaal domein.",
    )
    return [Route("/clienten/{burgerservicenummer}/dossiers", dossiers, methods=["GET"])]
