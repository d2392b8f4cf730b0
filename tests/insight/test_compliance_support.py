"""Shared set-up for the compliance tests: a small municipality written for them, and helpers
that produce what the checks measure through the real components (register loads, the logbook
ingest, the rules engine and decision log, retention, reviews, breaches, the sensor pipeline).

No tests here; the other test_compliance* modules import these helpers.

Time line: the register is loaded at real time T0 (its versions are stamped then). Everything
else happens at chosen moments after T0 (log records start hours or days "later", decisions,
retention runs and findings carry those moments), and the checks are run at a chosen `now`
further on. So nothing waits, and every threshold can be crossed on purpose.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from glazenstad.insight.compliance import ComplianceReport, run_checks
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.store import LogStore
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from glazenstad.register.tables import register_entry_version

ORG = "naleefstad"
REGISTER_URI = "https://register.naleefstad.example"
KEY = "k2026:" + "MjAyNi1zZWNyZXQtZm9yLXRlc3RzLW9ubHktMDEyMzQ1Njc4OQ=="
BSN = "999993653"

_ids = itertools.count(1)

ORGANISATION = f"""kind: organisation
id: {ORG}
name: Gemeente Naleefstad
tooi: gm9997
register_uri: {REGISTER_URI}
contact_email: privacy@naleefstad.example
privacy_officer: FG Naleefstad
privacy_officer_email: fg@naleefstad.example
"""

DATA = """kind: data-category
id: kenteken
name: Kenteken
identifier: kenteken
---
kind: data-category
id: naw
name: Naam en adres
---
kind: data-category
id: gezondheid
name: Gezondheidsgegevens
special: bijzonder
"""

LAW = """  laws:
    - title: Gemeentewet
      bwb_id: BWBR0005416
      article: "225"
"""


def activity_yaml(
    activity_id: str,
    *,
    categories: str = "[naw]",
    retention: str = "  - outcome: standaard\n    period: P1Y\n",
    dpia: str = "niet-nodig",
    status: str = "actief",
    special_ground: bool = False,
) -> str:
    ground = "  special_category_ground: Artikel 5.1.1 Wmo 2015\n" if special_ground else ""
    return (
        f"kind: processing-activity\nid: {activity_id}\nname: Verwerking {activity_id}\n"
        f"description: Testverwerking {activity_id}.\npurposes: [Testen]\n"
        f"legal_basis:\n  avg_ground: e\n  explanation: Wettelijke taak.\n{LAW}{ground}"
        f"data_subject_categories: [Inwoners]\ndata_categories: {categories}\n"
        f"retention:\n{retention}"
        f"dpia:\n  status: {dpia}\n  reason: Test.\n"
        f"roles: [medewerker]\ndepartments: [Afdeling Test]\nowner: Afdeling Test\n"
        f"status: {status}\n"
    )


ALGORITHM_COMPLETE = """kind: algorithm
id: zorgtoewijzing
name: Zorgtoewijzing
description_short: Helpt bij het kiezen van passende zorg.
category: [Zorg en gezondheid]
status: {status}
begin_date: 2024-01
publication_category: Impactvolle algoritmes
human_intervention: <p>Een consulent beslist altijd zelf.</p>
impacttoetsen_grouping:
  - title: DPIA Zorg
    link: https://naleefstad.example/dpia
activities: [zorg]
"""

ALGORITHM_INCOMPLETE = """kind: algorithm
id: zorgtoewijzing
name: Zorgtoewijzing
description_short: Helpt bij het kiezen van passende zorg.
category: [Zorg en gezondheid]
status: {status}
begin_date: 2024-01
publication_category: Impactvolle algoritmes
activities: [zorg]
"""

SENSOR = """kind: sensor
id: luchtmeter
name: Luchtmeetpunt
purpose: Meten van fijnstof.
type: klimaat
theme: Luchtkwaliteit
latitude: 52.1
longitude: 5.1
valid_until: 2099-12-31
personal_data: false
measures: [pm25]
"""

POLICY = f"""kind: policy
id: spelregels-naleefstad
organisation: {ORG}
title: Spelregels Naleefstad
owner: FG Naleefstad
description: Spelregels voor de tests.
rules:
  - id: zorg-alleen-kantoortijd
    effect: deny
    title: Zorgdossiers alleen in kantoortijd
    explanation: Buiten kantoortijd alleen in een noodsituatie, met een reden.
    applies_to:
      purposes: [zorg]
      actions: [read]
    when:
      - not:
          time: {{days: [ma, di, wo, do, vr], start: "08:00", end: "18:00"}}
    break_glass: true
"""


@dataclass
class Municipality:
    """Register files for Naleefstad; change a field and `load` it again for a new version."""

    root: Path
    parkeren_retention: str = (
        "  - outcome: betaald\n    period: PT24H\n  - outcome: onbetaald\n    period: P6M\n"
    )
    zorg_dpia: str = "uitgevoerd"
    archief_status: str = "actief"
    algorithm: str = ALGORITHM_COMPLETE
    algorithm_status: str = "In gebruik"
    extra: dict[str, str] = field(default_factory=dict)

    def write(self) -> Path:
        org = self.root / ORG
        (org / "activities").mkdir(parents=True, exist_ok=True)
        (org / "organisation.yaml").write_text(ORGANISATION, encoding="utf-8")
        (org / "data.yaml").write_text(DATA, encoding="utf-8")
        (org / "sensors.yaml").write_text(SENSOR, encoding="utf-8")
        (org / "algorithm.yaml").write_text(
            self.algorithm.format(status=self.algorithm_status), encoding="utf-8"
        )
        activities = {
            "parkeren": activity_yaml(
                "parkeren", categories="[kenteken]", retention=self.parkeren_retention
            ),
            "zorg": activity_yaml(
                "zorg",
                categories="[naw, gezondheid]",
                retention="  - outcome: standaard\n    period: P7Y\n",
                dpia=self.zorg_dpia,
                special_ground=True,
            ),
            "archief": activity_yaml("archief", status=self.archief_status),
            **self.extra,
        }
        for name, text in activities.items():
            (org / "activities" / f"{name}.yaml").write_text(text, encoding="utf-8")
        return self.root

    def load(self, engine: Engine) -> datetime:
        """Load the files; returns when the new versions were recorded."""
        load_register(engine, self.write(), loaded_by="test", approved_by="test-approver")
        time.sleep(0.005)  # what follows is recorded after these versions
        with engine.connect() as conn:
            moment = conn.execute(select(func.max(register_entry_version.c.recorded_at))).scalar()
        assert isinstance(moment, datetime)
        return moment


def uri(activity_id: str) -> str:
    return f"{REGISTER_URI}/processing-activities/{activity_id}"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def record(
    activity_id: str,
    start: datetime,
    *,
    end: datetime | None = None,
    outcome: str | None = None,
    subject: str | None = BSN,
    extra: dict[str, Any] | None = None,
    name: str = "Dossier bekeken",
) -> dict[str, Any]:
    """An LDV record of `activity_id` (an id of Naleefstad, or a full URI)."""
    attributes: dict[str, Any] = {
        "dpl.core.processing_activity_id": activity_id
        if activity_id.startswith("https://")
        else uri(activity_id)
    }
    if subject is not None:
        attributes["dpl.core.data_subject_id"] = subject
        attributes["dpl.core.data_subject_id_type"] = "BSN"
    if outcome is not None:
        attributes["glazenstad.retention_outcome"] = outcome
    attributes.update(extra or {})
    n = next(_ids)
    return {
        "trace_id": f"{n:032x}",
        "span_id": f"{n:016x}",
        "name": name,
        "start_time": ms(start),
        "end_time": ms(end or start + timedelta(seconds=1)),
        "status": "Ok",
        "attributes": attributes,
    }


def logbook(engine: Engine) -> LogStore:
    return LogStore(engine, RegisterStore(engine), Pseudonymizer.from_config(KEY))


def ingest(engine: Engine, records: list[dict[str, Any]], organisation: str = ORG) -> None:
    result = logbook(engine).ingest(organisation, records)
    assert result.accepted == len(records), result.rejected


def checks(engine: Engine, now: datetime, organisation: str = ORG) -> ComplianceReport:
    return run_checks(engine, RegisterStore(engine), organisation, now)


def status(report: ComplianceReport, code: str) -> str:
    return report.result(code).status


def local_saturday_night(after: datetime) -> datetime:
    """A Saturday 23:00 UTC after `after` (outside office hours in Amsterdam)."""
    day = after.astimezone(UTC).date() + timedelta(days=1)
    while day.weekday() != 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 23, 0, tzinfo=UTC)


__all__ = [
    "BSN",
    "ORG",
    "POLICY",
    "Municipality",
    "checks",
    "ingest",
    "local_saturday_night",
    "logbook",
    "record",
    "status",
    "uri",
]
