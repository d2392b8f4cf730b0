"""Plain Dutch (B1) for breaches and reviews, shared by the portal, the API's texts and the CLI.

The deadline is always said in words ("nog 5 uur en 10 minuten", "3 uur te laat"), never only
by a colour, and moments are shown on the Dutch wall clock with the day of the week, because
"dinsdag 27 oktober om 09.00 uur" is what someone with a 72-hour deadline needs to read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from glazenstad.dutch import MONTHS, WEEKDAYS
from glazenstad.insight.incidents import breaches as br
from glazenstad.insight.incidents.reviews import JUSTIFIED, UNJUSTIFIED
from glazenstad.insight.incidents.timing import local

STATUS_LABELS: Final = {
    br.OPEN: "Open",
    br.NOTIFIED: "Gemeld bij de AP",
    br.NOT_NOTIFIABLE: "Niet gemeld: melden is niet nodig",
    br.CLOSED: "Afgesloten",
}

ACTION_LABELS: Final = {
    br.REGISTERED: "Geregistreerd",
    br.FACTS_CHANGED: "Gegevens aangepast",
    br.AUTHORITY_DECIDED: "Besluit over melden bij de AP",
    br.AUTHORITY_NOTIFIED: "Melding bij de AP vastgelegd",
    br.RESIDENTS_DECIDED: "Besluit over informeren van betrokkenen",
    br.CLOSED_ACTION: "Afgesloten",
}

FIELD_LABELS: Final = {
    "title": "Korte omschrijving",
    "description": "Wat er is gebeurd",
    "discovered_at": "Ontdekt op",
    "occurred_from": "Begonnen op",
    "occurred_until": "Geëindigd op",
    "activities": "Verwerkingen",
    "data_categories": "Soorten gegevens",
    "estimated_subjects": "Geschat aantal betrokkenen",
    "status": "Status",
    "authority_notify": "Melden bij de AP",
    "authority_reason": "Reden (AP)",
    "authority_decided_at": "Besluit over de AP genomen op",
    "authority_notified_at": "Gemeld bij de AP op",
    "authority_reference": "Kenmerk van de AP",
    "residents_notify": "Betrokkenen informeren",
    "residents_reason": "Reden (betrokkenen)",
    "residents_decided_at": "Besluit over betrokkenen genomen op",
    "residents_notified_at": "Betrokkenen geïnformeerd op",
    "closed_at": "Afgesloten op",
}

VERDICT_LABELS: Final = {JUSTIFIED: "Terecht", UNJUSTIFIED: "Niet terecht"}


def moment_nl(moment: datetime | None, *, weekday: bool = True) -> str:
    """`dinsdag 27 oktober 2026 om 09.00 uur` in Dutch time; empty for None."""
    if moment is None:
        return ""
    wall = local(moment)
    day = f"{WEEKDAYS[wall.weekday()]} " if weekday else ""
    date = f"{wall.day} {MONTHS[wall.month - 1]} {wall.year}"
    return f"{day}{date} om {wall.hour:02d}.{wall.minute:02d} uur"


def span_nl(span: timedelta) -> str:
    """A positive duration in words, to the minute: `2 dagen, 5 uur en 3 minuten`."""
    minutes = int(abs(span).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} {'dag' if days == 1 else 'dagen'}")
    if hours:
        parts.append(f"{hours} uur")
    if minutes or not parts:
        parts.append(f"{minutes} {'minuut' if minutes == 1 else 'minuten'}")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " en " + parts[-1]


def deadline_state(breach: br.Breach, now: datetime) -> str:
    """A stable code for the deadline: running, overdue, in-time or late."""
    if breach.status == br.OPEN:
        return "overdue" if breach.overdue(now) else "running"
    return "late" if breach.settled_late else "in-time"


def deadline_text(breach: br.Breach, now: datetime) -> str:
    """What the deadline means now, in one sentence."""
    state = deadline_state(breach, now)
    if state == "running":
        return f"Nog {span_nl(breach.time_left(now))} om te melden of te besluiten."
    if state == "overdue":
        return (
            f"Te laat: de termijn is {span_nl(breach.time_left(now))} geleden verlopen. "
            "Meld zo snel mogelijk en leg uit waarom het later is."
        )
    settled = breach.authority_settled_at
    assert settled is not None
    what = "gemeld" if breach.authority_notify else "besloten dat melden niet nodig is"
    if state == "late":
        late = span_nl(settled - breach.deadline)
        return f"{what.capitalize()} {late} na het einde van de termijn."
    return f"Op tijd {what}."
