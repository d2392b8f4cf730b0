"""Exports conform to the standards they claim: Algoritmeregister v1.0, AVG art. 30, sensors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import Engine

from glazenstad.register.exports import (
    ALGORITMEREGISTER_V1_SCHEMA,
    algorithm_record,
    art30_csv,
    sensor_record,
)
from glazenstad.register.loader import load_register
from glazenstad.register.model import html_tags
from glazenstad.register.store import RegisterStore
from tests.conftest import DEMO_REGISTER, TEST_REGISTER

# Field rules of the Algoritmeregister publication standard v1.0, transcribed from the standard
# (MinBZK/Algoritmeregister, backend/app/schemas/config/v1_0.json) independently of our schema.
REQUIRED = {
    "name",
    "description_short",
    "organization",
    "status",
    "contact_email",
    "publication_category",
    "lang",
}
MAX_LENGTH = {
    "name": 100,
    "description_short": 350,
    "organization": 100,
    "begin_date": 7,
    "end_date": 7,
    "contact_email": 500,
    "website": 500,
    "url": 500,
    "goal": 2500,
    "proportionality": 2500,
    "human_intervention": 2500,
    "risks": 2500,
    "lawful_basis": 2500,
    "process_index_url": 500,
    "impacttoetsen": 2500,
    "source_data": 2500,
    "methods_and_models": 5000,
    "provider": 200,
    "publiccode": 500,
    "source_id": 100,
    "tags": 2500,
}
PERMITTED = {
    "status": {"In ontwikkeling", "In gebruik", "Buiten gebruik"},
    "publication_category": {
        "Hoog-risico AI-systeem",
        "Impactvolle algoritmes",
        "Overige algoritmes",
    },
    "lang": {"nld"},
    "standard_version": {"1.0"},
}
RICH_TEXT = {
    "goal",
    "proportionality",
    "human_intervention",
    "risks",
    "lawful_basis",
    "impacttoetsen",
    "source_data",
    "methods_and_models",
    "tags",
}
ALLOWED_TAGS = {"div", "br", "p", "ul", "ol", "li"}


def assert_conforms(record: dict[str, object]) -> None:
    for name in REQUIRED:
        assert record.get(name), f"required field {name} is empty"
    for name, limit in MAX_LENGTH.items():
        value = record.get(name)
        assert value is None or len(str(value)) <= limit, f"{name} longer than {limit}"
    for name, allowed in PERMITTED.items():
        assert record.get(name) in allowed, f"{name}={record.get(name)!r}"
    categories = record.get("category") or []
    assert isinstance(categories, list) and len(categories) <= 3
    for name in RICH_TEXT:
        value = record.get(name)
        if isinstance(value, str):
            assert html_tags(value) <= ALLOWED_TAGS, f"{name} uses {html_tags(value)}"
    for group in ("lawful_basis_grouping", "source_data_grouping"):
        for item in record.get(group) or []:  # type: ignore[attr-defined]
            assert item["title"] and item["link"]
    Draft202012Validator(ALGORITMEREGISTER_V1_SCHEMA).validate(record)


@pytest.fixture(params=["fixture", "demo"])
def loaded(request: pytest.FixtureRequest, sqlite_url: str) -> RegisterStore:
    from glazenstad.db.engine import make_engine, migrate

    root: Path = TEST_REGISTER if request.param == "fixture" else DEMO_REGISTER
    if not (root / "voorbeeldstad").exists() and request.param == "demo":
        pytest.fail("demo/register/voorbeeldstad is missing")
    engine = make_engine(sqlite_url)
    migrate(engine)
    load_register(engine, root, approved_by="test-approver")
    return RegisterStore(engine)


def test_every_algorithm_exports_to_a_conforming_record(loaded: RegisterStore) -> None:
    snapshot = loaded.snapshot()
    count = 0
    for reg in snapshot.ordered():
        for algorithm in reg.algorithms():
            record = algorithm_record(reg, algorithm, "https://portal.example")
            assert_conforms(record)
            assert record["organization"] == (algorithm.organization or reg.org.name)
            count += 1
    assert count >= 1


def test_schema_rejects_what_the_standard_rejects() -> None:
    validator = Draft202012Validator(ALGORITMEREGISTER_V1_SCHEMA)
    good = {
        "name": "Naam",
        "description_short": "Kort",
        "organization": "Gemeente X",
        "status": "In gebruik",
        "contact_email": "a@b.nl",
        "publication_category": "Overige algoritmes",
        "lang": "nld",
    }
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "name": "x" * 101})
    assert not validator.is_valid({**good, "status": "Actief"})
    assert not validator.is_valid({**good, "category": ["Verkeer", "Werk", "Wonen", "Recht"]})
    assert not validator.is_valid({k: v for k, v in good.items() if k != "contact_email"})


def test_law_references_become_lawful_basis_grouping(engine: Engine) -> None:
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    reg = RegisterStore(engine).snapshot().organisation("teststad")
    assert reg is not None
    (algorithm,) = reg.algorithms()
    record = algorithm_record(reg, algorithm, "https://portal.example")
    assert record["lawful_basis_grouping"] == [
        {
            "title": "Gemeentewet, artikel 225",
            "link": "https://wetten.overheid.nl/jci1.3:c:BWBR0005416&artikel=225",
        }
    ]
    assert record["process_index_url"] == (
        "https://portal.example/organisaties/teststad/verwerkingen/parkeren-scanauto"
    )


def test_art30_csv_has_every_article_30_field(loaded: RegisterStore) -> None:
    for reg in loaded.snapshot().ordered():
        rows = list(csv.DictReader(io.StringIO(art30_csv(reg))))
        assert len(rows) == len(reg.activities())
        for row in rows:
            # AVG art. 30(1): controller and DPO, purposes, categories of subjects and data,
            # recipients, transfers, erasure limits, security measures.
            for column in (
                "Verwerkingsverantwoordelijke",
                "Functionaris gegevensbescherming",
                "Doelen",
                "Categorieën betrokkenen",
                "Categorieën persoonsgegevens",
                "Bewaartermijnen",
                "Grondslag AVG",
            ):
                assert row[column], f"{row['Naam']}: {column} empty"
            assert row["URI"].startswith(reg.org.register_uri)


def test_sensor_export_has_register_fields(loaded: RegisterStore) -> None:
    for reg in loaded.snapshot().ordered():
        for sensor in reg.sensors():
            record = sensor_record(reg, sensor)
            for key in (
                "id",
                "name",
                "purpose",
                "type",
                "theme",
                "latitude",
                "longitude",
                "personalData",
                "mobile",
                "organisation",
                "contactEmail",
            ):
                assert record[key] is not None, key
            assert all(a.startswith(reg.org.register_uri) for a in record["activities"])
