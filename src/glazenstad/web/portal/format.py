"""Formatting helpers that turn register values into plain Dutch (B1) for the portal.

The register stores what standards prescribe (ISO 8601 durations, ISO country codes, enum codes);
residents should read "6 maanden" and "Verenigde Staten". Every helper here is a pure function so
it can be unit-tested without a request or a template, and used from both views and templates.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from glazenstad.dutch import MONTHS as MONTHS_NL

_DURATION = re.compile(
    r"^P(?!$)"
    r"(?:(?P<years>\d+(?:[.,]\d+)?)Y)?"
    r"(?:(?P<months>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)"
    r"(?:(?P<hours>\d+(?:[.,]\d+)?)H)?"
    r"(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?"
    r")?$"
)

# (singular, plural); Dutch keeps "jaar" and "uur" after a number ("7 jaar", "24 uur").
_UNITS: dict[str, tuple[str, str]] = {
    "years": ("jaar", "jaar"),
    "months": ("maand", "maanden"),
    "weeks": ("week", "weken"),
    "days": ("dag", "dagen"),
    "hours": ("uur", "uur"),
    "minutes": ("minuut", "minuten"),
    "seconds": ("seconde", "seconden"),
}


def join_nl(parts: list[str]) -> str:
    """Join as Dutch prose: "a", "a en b", "a, b en c"."""
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " en " + parts[-1]


def _number_nl(value: str) -> tuple[str, bool]:
    """The number with a decimal comma, and whether it is exactly one."""
    try:
        number = Decimal(value.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the regex only lets digits through
        return value, False
    text = format(number.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ","), number == 1


def duration_nl(value: str | None) -> str:
    """An ISO 8601 duration in plain Dutch: PT24H → "24 uur", P1Y6M → "1 jaar en 6 maanden".

    Anything this does not recognise is returned unchanged, so an unusual but valid value (such
    as the alternative format P0001-00-00) is still shown rather than lost.
    """
    if not value:
        return ""
    match = _DURATION.match(value.strip().upper())
    if match is None:
        return value
    parts: list[str] = []
    for unit, (singular, plural) in _UNITS.items():
        amount = match.group(unit)
        if amount is None:
            continue
        text, is_one = _number_nl(amount)
        if text == "0":
            continue
        parts.append(f"{text} {singular if is_one else plural}")
    return join_nl(parts) if parts else "direct"


def date_nl(value: dt.date | dt.datetime | None) -> str:
    """A date as Dutch readers write it: 1 maart 2024 (times are not shown)."""
    if value is None:
        return ""
    return f"{value.day} {MONTHS_NL[value.month - 1]} {value.year}"


def _local_zone() -> dt.tzinfo:
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:  # pragma: no cover - a system without time zone data
        return dt.UTC


def datetime_nl(value: dt.datetime | None) -> str:
    """A moment in Dutch time: "28 november 2026 om 19.26 uur" (stored times are UTC; a time
    without a zone is taken as UTC, as the database hands back from SQLite)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(_local_zone())
    return f"{date_nl(local)} om {local.hour}.{local.minute:02d} uur"


def month_nl(value: str | None) -> str:
    """An Algoritmeregister "yyyy-mm" month as "januari 2020"."""
    if not value:
        return ""
    match = re.fullmatch(r"(\d{4})-(\d{2})", value)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        return value
    return f"{MONTHS_NL[int(match.group(2)) - 1]} {match.group(1)}"


def shorten(text: str, limit: int = 200) -> str:
    """At most `limit` characters, cut after a whole word and marked with an ellipsis, so a
    result list shows the start of a long description without breaking a word in two."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + "…"


def yes_no(value: bool | None) -> str:
    if value is None:
        return "onbekend"
    return "ja" if value else "nee"


def coordinate_nl(latitude: float, longitude: float) -> str:
    """WGS 84 coordinates with a decimal comma and compass letters: 52,0900° N, 5,1200° O."""
    lat = f"{abs(latitude):.4f}".replace(".", ",") + ("° N" if latitude >= 0 else "° Z")
    lon = f"{abs(longitude):.4f}".replace(".", ",") + ("° O" if longitude >= 0 else "° W")
    return f"{lat}, {lon}"


def map_link(latitude: float, longitude: float) -> str:
    """A link to the location on OpenStreetMap: a link the visitor may follow, never a request
    the portal makes on its own (no map tiles are loaded from elsewhere)."""
    return (
        f"https://www.openstreetmap.org/?mlat={latitude:.5f}&mlon={longitude:.5f}"
        f"#map=17/{latitude:.5f}/{longitude:.5f}"
    )


COUNTRIES_NL: dict[str, str] = {
    "NL": "Nederland",
    "BE": "België",
    "DE": "Duitsland",
    "FR": "Frankrijk",
    "IE": "Ierland",
    "LU": "Luxemburg",
    "SE": "Zweden",
    "FI": "Finland",
    "DK": "Denemarken",
    "ES": "Spanje",
    "IT": "Italië",
    "PL": "Polen",
    "AT": "Oostenrijk",
    "GB": "Verenigd Koninkrijk",
    "CH": "Zwitserland",
    "NO": "Noorwegen",
    "US": "Verenigde Staten",
    "CA": "Canada",
    "IN": "India",
    "JP": "Japan",
    "AU": "Australië",
    "IL": "Israël",
}


def country_nl(code: str) -> str:
    """A country name in Dutch; the ISO code itself when the name is not known here."""
    name = COUNTRIES_NL.get(code.upper())
    return f"{name} ({code.upper()})" if name else code.upper()


def plural(count: int, singular: str, plural_form: str) -> str:
    """ "1 verwerking", "3 verwerkingen", "0 verwerkingen"."""
    return f"{count} {singular if count == 1 else plural_form}"


DPIA_STATUS_NL: dict[str, str] = {
    "niet-nodig": "Niet nodig",
    "nodig": "Nodig, nog niet gestart",
    "in-uitvoering": "Wordt uitgevoerd",
    "uitgevoerd": "Uitgevoerd",
}

ACTIVITY_STATUS_NL: dict[str, str] = {
    "concept": "In voorbereiding",
    "actief": "Actief",
    "beeindigd": "Beëindigd",
}

CONFIDENTIALITY_NL: dict[str, str] = {
    "normaal": "Normaal",
    "vertrouwelijk": "Vertrouwelijk",
}

RECIPIENT_CATEGORY_NL: dict[str, str] = {
    "intern": "Binnen de eigen organisatie",
    "overheid": "Andere overheid",
    "verwerker": "Verwerker (werkt in opdracht)",
    "derde": "Andere organisatie",
}

SPECIAL_NL: dict[str, str] = {
    "nee": "Gewoon persoonsgegeven",
    "bijzonder": "Bijzonder persoonsgegeven",
    "strafrechtelijk": "Strafrechtelijk gegeven",
}

ORGANISATION_TYPE_NL: dict[str, str] = {
    "gemeente": "Gemeente",
    "samenwerkingsverband": "Samenwerkingsverband",
    "overig": "Overheidsorganisatie",
}


def label(mapping: dict[str, str], value: str | None) -> str:
    """The Dutch label of a code, or the code itself for a value the portal does not know yet."""
    if value is None:
        return ""
    return mapping.get(value, value)
