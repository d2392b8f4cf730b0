"""Synthetic residents, case files, benefits, arrears signals and parking rights of Voorbeeldstad.

Generated from a seed at start-up instead of checked in: the demo needs thousands of
plausible people whose data hang together (a child's youth-care file names its parents, a
benefit's household type matches the household in the BRP, arrears signals cluster where
benefits do), and a seed gives that in well under a second and the same data on every machine.

Nothing here describes a real person. BSNs come from the 9999… range of test numbers and pass
the elfproef; postcodes end in SA, SD or SS, letter pairs PostNL never issues; IBANs use the
made-up bank code VBSB; e-mail-like values are absent. Names are common Dutch names combined at
random. Licence plates follow real sidecodes, so one may by chance equal a real plate; the
rights attached to it are invented.

Every part of the data draws from its own random stream (`Random(f"{seed}:<part>")`), so the
parking data of a seed is the same whether it is generated alone (`generate_parking`, for the
scan-car simulator) or with the residents.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Final, Literal

from glazenstad.sources.identifiers import PLATE_LETTERS, SIDECODES, bsn_check_digit
from glazenstad.sources.model import (
    ZONES,
    Dossier,
    Naam,
    Persoon,
    Signaal,
    Uitkering,
    Verblijfplaats,
    Verwant,
)

DEFAULT_SEED: Final = 2026
DEFAULT_PERSONS: Final = 5_000
DEFAULT_VEHICLES: Final = 4_000
DEFAULT_RIGHTS_SHARE: Final = 0.7

# The day the demo data describe: dates are generated relative to it, never to today, so a
# seed gives the same data on every day.
PEILDATUM: Final = date(2026, 11, 1)
BSN_PREFIX: Final = "9999"
WOONPLAATS: Final = "Voorbeeldstad"


@cache
def fictional_bsns() -> tuple[str, ...]:
    """Every valid BSN that starts with `BSN_PREFIX`, in ascending order."""
    out: list[str] = []
    for n in range(10 ** (8 - len(BSN_PREFIX))):
        first_eight = f"{BSN_PREFIX}{n:0{8 - len(BSN_PREFIX)}d}"
        digit = bsn_check_digit(first_eight)
        if digit is not None:
            out.append(f"{first_eight}{digit}")
    return tuple(out)


def max_persons() -> int:
    """How many persons one population can hold: one per test BSN."""
    return len(fictional_bsns())


# --- word lists ------------------------------------------------------------------------------

_MALE = (
    "Jan", "Pieter", "Kees", "Willem", "Hendrik", "Johannes", "Daan", "Sem", "Lucas", "Milan",
    "Thijs", "Bram", "Ruben", "Jesse", "Noah", "Mohamed", "Youssef", "Emre", "Mehmet", "Anil",
    "Tomasz", "Kwame", "Ricardo", "Gerrit", "Henk", "Bas", "Joost", "Stefan", "Levi", "Finn",
)  # fmt: skip
_FEMALE = (
    "Maria", "Anna", "Johanna", "Cornelia", "Emma", "Julia", "Sophie", "Sanne", "Lotte", "Fleur",
    "Noa", "Tess", "Eva", "Fatima", "Samira", "Aylin", "Elif", "Priya", "Agnieszka", "Grace",
    "Ingrid", "Marieke", "Anouk", "Linda", "Petra", "Wilma", "Yara", "Saar", "Nina", "Roos",
)  # fmt: skip
_SURNAMES: tuple[tuple[str | None, str], ...] = (
    (None, "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("van", "Dijk"), ("", "Bakker"),
    (None, "Visser"), (None, "Smit"), (None, "Meijer"), ("de", "Boer"), (None, "Mulder"),
    ("de", "Groot"), (None, "Bos"), ("van der", "Linden"), (None, "Peters"), ("van", "Leeuwen"),
    (None, "Dekker"), (None, "Brouwer"), ("de", "Wit"), (None, "Dijkstra"), (None, "Hendriks"),
    ("van der", "Heijden"), (None, "Kok"), ("de", "Jong"), (None, "Vermeulen"), ("van", "Wijk"),
    (None, "Yilmaz"), (None, "El Amrani"), (None, "Kaya"), (None, "Bouzid"), (None, "Nowak"),
    (None, "Ramdin"), (None, "Mensah"), (None, "Kowalski"), ("ter", "Horst"), ("op den", "Kamp"),
)  # fmt: skip
_WIJKEN: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("Binnenstad", 7311, ("Kerkstraat", "Markt", "Lange Nieuwstraat", "Korte Gracht", "Waag")),
    ("Stationsgebied", 7321, ("Stationsweg", "Spoorlaan", "Emmasingel", "Perronplein")),
    ("Havenkwartier", 7331, ("Havenkade", "Loswal", "Schippersstraat", "Ankerplein")),
    ("Oud-West", 7341, ("Lindelaan", "Kastanjestraat", "Berkenhof", "Wilgenweg", "Eikenlaan")),
    ("Lindenhof", 7351, ("Ziekenhuisweg", "Zusterstraat", "Lindenhoflaan", "Tuinpad")),
    ("De Weiden", 7361, ("Weidelaan", "Kievitstraat", "Grutto", "Boerenzwaluw", "Slootkant")),
    ("Noorderpark", 7371, ("Parklaan", "Vijverstraat", "Noorderbrink", "Esdoornplein")),
)  # fmt: skip
_WIJKTEAMS = {
    "Binnenstad": "Sociaal wijkteam Centrum",
    "Stationsgebied": "Sociaal wijkteam Centrum",
    "Havenkwartier": "Sociaal wijkteam Oost",
    "Oud-West": "Sociaal wijkteam West",
    "Lindenhof": "Sociaal wijkteam West",
    "De Weiden": "Sociaal wijkteam Noord",
    "Noorderpark": "Sociaal wijkteam Noord",
}
_POSTCODE_LETTERS = ("SA", "SD", "SS")
_BIRTHPLACES = (
    *(("Voorbeeldstad",) * 8), "Duinwijk", "Rotterdam", "Utrecht", "Zwolle", "Den Haag",
    "Groningen", "Paramaribo", "Casablanca", "Ankara", "Gdańsk",
)  # fmt: skip
_NATIONALITIES = (*(("Nederlandse",) * 17), "Turkse", "Marokkaanse", "Poolse")

_WMO: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Huishoudelijke ondersteuning", (
        "Beperkte mobiliteit na heupoperatie; kan niet bukken of tillen.",
        "COPD, snel kortademig bij inspanning.",
        "Reumatoïde artritis, wisselende belastbaarheid.",
    )),
    ("Begeleiding individueel", (
        "Licht verstandelijke beperking; hulp nodig bij post en afspraken.",
        "Niet-aangeboren hersenletsel na CVA; overzicht houden lukt niet zelfstandig.",
        "Psychische klachten (depressie), in behandeling bij GGZ.",
    )),
    ("Dagbesteding", (
        "Beginnende dementie; mantelzorger overbelast.",
        "Autismespectrumstoornis; structuur overdag nodig.",
    )),
    ("Rolstoelvoorziening", (
        "Multiple sclerose, loopafstand minder dan 50 meter.",
        "Dwarslaesie, rolstoelafhankelijk.",
    )),
    ("Woningaanpassing", (
        "Valrisico; traplift en beugels in badkamer nodig.",
        "Parkinson, traplopen niet meer veilig.",
    )),
    ("Beschermd wonen", (
        "Ernstige psychiatrische aandoening, meerdere opnames in de afgelopen jaren.",
    )),
)  # fmt: skip
_JEUGD: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Jeugdhulp ambulant", (
        "ADHD-diagnose, gedragsproblemen op school.",
        "Angstklachten, schoolverzuim.",
    )),
    ("Dyslexiezorg", ("Ernstige enkelvoudige dyslexie vastgesteld.",)),
    ("Jeugd-GGZ", (
        "Depressieve klachten, in behandeling bij jeugd-GGZ.",
        "Eetstoornis, poliklinische behandeling.",
    )),
    ("Pleegzorg", ("Onveilige thuissituatie gemeld door Veilig Thuis.",)),
    ("Jeugdreclassering", ("Geen medische bijzonderheden bekend.",)),
)  # fmt: skip
# Youth care that only fits a child from this age on; other kinds fit any age.
_JEUGD_MIN_AGE = {
    "Jeugdhulp ambulant": 4,
    "Dyslexiezorg": 7,
    "Jeugd-GGZ": 8,
    "Jeugdreclassering": 12,
}
_ZORGAANBIEDERS = (
    "Thuiszorg De Linde", "Zorggroep Voorbeeldstad", "Stichting Wijkkracht",
    "Jeugdzorg Regio Voorbeeldstad", "GGZ Voorbeeld", "Hulpmiddelencentrum Oost",
)  # fmt: skip
_DOSSIER_STATUS = ("toegekend",) * 6 + (
    "onderzoek",
    "onderzoek",
    "aanvraag",
    "beëindigd",
    "afgewezen",
)
_ONTHEFFING: tuple[tuple[str, str | None], ...] = (
    ("medisch", "Chronische rugklachten, niet meer dan 4 uur per dag belastbaar."),
    ("medisch", "Burn-out, in behandeling bij huisarts en praktijkondersteuner GGZ."),
    ("medisch", "Diabetes type 1 met wisselende instelling."),
    ("mantelzorg", None),
    ("alleenstaande ouder met kind jonger dan 5 jaar", None),
)
_NORM = {
    "alleenstaande": Decimal("1401.87"),
    "alleenstaande ouder": Decimal("1401.87"),
    "gehuwden": Decimal("2002.67"),
}
_SCHULDEISERS: tuple[tuple[str, str, str, int, int], ...] = (
    ("Woonstichting Voorbeeldstad", "woningcorporatie", "huur", 250, 2600),
    ("Energie Voorbeeld B.V.", "energieleverancier", "energie", 90, 1400),
    ("Waterbedrijf Regio Voorbeeldstad", "drinkwaterbedrijf", "drinkwater", 40, 350),
    ("Zorgverzekeraar Voorbeeld", "zorgverzekeraar", "zorgpremie", 150, 1900),
)
_SIGNAAL_STATUS = ("nieuw", "nieuw", "contact gezocht", "in behandeling", "afgesloten")
_PERMIT_KINDS = ("bewonersvergunning",) * 4 + ("bedrijfsvergunning",)
_AANBIEDERS = ("Parkeerautomaat", "Parkeerapp Voorbeeld", "Parkeerapp Stadspas")
# Letter groups left out of real plates because of what they spell; generated ones skip them too.
_AVOIDED_LETTERS = ("SS", "SD", "NSB", "KKK", "PVV", "SGP")
# Sidecodes issued since 1999 dominate the streets; a few older plates remain.
_PLATE_SIDECODES = (1, 4, 5, 6, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 10, 11, 11, 11)


# --- the result ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Permit:
    """A parking permit, valid in one zone from a date on, with no end date."""

    nummer: str
    soort: str
    zone: str
    geldig_van: date


@dataclass(frozen=True, slots=True)
class PaidWindow:
    """A paid parking session that recurs every day between two times (local time).

    Recurring daily so that a simulation run on any date finds vehicles parked legally: the
    source answers as if the vehicle paid for this window on the day asked about.
    """

    zone: str
    van: time
    tot: time
    aanbieder: str


@dataclass(frozen=True, slots=True)
class VehicleRights:
    permits: tuple[Permit, ...]
    sessions: tuple[PaidWindow, ...]


@dataclass(frozen=True, slots=True)
class ParkingData:
    """The parking-rights register: plates with rights, and plates seen in town without any."""

    rights: dict[str, VehicleRights]
    plates_without_rights: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Population:
    """Everything the demo sources serve for one seed, indexed by subject identifier."""

    seed: int
    persons: dict[str, Persoon]
    dossiers: dict[str, tuple[Dossier, ...]]
    uitkeringen: dict[str, tuple[Uitkering, ...]]
    signalen: dict[str, tuple[Signaal, ...]]
    parking: ParkingData


# --- generation ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Member:
    geslacht: Literal["man", "vrouw"]
    voornamen: str
    surname: tuple[str | None, str]
    geboortedatum: date
    child: bool
    bsn: str = ""
    partner: _Member | None = None
    parents: list[_Member] = field(default_factory=list)
    children: list[_Member] = field(default_factory=list)

    @property
    def age(self) -> int:
        years = PEILDATUM.year - self.geboortedatum.year
        before_birthday = (PEILDATUM.month, PEILDATUM.day) < (
            self.geboortedatum.month,
            self.geboortedatum.day,
        )
        return years - before_birthday


@dataclass(slots=True)
class _Household:
    kind: Literal["alleenstaande", "paar", "gezin", "eenoudergezin"]
    members: list[_Member]
    adres: Verblijfplaats
    married: bool
    kwetsbaarheid: float


def _birthdate(rng: random.Random, age: int) -> date:
    return PEILDATUM - timedelta(days=age * 365 + rng.randrange(365))


def _member(rng: random.Random, age: int, child: bool, surname: tuple[str | None, str]) -> _Member:
    geslacht: Literal["man", "vrouw"] = "man" if rng.random() < 0.5 else "vrouw"
    names = _MALE if geslacht == "man" else _FEMALE
    count = 1 if rng.random() < 0.6 else 2
    voornamen = " ".join(rng.sample(names, count))
    return _Member(geslacht, voornamen, surname, _birthdate(rng, age), child)


def _surname(rng: random.Random) -> tuple[str | None, str]:
    prefix, name = rng.choice(_SURNAMES)
    return (prefix or None, name)


def _adres(rng: random.Random) -> Verblijfplaats:
    wijk, postcode_base, streets = rng.choice(_WIJKEN)
    street_index = rng.randrange(len(streets))
    postcode = f"{postcode_base + street_index} {rng.choice(_POSTCODE_LETTERS)}"
    return Verblijfplaats(
        straat=streets[street_index],
        huisnummer=rng.randint(1, 180),
        huisletter=rng.choice("ABC") if rng.random() < 0.1 else None,
        postcode=postcode,
        woonplaats=WOONPLAATS,
        wijk=wijk,
    )


def _household(rng: random.Random) -> _Household:
    roll = rng.random()
    surname = _surname(rng)
    members: list[_Member]
    kind: Literal["alleenstaande", "paar", "gezin", "eenoudergezin"]
    if roll < 0.36:
        kind = "alleenstaande"
        members = [_member(rng, rng.randint(19, 94), False, surname)]
    elif roll < 0.64:
        kind = "paar"
        age = rng.randint(22, 90)
        members = [
            _member(rng, age, False, surname),
            _member(rng, max(19, age + rng.randint(-6, 6)), False, _surname(rng)),
        ]
    else:
        kind = "gezin" if roll < 0.9 else "eenoudergezin"
        age = rng.randint(24, 55)
        members = [_member(rng, age, False, surname)]
        if kind == "gezin":
            members.append(_member(rng, max(20, age + rng.randint(-5, 5)), False, _surname(rng)))
        oldest = min(17, age - 19)
        for _ in range(rng.choice((1, 1, 2, 2, 2, 3))):
            members.append(_member(rng, rng.randint(0, oldest), True, surname))
    married = len([m for m in members if not m.child]) == 2 and rng.random() < 0.7
    return _Household(kind, members, _adres(rng), married, rng.random() ** 2)


def _naam(member: _Member) -> Naam:
    prefix, name = member.surname
    full = " ".join(p for p in (member.voornamen, prefix, name) if p)
    return Naam(
        voornamen=member.voornamen, voorvoegsel=prefix, geslachtsnaam=name, volledige_naam=full
    )


def _verwant(member: _Member) -> Verwant:
    return Verwant(
        burgerservicenummer=member.bsn, naam=_naam(member), geboortedatum=member.geboortedatum
    )


def _link(households: Sequence[_Household]) -> None:
    for household in households:
        adults = [m for m in household.members if not m.child]
        kids = [m for m in household.members if m.child]
        if household.married and len(adults) == 2:
            adults[0].partner, adults[1].partner = adults[1], adults[0]
        for kid in kids:
            kid.parents = adults
        for adult in adults:
            adult.children = kids


def _burgerlijke_staat(rng: random.Random, member: _Member) -> str:
    if member.partner is not None:
        return "gehuwd" if rng.random() < 0.85 else "geregistreerd partner"
    if member.child or member.age < 25:
        return "ongehuwd"
    return rng.choice(("ongehuwd", "ongehuwd", "gescheiden", "weduwe/weduwnaar"))


def _persoon(rng: random.Random, member: _Member, adres: Verblijfplaats) -> Persoon:
    return Persoon(
        burgerservicenummer=member.bsn,
        naam=_naam(member),
        geslacht=member.geslacht,
        geboortedatum=member.geboortedatum,
        geboorteplaats=rng.choice(_BIRTHPLACES),
        nationaliteit=rng.choice(_NATIONALITIES),
        burgerlijke_staat=_burgerlijke_staat(rng, member),
        verblijfplaats=adres,
        geheimhouding_persoonsgegevens=rng.random() < 0.02,
        partner=_verwant(member.partner) if member.partner is not None else None,
        ouders=tuple(_verwant(p) for p in member.parents),
        kinderen=tuple(_verwant(c) for c in member.children),
    )


def _date_between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange(max(1, (end - start).days)))


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def _iban(rng: random.Random) -> str:
    bank, account = "VBSB", f"{rng.randrange(10**10):010d}"
    digits = "".join(str(int(c, 36)) for c in f"{bank}{account}NL00")
    return f"NL{98 - int(digits) % 97:02d}{bank}{account}"


class _Counter:
    """Case numbers per kind, so numbers read like a source system's and never repeat."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def __call__(self, kind: str, year: int) -> str:
        n = self._next.get(kind, 1)
        self._next[kind] = n + 1
        return f"{kind}-{year}-{n:06d}"


def _dossiers(
    rng: random.Random, household: _Household, member: _Member, number: _Counter
) -> list[Dossier]:
    if member.child:
        chance = 0.06 + 0.25 * household.kwetsbaarheid
        wet: Literal["Wmo 2015", "Jeugdwet"] = "Jeugdwet"
        catalogue = tuple(c for c in _JEUGD if _JEUGD_MIN_AGE.get(c[0], 0) <= member.age)
    else:
        chance = 0.02 + 0.10 * household.kwetsbaarheid + (0.2 if member.age >= 75 else 0.0)
        wet = "Wmo 2015"
        catalogue = _WMO
    if rng.random() >= chance:
        return []
    out: list[Dossier] = []
    for _ in range(1 if rng.random() < 0.75 else 2):
        voorziening, notes = rng.choice(catalogue)
        min_age = _JEUGD_MIN_AGE.get(voorziening, 0) if member.child else 18
        earliest = member.geboortedatum + timedelta(days=365 * min_age + 1)
        start = _date_between(rng, max(min(earliest, PEILDATUM), date(2018, 1, 1)), PEILDATUM)
        status = rng.choice(_DOSSIER_STATUS)
        ended = status in ("beëindigd", "afgewezen")
        out.append(
            Dossier(
                dossiernummer=number("WMO" if wet == "Wmo 2015" else "JW", start.year),
                burgerservicenummer=member.bsn,
                wet=wet,
                voorziening=voorziening,
                status=status,
                startdatum=start,
                einddatum=_date_between(rng, start, PEILDATUM) if ended else None,
                zorgaanbieder=rng.choice(_ZORGAANBIEDERS),
                wijkteam=_WIJKTEAMS[household.adres.wijk],
                huishoudsituatie=household.kind,
                gezondheidsnotities=rng.choice(notes),
                justitiele_antecedenten=voorziening == "Jeugdreclassering" or rng.random() < 0.03,
                gezagsdragers=tuple(_verwant(p) for p in member.parents),
            )
        )
    return out


def _uitkeringen(
    rng: random.Random, household: _Household, member: _Member, number: _Counter
) -> list[Uitkering]:
    if member.child or not 18 <= member.age < 67:
        return []
    adults = [m for m in household.members if not m.child]
    if adults[0] is not member:  # one benefit per household, on the first adult's name
        return []
    if rng.random() >= 0.02 + 0.22 * household.kwetsbaarheid:
        return []
    leefvorm = (
        "gehuwden"
        if len(adults) == 2
        else ("alleenstaande ouder" if household.kind == "eenoudergezin" else "alleenstaande")
    )
    norm = _NORM[leefvorm]
    overig = Decimal("0.00") if rng.random() < 0.7 else _money(rng, 50, 600)
    start = _date_between(rng, date(2015, 1, 1), PEILDATUM)
    reden, beperkingen = rng.choice(_ONTHEFFING) if rng.random() < 0.4 else (None, None)
    iban = _iban(rng)
    out = [
        Uitkering(
            uitkeringsnummer=number("PW", start.year),
            burgerservicenummer=member.bsn,
            regeling="Participatiewet, algemene bijstand",
            status=rng.choice(("lopend", "lopend", "lopend", "lopend", "beëindigd")),
            startdatum=start,
            leefvorm=leefvorm,
            normbedrag_per_maand=norm,
            overige_inkomsten_per_maand=overig,
            netto_bedrag_per_maand=max(Decimal("0.00"), norm - overig),
            vermogen=_money(rng, 0, 7000),
            iban=iban,
            arbeidsverplichtingen="tijdelijk ontheven" if reden else "volledig",
            ontheffingsreden=reden,
            medische_beperkingen=beperkingen,
            justitiele_antecedenten=rng.random() < 0.04,
        )
    ]
    if rng.random() < 0.3:
        start = _date_between(rng, start, PEILDATUM)
        out.append(
            Uitkering(
                uitkeringsnummer=number("BB", start.year),
                burgerservicenummer=member.bsn,
                regeling=rng.choice(("Bijzondere bijstand", "Individuele inkomenstoeslag")),
                status="toegekend",
                startdatum=start,
                einddatum=start,
                leefvorm=leefvorm,
                normbedrag_per_maand=Decimal("0.00"),
                overige_inkomsten_per_maand=overig,
                netto_bedrag_per_maand=_money(rng, 50, 500),
                vermogen=out[0].vermogen,
                iban=iban,
                arbeidsverplichtingen=out[0].arbeidsverplichtingen,
                justitiele_antecedenten=out[0].justitiele_antecedenten,
            )
        )
    return out


def _signalen(
    rng: random.Random,
    household: _Household,
    member: _Member,
    naam: Naam,
    on_benefit: bool,
    number: _Counter,
) -> list[Signaal]:
    if member.child or member.age < 18:
        return []
    chance = 0.01 + 0.12 * household.kwetsbaarheid + (0.15 if on_benefit else 0.0)
    if rng.random() >= chance:
        return []
    out: list[Signaal] = []
    for schuldeiser, soort, achterstand, low, high in rng.sample(_SCHULDEISERS, rng.randint(1, 3)):
        datum = _date_between(rng, PEILDATUM - timedelta(days=540), PEILDATUM)
        out.append(
            Signaal(
                signaal_id=number("VS", datum.year),
                burgerservicenummer=member.bsn,
                naam=naam,
                adres=household.adres,
                schuldeiser=schuldeiser,
                soort_schuldeiser=soort,
                soort_achterstand=achterstand,
                achterstandsbedrag=_money(rng, low, high),
                maanden_achterstand=rng.randint(1, 6),
                datum_signaal=datum,
                status=rng.choice(_SIGNAAL_STATUS),
            )
        )
    return out


def _plate(rng: random.Random) -> str:
    pattern = SIDECODES[rng.choice(_PLATE_SIDECODES)]
    while True:
        plate = "".join(
            rng.choice(PLATE_LETTERS) if c == "X" else (str(rng.randrange(10)) if c == "9" else c)
            for c in pattern
        )
        if not any(word in plate for word in _AVOIDED_LETTERS):
            return plate


def generate_parking(
    seed: int = DEFAULT_SEED,
    vehicles: int = DEFAULT_VEHICLES,
    rights_share: float = DEFAULT_RIGHTS_SHARE,
) -> ParkingData:
    """The parking-rights register for `seed`: `vehicles` plates, `rights_share` with a right.

    Of the plates with a right about a third hold a permit for one zone; the others pay for
    one or two daily windows. The remaining plates have no right at all, so a scan of them is
    always unpaid.
    """
    if vehicles < 0:
        raise ValueError("vehicles must not be negative")
    if not 0.0 <= rights_share <= 1.0:
        raise ValueError("rights_share must be between 0 and 1")
    rng = random.Random(f"{seed}:parkeren")
    plates: dict[str, None] = {}
    while len(plates) < vehicles:
        plates[_plate(rng)] = None
    ordered = list(plates)
    with_rights = round(vehicles * rights_share)
    zone_codes = [z.code for z in ZONES]
    rights: dict[str, VehicleRights] = {}
    for index, plate in enumerate(ordered[:with_rights]):
        if rng.random() < 0.35:
            permit = Permit(
                nummer=f"PV-{index + 1:06d}",
                soort=rng.choice(_PERMIT_KINDS),
                zone=rng.choice(zone_codes),
                geldig_van=_date_between(rng, date(2019, 1, 1), PEILDATUM),
            )
            rights[plate] = VehicleRights(permits=(permit,), sessions=())
        else:
            sessions: list[PaidWindow] = []
            for _ in range(1 if rng.random() < 0.7 else 2):
                start = rng.randrange(7 * 4, 20 * 4) * 15
                end = min(start + rng.randrange(2, 33) * 15, 24 * 60 - 1)
                sessions.append(
                    PaidWindow(
                        zone=rng.choice(zone_codes),
                        van=time(start // 60, start % 60),
                        tot=time(end // 60, end % 60),
                        aanbieder=rng.choice(_AANBIEDERS),
                    )
                )
            rights[plate] = VehicleRights(permits=(), sessions=tuple(sessions))
    return ParkingData(rights=rights, plates_without_rights=tuple(ordered[with_rights:]))


def generate(
    seed: int = DEFAULT_SEED,
    persons: int = DEFAULT_PERSONS,
    *,
    vehicles: int = DEFAULT_VEHICLES,
    rights_share: float = DEFAULT_RIGHTS_SHARE,
) -> Population:
    """All demo source data for `seed`, with exactly `persons` residents.

    Raises ValueError when `persons` exceeds the test-BSN range (`max_persons()`).
    """
    if not 0 <= persons <= max_persons():
        raise ValueError(f"persons must be between 0 and {max_persons()}")
    rng = random.Random(f"{seed}:personen")
    households: list[_Household] = []
    total = 0
    while total < persons:
        household = _household(rng)
        household.members = household.members[: persons - total]
        households.append(household)
        total += len(household.members)
    for member, bsn in zip(
        (m for h in households for m in h.members),
        rng.sample(fictional_bsns(), persons),
        strict=True,
    ):
        member.bsn = bsn
    _link(households)

    people: dict[str, Persoon] = {}
    dossiers: dict[str, tuple[Dossier, ...]] = {}
    uitkeringen: dict[str, tuple[Uitkering, ...]] = {}
    signalen: dict[str, tuple[Signaal, ...]] = {}
    number = _Counter()
    social = random.Random(f"{seed}:sociaal-domein")
    income = random.Random(f"{seed}:werk-inkomen")
    signals = random.Random(f"{seed}:vroegsignalering")
    for household in households:
        for member in household.members:
            persoon = _persoon(rng, member, household.adres)
            people[member.bsn] = persoon
            if found := _dossiers(social, household, member, number):
                dossiers[member.bsn] = tuple(found)
            if benefits := _uitkeringen(income, household, member, number):
                uitkeringen[member.bsn] = tuple(benefits)
            on_benefit = any(m.bsn in uitkeringen for m in household.members)
            naam = persoon.naam
            if arrears := _signalen(signals, household, member, naam, on_benefit, number):
                signalen[member.bsn] = tuple(arrears)
    return Population(
        seed=seed,
        persons=people,
        dossiers=dossiers,
        uitkeringen=uitkeringen,
        signalen=signalen,
        parking=generate_parking(seed, vehicles, rights_share),
    )
