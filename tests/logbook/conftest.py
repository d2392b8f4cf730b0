"""Logbook fixtures: a migrated database plus the logbook tables, the test register, a store."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from glazenstad.db.base import metadata
from glazenstad.logbook import tables as _logbook_tables  # noqa: F401  (registers the tables)
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.store import LogStore
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from tests.conftest import TEST_REGISTER

ORG = "teststad"
ACTIVITY = "https://register.teststad.example/processing-activities/parkeren-scanauto"
UNKNOWN_ACTIVITY = "https://register.teststad.example/processing-activities/bestaat-niet"
BSN = "999993653"

KEY_2026 = "k2026:" + "MjAyNi1zZWNyZXQtZm9yLXRlc3RzLW9ubHktMDEyMzQ1Njc4OQ=="
KEY_2025 = "k2025:" + "MjAyNS1zZWNyZXQtZm9yLXRlc3RzLW9ubHktOTg3NjU0MzIxMA=="

_counter = itertools.count(1)


def span_id(n: int | None = None) -> str:
    return f"{n if n is not None else next(_counter):016x}"


def trace_id(n: int = 1) -> str:
    return f"{n:032x}"


def make_record(**changes: Any) -> dict[str, Any]:
    """A valid LDV record starting now (after the register load); `changes` override fields."""
    now = int(time.time() * 1000)
    record: dict[str, Any] = {
        "trace_id": trace_id(),
        "span_id": span_id(),
        "name": "Scanauto controleert kenteken",
        "start_time": now,
        "end_time": now + 5,
        "status": "Ok",
        "resource": {"attributes": {"service.name": "scanauto", "service.version": "1.2"}},
        "attributes": {
            "dpl.core.processing_activity_id": ACTIVITY,
            "dpl.core.data_subject_id": BSN,
            "dpl.core.data_subject_id_type": "BSN",
        },
    }
    attributes = changes.pop("attributes", None)
    if isinstance(attributes, dict):  # merged; an attribute set to None is left out
        merged = {**record["attributes"], **attributes}
        record["attributes"] = {k: v for k, v in merged.items() if v is not None}
    elif attributes is not None:
        record["attributes"] = attributes
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


@pytest.fixture
def log_engine(engine: Engine) -> Iterator[Engine]:
    """The migrated database with the logbook tables (not yet in the migrations) and register."""
    metadata.create_all(engine)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    time.sleep(0.002)  # records made "now" start after the register versions were recorded
    yield engine


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer.from_config(f"{KEY_2026},{KEY_2025}")


@pytest.fixture
def store(log_engine: Engine, pseudonymizer: Pseudonymizer) -> LogStore:
    return LogStore(log_engine, RegisterStore(log_engine), pseudonymizer)


def lift_append_only_guard(conn: Connection) -> None:
    """What only the table's owner can do: drop the database's refusal of UPDATE and DELETE.

    Tamper tests use it to play an attacker with owner rights; the application never does.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE log_record DISABLE TRIGGER log_record_append_only"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS log_record_no_update"))
        conn.execute(text("DROP TRIGGER IF EXISTS log_record_no_delete"))
