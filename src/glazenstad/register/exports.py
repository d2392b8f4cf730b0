"""Exports of the register in the formats others read: Algoritmeregister v1.0, art. 30 CSV, sensors.

The Algoritmeregister record is checked against the standard's field rules (required fields,
lengths, permitted values, allowed HTML) by `ALGORITMEREGISTER_V1_SCHEMA`, which the project
publishes next to its own register schema.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from glazenstad.register.model import (
    ALGORITHM_THEMES,
    KIND_ACTIVITY,
    KIND_SENSOR,
    Algorithm,
    ProcessingActivity,
    Sensor,
    entry_uri,
)
from glazenstad.register.store import OrganisationRegister

ALGORITMEREGISTER_FIELDS = (
    "name",
    "description_short",
    "organization",
    "category",
    "status",
    "begin_date",
    "end_date",
    "contact_email",
    "website",
    "publication_category",
    "url",
    "goal",
    "proportionality",
    "human_intervention",
    "risks",
    "lawful_basis",
    "lawful_basis_grouping",
    "process_index_url",
    "impacttoetsen_grouping",
    "impacttoetsen",
    "source_data",
    "source_data_grouping",
    "methods_and_models",
    "provider",
    "publiccode",
    "lang",
    "standard_version",
    "source_id",
    "tags",
)


def _text(max_length: int) -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": max_length}


def _grouping(title_max: int, link_required: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": title_max},
            "link": {"type": ["string", "null"], "maxLength": 500},
        },
        "required": ["title", "link"] if link_required else ["title"],
        "additionalProperties": False,
    }
    if link_required:
        item["properties"]["link"] = {"type": "string", "minLength": 1, "maxLength": 500}
    return {"type": "array", "items": item}


ALGORITMEREGISTER_V1_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://glazenstad.nl/schemas/algoritmeregister-v1.0.schema.json",
    "title": "Algoritmeregister publicatiestandaard v1.0 record",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "name",
        "description_short",
        "organization",
        "status",
        "contact_email",
        "publication_category",
        "lang",
    ],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "description_short": {"type": "string", "minLength": 1, "maxLength": 350},
        "organization": {"type": "string", "minLength": 1, "maxLength": 100},
        "category": {
            "type": "array",
            "maxItems": 3,
            "items": {"enum": list(ALGORITHM_THEMES)},
        },
        "status": {"enum": ["In ontwikkeling", "In gebruik", "Buiten gebruik"]},
        "begin_date": {"type": ["string", "null"], "maxLength": 7, "pattern": r"^\d{4}-\d{2}$"},
        "end_date": {"type": ["string", "null"], "maxLength": 7, "pattern": r"^\d{4}-\d{2}$"},
        "contact_email": {"type": "string", "minLength": 1, "maxLength": 500},
        "website": _text(500),
        "publication_category": {
            "enum": ["Hoog-risico AI-systeem", "Impactvolle algoritmes", "Overige algoritmes"]
        },
        "url": _text(500),
        "goal": _text(2500),
        "proportionality": _text(2500),
        "human_intervention": _text(2500),
        "risks": _text(2500),
        "lawful_basis": _text(2500),
        "lawful_basis_grouping": _grouping(100, link_required=True),
        "process_index_url": _text(500),
        "impacttoetsen_grouping": _grouping(500, link_required=False),
        "impacttoetsen": _text(2500),
        "source_data": _text(2500),
        "source_data_grouping": _grouping(500, link_required=True),
        "methods_and_models": _text(5000),
        "provider": _text(200),
        "publiccode": _text(500),
        "lang": {"enum": ["nld"]},
        "standard_version": {"enum": ["1.0"]},
        "source_id": _text(100),
        "tags": _text(2500),
    },
}


def activity_page_url(public_url: str, organisation_id: str, activity_id: str) -> str:
    return f"{public_url}/organisaties/{organisation_id}/verwerkingen/{activity_id}"


def algorithm_record(
    reg: OrganisationRegister, algorithm: Algorithm, public_url: str
) -> dict[str, Any]:
    """An algorithm as an Algoritmeregister v1.0 record (snake_case, as the standard names it)."""
    org = reg.org
    lawful_grouping = [g.model_dump() for g in algorithm.lawful_basis_grouping]
    if not lawful_grouping:
        # The activities it serves carry the law references; publish those.
        seen: set[str] = set()
        for activity_id in algorithm.activities:
            activity = reg.activity(activity_id)
            for law in activity.legal_basis.laws if activity else []:
                if law.label not in seen:
                    seen.add(law.label)
                    lawful_grouping.append({"title": law.label[:100], "link": law.effective_link})
    process_index_url = algorithm.process_index_url
    if process_index_url is None and algorithm.activities:
        process_index_url = activity_page_url(
            public_url, reg.organisation.organisation_id, algorithm.activities[0]
        )
    record: dict[str, Any] = {
        "name": algorithm.name,
        "description_short": algorithm.description_short,
        "organization": algorithm.organization or org.name,
        "category": list(algorithm.category),
        "status": algorithm.status,
        "begin_date": algorithm.begin_date,
        "end_date": algorithm.end_date,
        "contact_email": algorithm.contact_email
        or org.algorithm_contact_email
        or org.contact_email,
        "website": algorithm.website,
        "publication_category": algorithm.publication_category,
        "url": algorithm.url,
        "goal": algorithm.goal,
        "proportionality": algorithm.proportionality,
        "human_intervention": algorithm.human_intervention,
        "risks": algorithm.risks,
        "lawful_basis": algorithm.lawful_basis,
        "lawful_basis_grouping": lawful_grouping,
        "process_index_url": process_index_url,
        "impacttoetsen_grouping": [g.model_dump() for g in algorithm.impacttoetsen_grouping],
        "impacttoetsen": algorithm.impacttoetsen,
        "source_data": algorithm.source_data,
        "source_data_grouping": [g.model_dump() for g in algorithm.source_data_grouping],
        "methods_and_models": algorithm.methods_and_models,
        "provider": algorithm.provider,
        "publiccode": algorithm.publiccode,
        "lang": "nld",
        "standard_version": "1.0",
        "source_id": algorithm.id,
        "tags": algorithm.tags,
    }
    return record


def _join(values: list[str]) -> str:
    return "; ".join(values)


ART30_COLUMNS = (
    "URI",
    "Naam",
    "Omschrijving",
    "Status",
    "Verwerkingsverantwoordelijke",
    "Functionaris gegevensbescherming",
    "Doelen",
    "Grondslag AVG",
    "Wettelijke grondslag",
    "Uitzondering bijzondere persoonsgegevens",
    "Categorieën betrokkenen",
    "Categorieën persoonsgegevens",
    "Bijzondere persoonsgegevens",
    "BSN",
    "Ontvangers",
    "Verwerkers",
    "Doorgifte buiten de EER",
    "Bewaartermijnen",
    "Beveiligingsmaatregelen",
    "Vertrouwelijkheid",
    "DPIA",
    "Geautomatiseerde besluitvorming",
    "Eigenaar",
    "Afdelingen",
    "Rollen",
    "Versie",
    "Vastgelegd op",
)


def _retention_text(activity: ProcessingActivity) -> str:
    parts = []
    for rule in activity.retention:
        text = f"{rule.outcome}: {rule.period or ''}".strip()
        if rule.trigger:
            text += f" na {rule.trigger}" if rule.period else f" tot {rule.trigger}"
        parts.append(text)
    return _join(parts)


def art30_rows(reg: OrganisationRegister) -> list[dict[str, str]]:
    """The register of processing activities (AVG art. 30) as one row per activity."""
    org = reg.org
    rows = []
    for stored in reg.entries(KIND_ACTIVITY):
        activity = stored.entry
        assert isinstance(activity, ProcessingActivity)
        categories = [reg.data_category(c) for c in activity.data_categories]
        rows.append(
            {
                "URI": stored.uri,
                "Naam": activity.name,
                "Omschrijving": activity.description,
                "Status": activity.status,
                "Verwerkingsverantwoordelijke": f"{org.name} <{org.contact_email}>",
                "Functionaris gegevensbescherming": (
                    f"{org.privacy_officer} <{org.privacy_officer_email}>"
                ),
                "Doelen": _join(activity.purposes),
                "Grondslag AVG": activity.legal_basis.avg_ground_label,
                "Wettelijke grondslag": _join(
                    [f"{law.label} ({law.bwb_id})" for law in activity.legal_basis.laws]
                ),
                "Uitzondering bijzondere persoonsgegevens": (
                    activity.legal_basis.special_category_ground or ""
                ),
                "Categorieën betrokkenen": _join(activity.data_subject_categories),
                "Categorieën persoonsgegevens": _join([c.name for c in categories if c]),
                "Bijzondere persoonsgegevens": _join(
                    [c.name for c in reg.special_categories(activity)]
                ),
                "BSN": "ja" if reg.uses_bsn(activity) else "nee",
                "Ontvangers": _join([f"{r.name} ({r.category})" for r in activity.recipients]),
                "Verwerkers": _join(
                    [
                        f"{p.name} ({'met' if p.agreement else 'zonder'} verwerkersovereenkomst)"
                        for p in activity.processors
                    ]
                ),
                "Doorgifte buiten de EER": _join(
                    [f"{t.country}: {t.safeguard}" for t in activity.third_country_transfers]
                ),
                "Bewaartermijnen": _retention_text(activity),
                "Beveiligingsmaatregelen": activity.security_measures or "",
                "Vertrouwelijkheid": activity.confidentiality,
                "DPIA": activity.dpia.status,
                "Geautomatiseerde besluitvorming": (
                    "ja" if activity.automated_decision_making else "nee"
                ),
                "Eigenaar": activity.owner,
                "Afdelingen": _join(activity.departments),
                "Rollen": _join(activity.roles),
                "Versie": str(stored.version),
                "Vastgelegd op": stored.recorded_at.isoformat(),
            }
        )
    return rows


def art30_csv(reg: OrganisationRegister) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ART30_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(art30_rows(reg))
    return buffer.getvalue()


def sensor_record(reg: OrganisationRegister, sensor: Sensor) -> dict[str, Any]:
    """A sensor with the fields of the national sensor register (camelCase, as our API)."""
    org = reg.org
    stored = reg.get(KIND_SENSOR, sensor.id)
    return {
        "id": sensor.id,
        "uri": stored.uri if stored else entry_uri(org.register_uri, KIND_SENSOR, sensor.id),
        "name": sensor.name,
        "purpose": sensor.purpose,
        "type": sensor.type,
        "theme": sensor.theme,
        "latitude": sensor.latitude,
        "longitude": sensor.longitude,
        "validUntil": sensor.valid_until.isoformat() if sensor.valid_until else None,
        "personalData": sensor.personal_data,
        "mobile": sensor.mobile,
        "measures": list(sensor.measures),
        "organisation": sensor.owner or org.name,
        "contactEmail": sensor.contact_email or org.contact_email,
        "legalBasis": sensor.legal_basis,
        "retentionMonths": sensor.retention_months,
        "activities": [entry_uri(org.register_uri, KIND_ACTIVITY, a) for a in sensor.activities],
    }
