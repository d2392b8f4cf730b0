"""Benefits under the Participatiewet (bijstand, bijzondere bijstand, inkomenstoeslag).

Answers carry income, assets, an IBAN and, for a medical exemption from work obligations,
the medical reason: fields a gateway masks for most purposes.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from glazenstad.sources.responses import bsn_endpoint
from glazenstad.sources.synthetic import Population

PREFIX = "/werk-inkomen/v1"


def routes(population: Population) -> list[BaseRoute]:
    uitkeringen = bsn_endpoint(
        population.uitkeringen,
        "uitkeringen",
        "Geen uitkering op dit burgerservicenummer in de uitkeringsadministratie.",
    )
    return [Route("/uitkeringen/{burgerservicenummer}", uitkeringen, methods=["GET"])]
