"""One ASGI app serving every demo source system of Voorbeeldstad, each under its own prefix.

The services are small on purpose: plain Starlette routes, answers encoded once by msgspec and
kept, no middleware, and no access log, because every request path holds a BSN or a plate.
What the gateway adds per request is then what a benchmark through it measures.
"""

from __future__ import annotations

import gc
from typing import Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from glazenstad.sources import brp, parkeerrechten, sociaal_domein, vroegsignalering, werk_inkomen
from glazenstad.sources.parkeerrechten import ParkingRights
from glazenstad.sources.responses import encode, http_exception, json_response
from glazenstad.sources.synthetic import (
    DEFAULT_PERSONS,
    DEFAULT_RIGHTS_SHARE,
    DEFAULT_SEED,
    DEFAULT_VEHICLES,
    Population,
    generate,
)

DEFAULT_PORT: Final = 8100

SERVICES: Final[tuple[tuple[str, str], ...]] = (
    (brp.PREFIX, "Personen (BRP-achtig): /personen/{burgerservicenummer}"),
    (parkeerrechten.PREFIX, "Parkeerrechten per kenteken: /rechten/{kenteken}, /controles, /zones"),
    (sociaal_domein.PREFIX, "Dossiers Wmo en Jeugd: /clienten/{burgerservicenummer}/dossiers"),
    (werk_inkomen.PREFIX, "Uitkeringen Participatiewet: /uitkeringen/{burgerservicenummer}"),
    (vroegsignalering.PREFIX, "Signalen betalingsachterstanden: /signalen/{burgerservicenummer}"),
)

# Register dataset id (demo/register/voorbeeldstad/datasets.yaml) → the prefix serving it here.
DATASETS: Final[dict[str, str]] = {
    "brp": brp.PREFIX,
    "npr-parkeerrechten": parkeerrechten.PREFIX,
    "sociaal-domein-zaaksysteem": sociaal_domein.PREFIX,
    "werk-inkomen-suite": werk_inkomen.PREFIX,
    "vroegsignalering-feed": vroegsignalering.PREFIX,
}


def upstreams(base_url: str = f"http://127.0.0.1:{DEFAULT_PORT}") -> dict[str, str]:
    """Dataset id → URL of its demo source under `base_url`, for the gateway's `upstreams`.

    The register's `api_url`s name the municipality's real hosts; a local demo points the
    gateway here instead.
    """
    base = base_url.rstrip("/")
    return {dataset: base + prefix for dataset, prefix in DATASETS.items()}


def create_sources_app(
    seed: int = DEFAULT_SEED,
    persons: int = DEFAULT_PERSONS,
    *,
    vehicles: int = DEFAULT_VEHICLES,
    rights_share: float = DEFAULT_RIGHTS_SHARE,
    population: Population | None = None,
) -> Starlette:
    """The demo sources for `seed`, generated now; pass `population` to serve one already made.

    `app.state.population` and `app.state.parking` (a `ParkingRights`) expose the data served,
    so a test or simulator in the same process can pick subjects that exist.
    """
    if population is None:
        population = generate(seed, persons, vehicles=vehicles, rights_share=rights_share)
    parking = ParkingRights(population.parking)
    index_body = encode(
        {
            "naam": "Bronsystemen Gemeente Voorbeeldstad (demo, synthetische gegevens)",
            "seed": population.seed,
            "bronnen": [{"pad": prefix, "beschrijving": text} for prefix, text in SERVICES],
        }
    )

    async def index(request: Request) -> Response:
        return json_response(index_body)

    routes: list[BaseRoute] = [
        Route("/", index, methods=["GET"]),
        Mount(brp.PREFIX, routes=brp.routes(population)),
        Mount(parkeerrechten.PREFIX, routes=parkeerrechten.routes(parking)),
        Mount(sociaal_domein.PREFIX, routes=sociaal_domein.routes(population)),
        Mount(werk_inkomen.PREFIX, routes=werk_inkomen.routes(population)),
        Mount(vroegsignalering.PREFIX, routes=vroegsignalering.routes(population)),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_exception, Exception: http_exception},
    )
    app.state.population = population
    app.state.parking = parking
    return app


def serve_sources(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    seed: int = DEFAULT_SEED,
    persons: int = DEFAULT_PERSONS,
) -> None:
    """Run the demo sources with uvicorn until interrupted; no access log (paths hold BSNs)."""
    import uvicorn

    app = create_sources_app(seed, persons)
    # The generated data live as long as the process: keep them out of every collection.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False)
