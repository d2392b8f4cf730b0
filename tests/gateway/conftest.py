"""A source API, the demo municipality's register and policy, and a gateway in front.

The source is a small Starlette app served over real HTTP; it remembers the headers it
received, so tests can see what the gateway forwarded (trace context, no caller token).
Decisions are made as of a Wednesday at 10:00 in Voorbeeldstad, inside office hours.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from glazenstad.db.engine import make_engine, migrate
from glazenstad.execution.gateway import Gateway, create_gateway
from glazenstad.execution.gateway.config import token_hash
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore
from glazenstad.settings import Settings
from glazenstad.sources import Population, create_sources_app, upstreams
from tests.conftest import DEMO_REGISTER, ROOT, serving
from tests.logbook.conftest import KEY_2026

DEMO_POLICIES = ROOT / "demo" / "policies"
ORG = "voorbeeldstad"
# Wednesday 25 November 2026, 10:00 in Amsterdam.
OFFICE_HOURS = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).timestamp()
BSN_A = "999990019"
BSN_B = "999990020"
TOKENS = {
    "burgerzaken": "test-token-burgerzaken",
    "verstrekking": "test-token-verstrekking",
    "handhaver": "test-token-handhaver",
    "consulent": "test-token-consulent",
}


def person(bsn: str) -> dict[str, Any]:
    return {
        "burgerservicenummer": bsn,
        "naam": {"voornamen": "Anna", "geslachtsnaam": "Jansen"},
        "verblijfplaats": {"straat": "Kerkstraat", "huisnummer": 1},
        "nationaliteit": "Nederlandse",
        "verblijfstitel": None,
        "eerdereAdressen": [{"straat": "Dorpsweg", "huisnummer": 2}],
    }


@dataclass
class Source:
    url: str
    seen: list[dict[str, str]] = field(default_factory=list)


def source_app(seen: list[dict[str, str]]) -> Starlette:
    def remember(request: Request) -> None:
        seen.append(dict(request.headers))

    async def one(request: Request) -> Response:
        remember(request)
        return JSONResponse(person(request.path_params["bsn"]))

    async def search(request: Request) -> Response:
        remember(request)
        return JSONResponse({"personen": [person(BSN_A), person(BSN_B)]})

    async def dossiers(request: Request) -> Response:
        remember(request)
        bsn = request.path_params["bsn"]
        return JSONResponse(
            {
                "burgerservicenummer": bsn,
                "dossiers": [
                    {
                        "zaakId": "z-1",
                        "gezondheidsnotities": "Rolstoel nodig",
                        "strafrechtelijkeGegevens": "geen",
                    }
                ],
            }
        )

    async def text(request: Request) -> Response:
        remember(request)
        return PlainTextResponse(f"persoon {request.path_params['bsn']}")

    async def compressed(request: Request) -> Response:
        remember(request)
        body = gzip.compress(json.dumps(person(request.path_params["bsn"])).encode())
        return Response(body, media_type="application/json", headers={"content-encoding": "gzip"})

    async def write(request: Request) -> Response:
        remember(request)
        body = await request.json()
        return JSONResponse({"ontvangen": body}, status_code=201)

    return Starlette(
        routes=[
            Route("/personen/{bsn}", one),
            Route("/personen", search),
            Route("/teksten/{bsn}", text),
            Route("/gezipt/{bsn}", compressed),
            Route("/clienten/{bsn}/dossiers", dossiers),
            Route("/clienten/{bsn}/notities", write, methods=["POST"]),
        ]
    )


@pytest.fixture
def source() -> Iterator[Source]:
    seen: list[dict[str, str]] = []
    with serving(source_app(seen)) as url:
        yield Source(url, seen)


def gateway_yaml(upstream: str) -> str:
    clients = {
        "burgerzaken": ("medewerker-burgerzaken", "Burgerzaken", "intern", []),
        "verstrekking": ("medewerker-burgerzaken", "Burgerzaken", "intern", []),
        "handhaver": ("parkeerhandhaver", "Parkeren", "intern", []),
        "consulent": ("wmo-consulent", "Sociaal Domein", "intern", ["z-1"]),
    }
    lines = [
        "kind: gateway",
        f"organisation: {ORG}",
        "upstreams:",
        f"  brp: {upstream}",
        f"  sociaal-domein-zaaksysteem: {upstream}",
        "clients:",
    ]
    for name, (role, department, channel, cases) in clients.items():
        lines += [
            f"  - id: {name}",
            f"    token_sha256: {token_hash(TOKENS[name])}",
            f"    role: {role}",
            f"    department: {department}",
            f"    channel: {channel}",
            f"    case_assignments: {json.dumps(cases)}",
        ]
    lines += [
        "routes:",
        "  - dataset: brp",
        "    path: /personen/{bsn}",
        "    data_category: brp-persoonsgegevens",
        "    subject: {param: bsn, type: BSN, category: bsn}",
        "    fields: {burgerservicenummer: bsn, naam: naw, verblijfplaats: naw}",
        "  - dataset: brp",
        "    path: /verstrekkingen/personen/{bsn}",
        "    upstream_path: /personen/{bsn}",
        "    action: share",
        "    data_category: brp-persoonsgegevens",
        "    subject: {param: bsn, type: BSN, category: bsn}",
        "    fields: {burgerservicenummer: bsn, naam: naw, verblijfplaats: naw}",
        "  - dataset: brp",
        "    path: /personen",
        "    data_category: naw",
        "    subject: {field: burgerservicenummer, type: BSN}",
        "  - dataset: brp",
        "    path: /teksten/{bsn}",
        "    action: share",
        "    data_category: brp-persoonsgegevens",
        "    subject: {param: bsn, type: BSN, category: bsn}",
        "  - dataset: brp",
        "    path: /gezipt/{bsn}",
        "    data_category: brp-persoonsgegevens",
        "    subject: {param: bsn, type: BSN, category: bsn}",
        "  - dataset: sociaal-domein-zaaksysteem",
        "    path: /clienten/{bsn}/dossiers",
        "    data_category: huishoudsituatie",
        "    subject: {param: bsn, type: BSN, category: bsn}",
        "    fields: {gezondheidsnotities: gezondheidsgegevens,"
        " strafrechtelijkeGegevens: strafrechtelijke-gegevens}",
        "  - dataset: sociaal-domein-zaaksysteem",
        "    path: /clienten/{bsn}/notities",
        "    methods: [POST]",
        "    data_category: gezondheidsgegevens",
        "    subject: {param: bsn, type: BSN, category: bsn}",
    ]
    return "\n".join(lines) + "\n"


def load_demo(engine: Engine) -> None:
    """The demo register, and the demo policy stored and activated."""
    load_register(engine, DEMO_REGISTER, loaded_by="test", approved_by="test-approver")
    tree = parse_policies(DEMO_POLICIES)
    store = PolicyStore(engine)
    for loaded in tree.policies:
        version, _ = store.save(loaded.policy, by="test")
        if version.status != "active":
            store.activate(version.organisation_id, version.content_hash, by="test-approver")
    assert RegisterStore(engine).snapshot().organisation(ORG) is not None


@dataclass
class Setup:
    engine: Engine
    gateway: Gateway
    url: str
    source: Source
    settings: Settings


def make_gateway(database_url: str, tmp_path: Path, upstream: str) -> tuple[Gateway, Settings]:
    config = tmp_path / "gateway.yaml"
    config.write_text(gateway_yaml(upstream), encoding="utf-8")
    settings = Settings(database_url=database_url, data_dir=tmp_path, pseudonym_keys=KEY_2026)
    return create_gateway(settings, config, clock=lambda: OFFICE_HOURS), settings


@pytest.fixture
def setup(database_url: str, tmp_path: Path, source: Source) -> Iterator[Setup]:
    engine = make_engine(database_url)
    migrate(engine)
    load_demo(engine)
    gateway, settings = make_gateway(database_url, tmp_path, source.url)
    with serving(gateway) as url:
        yield Setup(engine, gateway, url, source, settings)
    engine.dispose()


DEMO_GATEWAY = ROOT / "demo" / "gateway" / "voorbeeldstad.yaml"


class Demo(NamedTuple):
    url: str
    engine: Engine
    settings: Settings
    population: Population


@pytest.fixture
def demo(database_url: str, tmp_path: Path) -> Iterator[Demo]:
    engine = make_engine(database_url)
    migrate(engine)
    load_demo(engine)
    sources = create_sources_app()
    settings = Settings(database_url=database_url, data_dir=tmp_path, pseudonym_keys=KEY_2026)
    with serving(sources) as source_url:
        gateway = create_gateway(settings, DEMO_GATEWAY, clock=lambda: OFFICE_HOURS)
        gateway.config.upstreams.update(upstreams(source_url))
        with serving(gateway) as url:
            yield Demo(url, engine, settings, sources.state.population)
    engine.dispose()
