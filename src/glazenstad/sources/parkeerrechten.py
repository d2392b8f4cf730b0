"""Parking rights by licence plate (after the Nationaal Parkeerregister), in process and over HTTP.

The scan-car pipeline asks, for every plate a car reads, whether it may park in this zone at
this moment. `ParkingRights` answers that without a network, so the embedded demo can run the
pipeline on one machine; the HTTP service answers the same through the same class, so a
pipeline pointed at the gateway gets identical results.

Times without an offset are read as Dutch local time (Europe/Amsterdam), as a parking meter
would. A plate without rights is an answer ("geen"), not a missing resource, so the lookups
here never answer 404.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from glazenstad.sources.identifiers import kenteken_problem, normalize_kenteken
from glazenstad.sources.model import (
    ZONE_CODES,
    ZONES,
    Controle,
    Parkeerrecht,
    ParkingStatus,
    Rechten,
)
from glazenstad.sources.responses import InvalidParam, encode, json_response, problem
from glazenstad.sources.synthetic import (
    DEFAULT_RIGHTS_SHARE,
    DEFAULT_SEED,
    DEFAULT_VEHICLES,
    PaidWindow,
    ParkingData,
    Permit,
    generate_parking,
)

PREFIX: Final = "/parkeerrechten/v1"
LOCAL: Final = ZoneInfo("Europe/Amsterdam")
MAX_CONTROLES: Final = 10_000


class InvalidControle(ValueError):
    """A check asked about something that is not a plate, zone or moment.

    Names the position and the field, never the value: the value may be a plate.
    """

    def __init__(self, index: int, field: str, reason: str) -> None:
        super().__init__(f"controle {index}: {field}: {reason}")
        self.index = index
        self.field = field
        self.reason = reason


def _local(tijdstip: datetime) -> datetime:
    if tijdstip.tzinfo is None:
        return tijdstip.replace(tzinfo=LOCAL)
    return tijdstip.astimezone(LOCAL)


def _permit(kenteken: str, permit: Permit) -> Parkeerrecht:
    return Parkeerrecht(
        kenteken=kenteken,
        soort="vergunning",
        zone=permit.zone,
        vergunningnummer=permit.nummer,
        vergunningsoort=permit.soort,
        geldig_van=permit.geldig_van,
    )


def _session(kenteken: str, window: PaidWindow, day: date) -> Parkeerrecht:
    return Parkeerrecht(
        kenteken=kenteken,
        soort="betaald",
        zone=window.zone,
        start=datetime.combine(day, window.van, tzinfo=LOCAL),
        eind=datetime.combine(day, window.tot, tzinfo=LOCAL),
        parkeeraanbieder=window.aanbieder,
    )


_ZONE_REASON: Final = "Onbekende zone; bekende zones: " + ", ".join(sorted(ZONE_CODES)) + "."


class ParkingRights:
    """The parking-rights register of one seed, queried in process."""

    def __init__(self, data: ParkingData) -> None:
        self._rights = data.rights
        self._with = tuple(data.rights)
        self._without = data.plates_without_rights
        self._known = frozenset(self._with) | frozenset(self._without)

    @classmethod
    def from_seed(
        cls,
        seed: int = DEFAULT_SEED,
        vehicles: int = DEFAULT_VEHICLES,
        rights_share: float = DEFAULT_RIGHTS_SHARE,
    ) -> ParkingRights:
        """The same register the sources app serves for `seed` (same vehicles and share)."""
        return cls(generate_parking(seed, vehicles, rights_share))

    @property
    def plates_with_rights(self) -> tuple[str, ...]:
        """Plates holding a permit or a daily paid window (canonical form)."""
        return self._with

    @property
    def plates_without_rights(self) -> tuple[str, ...]:
        """Plates the register knows of but that never have a right: always unpaid."""
        return self._without

    def canonical(self, kenteken: str) -> str | None:
        """The canonical form of `kenteken`, or None when it is not a Dutch plate."""
        if kenteken in self._known:
            return kenteken
        return normalize_kenteken(kenteken)

    def _check(self, kenteken: str, zone: str, tijdstip: datetime) -> Controle:
        """Check an already canonical plate and known zone."""
        local = _local(tijdstip)
        rights = self._rights.get(kenteken)
        if rights is not None:
            day = local.date()
            for permit in rights.permits:
                if permit.zone == zone and permit.geldig_van <= day:
                    return Controle(
                        kenteken=kenteken,
                        zone=zone,
                        tijdstip=local,
                        status="vergunning",
                        recht=_permit(kenteken, permit),
                    )
            clock = local.time()
            for window in rights.sessions:
                if window.zone == zone and window.van <= clock < window.tot:
                    return Controle(
                        kenteken=kenteken,
                        zone=zone,
                        tijdstip=local,
                        status="betaald",
                        recht=_session(kenteken, window, day),
                    )
        return Controle(kenteken=kenteken, zone=zone, tijdstip=local, status="geen")

    def check(self, kenteken: str, zone: str, tijdstip: datetime) -> Controle:
        """May the vehicle park in `zone` at `tijdstip`? Raises InvalidControle on bad input."""
        return self.check_many([(kenteken, zone, tijdstip)])[0]

    def check_many(self, controles: Iterable[tuple[str, str, datetime]]) -> list[Controle]:
        """One answer per (plate, zone, moment), in the given order.

        Raises InvalidControle for the first item whose plate or zone is not valid, before
        answering any: a batch is answered whole or not at all, as over HTTP.
        """
        checked: list[tuple[str, str, datetime]] = []
        for index, (kenteken, zone, tijdstip) in enumerate(controles):
            plate = self.canonical(kenteken)
            if plate is None:
                raise InvalidControle(index, "kenteken", "not a Dutch licence plate")
            if zone not in ZONE_CODES:
                raise InvalidControle(index, "zone", "unknown zone")
            checked.append((plate, zone, tijdstip))
        return [self._check(*item) for item in checked]

    def rights_on(self, kenteken: str, day: date) -> tuple[Parkeerrecht, ...]:
        """Every right of a canonical plate that applies on `day`, permits first."""
        rights = self._rights.get(kenteken)
        if rights is None:
            return ()
        permits = tuple(_permit(kenteken, p) for p in rights.permits if p.geldig_van <= day)
        return permits + tuple(_session(kenteken, w, day) for w in rights.sessions)

    def sample_plates(
        self,
        zone: str,
        tijdstip: datetime,
        count: int,
        *,
        unpaid_share: float = 0.25,
        seed: int = 0,
    ) -> list[str]:
        """Plates a scan car could read in `zone` at `tijdstip`, about `unpaid_share` unpaid.

        The rest have a permit or a paid window there and then. When no vehicle has a right
        at that moment (at night, say) all plates are unpaid. Deterministic per `seed`; a
        plate may appear more than once, as when a scan car passes a vehicle twice. Each call
        checks the whole register (a few milliseconds): ask for a batch, not plate by plate.
        """
        if zone not in ZONE_CODES:
            raise ValueError("unknown zone")
        if not 0.0 <= unpaid_share <= 1.0:
            raise ValueError("unpaid_share must be between 0 and 1")
        rng = random.Random(f"{seed}:{zone}:{tijdstip.isoformat()}")
        legal = [p for p in self._with if self._check(p, zone, tijdstip).status != "geen"]
        unpaid = list(self._without) or [
            p for p in self._with if self._check(p, zone, tijdstip).status == "geen"
        ]
        if not legal and not unpaid:
            return []
        n_unpaid = count if not legal else round(count * unpaid_share)
        if not unpaid:
            n_unpaid = 0
        plates = [rng.choice(unpaid) for _ in range(n_unpaid)]
        plates += [rng.choice(legal) for _ in range(count - n_unpaid)]
        rng.shuffle(plates)
        return plates


# --- HTTP -----------------------------------------------------------------------------------


class _ControleIn(msgspec.Struct):
    kenteken: str
    zone: str
    tijdstip: datetime


class _Verzoek(msgspec.Struct):
    controles: list[_ControleIn]


_decoder = msgspec.json.Decoder(_Verzoek)
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _decode_error(exc: msgspec.DecodeError) -> InvalidParam:
    message = str(exc)
    match = _AT.search(message)
    if match is None:
        return InvalidParam("body", "json", "De body is geen geldig JSON-object met 'controles'.")
    return InvalidParam("body" + match["path"], "schema", message[: match.start()])


def _parse_tijdstip(value: str) -> datetime | None:
    # A '+' of an unencoded offset arrives as a space in a query string.
    if len(value) > 19 and value[19] == " ":
        value = value[:19] + "+" + value[20:]
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def routes(register: ParkingRights) -> list[BaseRoute]:
    async def rechten(request: Request) -> Response:
        invalid: list[InvalidParam] = []
        plate = register.canonical(request.path_params["kenteken"])
        if plate is None:
            reason = kenteken_problem(request.path_params["kenteken"]) or ""
            invalid.append(InvalidParam("path.kenteken", "kenteken", reason))
        zone = request.query_params.get("zone")
        if zone is not None and zone not in ZONE_CODES:
            invalid.append(InvalidParam("query.zone", "zone", _ZONE_REASON))
        raw = request.query_params.get("tijdstip")
        tijdstip = _parse_tijdstip(raw) if raw is not None else datetime.now(LOCAL)
        if tijdstip is None:
            reason = "Geen ISO 8601-tijdstip, bijvoorbeeld 2026-11-02T10:30:00+01:00."
            invalid.append(InvalidParam("query.tijdstip", "datetime", reason))
        if invalid or plate is None or tijdstip is None:
            return problem(400, "De aanvraag bevat ongeldige parameters.", invalid)
        local = _local(tijdstip)
        status: ParkingStatus | None = None
        if zone is not None:
            status = register._check(plate, zone, local).status
        answer = Rechten(
            kenteken=plate,
            tijdstip=local,
            zone=zone,
            status=status,
            rechten=register.rights_on(plate, local.date()),
        )
        return json_response(encode(answer))

    async def controles(request: Request) -> Response:
        try:
            verzoek = _decoder.decode(await request.body())
        except msgspec.DecodeError as exc:
            return problem(400, "De body is ongeldig.", [_decode_error(exc)])
        if len(verzoek.controles) > MAX_CONTROLES:
            reason = f"Hoogstens {MAX_CONTROLES} controles per aanvraag."
            return problem(
                400, "Te veel controles.", [InvalidParam("body.controles", "size", reason)]
            )
        invalid: list[InvalidParam] = []
        checked: list[tuple[str, str, datetime]] = []
        for index, item in enumerate(verzoek.controles):
            plate = register.canonical(item.kenteken)
            if plate is None:
                name = f"body.controles[{index}].kenteken"
                invalid.append(
                    InvalidParam(name, "kenteken", kenteken_problem(item.kenteken) or "")
                )
            if item.zone not in ZONE_CODES:
                name = f"body.controles[{index}].zone"
                invalid.append(InvalidParam(name, "zone", _ZONE_REASON))
            if plate is not None and not invalid:
                checked.append((plate, item.zone, item.tijdstip))
        if invalid:
            return problem(400, "Een of meer controles zijn ongeldig.", invalid)
        return json_response(encode({"resultaten": [register._check(*c) for c in checked]}))

    zones_body = encode({"zones": ZONES})

    async def zones(request: Request) -> Response:
        return json_response(zones_body)

    return [
        Route("/rechten/{kenteken}", rechten, methods=["GET"]),
        Route("/controles", controles, methods=["POST"]),
        Route("/zones", zones, methods=["GET"]),
    ]
