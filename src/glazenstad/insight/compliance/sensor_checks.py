"""NA008: sensors in public space that send data without a (valid) registration.

The sensor pipeline refuses their data and counts each refusal as an execution finding (one row
per sensor and kind, with first and last seen). A finding last seen before the observation
window is history, not current practice, and is left out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from glazenstad.execution.sensors import (
    FINDING_INACTIVE_SENSOR,
    FINDING_TITLES,
    FINDING_UNREGISTERED_SENSOR,
)
from glazenstad.execution.tables import execution_finding
from glazenstad.insight.compliance import links
from glazenstad.insight.compliance.checks import OBSERVATION_WINDOW, UNREGISTERED_SENSOR
from glazenstad.insight.compliance.model import CheckResult, EvidenceItem, Example, Figure
from glazenstad.insight.compliance.wording import count_nl, int_nl, moment_nl

KINDS = (FINDING_UNREGISTERED_SENSOR, FINDING_INACTIVE_SENSOR)
MAX_ITEMS = 25


def sensor_check(engine: Engine, organisation_id: str, now: datetime) -> CheckResult:
    t = execution_finding
    query = (
        select(
            t.c.kind,
            t.c.subject,
            t.c.detail,
            t.c.first_seen,
            t.c.last_seen,
            t.c["count"].label("n"),
        )
        .where(
            t.c.organisation_id == organisation_id,
            t.c.kind.in_(KINDS),
            t.c.first_seen <= now,
            t.c.last_seen >= now - OBSERVATION_WINDOW,
        )
        .order_by(t.c["count"].desc(), t.c.subject)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    sensors = sorted({r.subject for r in rows})
    messages = sum(int(r.n) for r in rows)
    items = tuple(
        EvidenceItem(
            subject=r.subject,
            label=r.subject,
            count=int(r.n),
            detail=f"{FINDING_TITLES[r.kind][1]}: {int_nl(int(r.n))} berichten geweigerd, "
            f"van {moment_nl(r.first_seen)} tot {moment_nl(r.last_seen)}.",
            links=(links.execution_findings(organisation_id, r.kind),),
            examples=(Example("finding", f"{r.kind}/{r.subject}", r.last_seen, str(r.detail)),),
        )
        for r in rows[:MAX_ITEMS]
    )
    return CheckResult(
        UNREGISTERED_SENSOR,
        "fail" if rows else "pass",
        len(sensors),
        f"{count_nl(len(sensors), 'sensor', 'sensoren')} stuurde(n) in de afgelopen 30 dagen "
        f"gegevens zonder geldige registratie ({int_nl(messages)} berichten)."
        if rows
        else "In de afgelopen 30 dagen stuurden alleen geregistreerde sensoren gegevens.",
        (
            Figure("sensors", "Sensoren zonder geldige registratie", len(sensors)),
            Figure("messages", "Geweigerde berichten", messages),
        ),
        items,
        (links.sensors(organisation_id),),
    )
