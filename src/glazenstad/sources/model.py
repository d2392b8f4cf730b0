"""What the demo sources hold and answer, as typed msgspec structures.

The structures are the JSON answers themselves (Dutch camelCase names, absent values left
out as the Haal Centraal APIs do), so a request costs one dictionary lookup and one encode.
Every object about a person carries `burgerservicenummer`, every object about a vehicle
`kenteken`: the gateway finds the data subjects of an answer by those two names alone.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Final, Literal

import msgspec


class _Answer(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True, frozen=True):
    """Base of every answer structure: camelCase names, absent fields left out."""


# --- parking zones ------------------------------------------------------------------------


class ParkingZone(_Answer, kw_only=True, frozen=True):
    """A paid-parking zone of Voorbeeldstad (fictional)."""

    code: str
    naam: str
    uurtarief: Decimal


ZONES: Final[tuple[ParkingZone, ...]] = (
    ParkingZone(code="VBS-BINNENSTAD", naam="Binnenstad", uurtarief=Decimal("4.20")),
    ParkingZone(code="VBS-STATION", naam="Stationsgebied", uurtarief=Decimal("3.60")),
    ParkingZone(code="VBS-HAVEN", naam="Havenkwartier", uurtarief=Decimal("2.80")),
    ParkingZone(code="VBS-OUDWEST", naam="Oud-West", uurtarief=Decimal("2.40")),
    ParkingZone(code="VBS-LINDENHOF", naam="Lindenhof (ziekenhuis)", uurtarief=Decimal("2.00")),
)
ZONE_CODES: Final[frozenset[str]] = frozenset(z.code for z in ZONES)

ParkingStatus = Literal["betaald", "vergunning", "geen"]


# --- persons (BRP) --------------------------------------------------------------------------


class Naam(_Answer, kw_only=True, frozen=True):
    voornamen: str
    voorvoegsel: str | None = None
    geslachtsnaam: str
    volledige_naam: str


class Verblijfplaats(_Answer, kw_only=True, frozen=True):
    straat: str
    huisnummer: int
    huisletter: str | None = None
    postcode: str
    woonplaats: str
    wijk: str


class Verwant(_Answer, kw_only=True, frozen=True):
    """A partner, parent or child as named on someone else's person list."""

    burgerservicenummer: str
    naam: Naam
    geboortedatum: date


class Persoon(_Answer, kw_only=True, frozen=True):
    burgerservicenummer: str
    naam: Naam
    geslacht: Literal["man", "vrouw", "onbekend"]
    geboortedatum: date
    geboorteplaats: str
    nationaliteit: str
    burgerlijke_staat: str
    verblijfplaats: Verblijfplaats
    geheimhouding_persoonsgegevens: bool
    partner: Verwant | None = None
    ouders: tuple[Verwant, ...] = ()
    kinderen: tuple[Verwant, ...] = ()


# --- social domain (Wmo 2015, Jeugdwet) ------------------------------------------------------


class Dossier(_Answer, kw_only=True, frozen=True):
    dossiernummer: str
    burgerservicenummer: str
    wet: Literal["Wmo 2015", "Jeugdwet"]
    voorziening: str
    status: str
    startdatum: date
    einddatum: date | None = None
    zorgaanbieder: str
    wijkteam: str
    huishoudsituatie: str
    gezondheidsnotities: str
    justitiele_antecedenten: bool
    gezagsdragers: tuple[Verwant, ...] = ()


# --- work and income (Participatiewet) -------------------------------------------------------


class Uitkering(_Answer, kw_only=True, frozen=True):
    uitkeringsnummer: str
    burgerservicenummer: str
    regeling: str
    status: str
    startdatum: date
    einddatum: date | None = None
    leefvorm: str
    normbedrag_per_maand: Decimal
    overige_inkomsten_per_maand: Decimal
    netto_bedrag_per_maand: Decimal
    vermogen: Decimal
    iban: str
    arbeidsverplichtingen: str
    ontheffingsreden: str | None = None
    medische_beperkingen: str | None = None
    justitiele_antecedenten: bool


# --- early signals of payment arrears --------------------------------------------------------


class Signaal(_Answer, kw_only=True, frozen=True):
    signaal_id: str
    burgerservicenummer: str
    naam: Naam
    adres: Verblijfplaats
    schuldeiser: str
    soort_schuldeiser: str
    soort_achterstand: str
    achterstandsbedrag: Decimal
    maanden_achterstand: int
    datum_signaal: date
    status: str


# --- parking rights --------------------------------------------------------------------------


class Parkeerrecht(_Answer, kw_only=True, frozen=True):
    """A right to park as the register answers it: a permit, or a paid session on one day."""

    kenteken: str
    soort: Literal["betaald", "vergunning"]
    zone: str
    vergunningnummer: str | None = None
    vergunningsoort: str | None = None
    geldig_van: date | None = None
    start: datetime | None = None
    eind: datetime | None = None
    parkeeraanbieder: str | None = None


class Controle(_Answer, kw_only=True, frozen=True):
    """The answer to "may this vehicle park in this zone at this moment?"."""

    kenteken: str
    zone: str
    tijdstip: datetime
    status: ParkingStatus
    recht: Parkeerrecht | None = None


class Rechten(_Answer, kw_only=True, frozen=True):
    """All rights of one vehicle on one day; with a zone, also the check for that moment."""

    kenteken: str
    tijdstip: datetime
    zone: str | None = None
    status: ParkingStatus | None = None
    rechten: tuple[Parkeerrecht, ...]
