"""An application instrumented with the OpenTelemetry SDK sends its spans, unchanged, over OTLP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from sqlalchemy import select

from glazenstad.db.engine import make_engine
from glazenstad.logbook.tables import log_record
from glazenstad.logbook.verify import verify
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, system_token
from tests.logbook.conftest import ACTIVITY, BSN, KEY_2026


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    app = create_app(
        Settings(
            database_url=database_url,
            data_dir=tmp_path,
            pseudonym_keys=KEY_2026,  # type: ignore[arg-type]
            system_clients=TEST_SYSTEMS,
        )
    )
    load_register(make_engine(database_url), TEST_REGISTER, approved_by="test-approver")
    time.sleep(0.002)  # spans start after the register versions were recorded
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


def test_sdk_spans_become_chained_log_records(server: str, database_url: str) -> None:
    exporter = OTLPSpanExporter(endpoint=f"{server}/v1/traces", headers=system_token())
    provider = TracerProvider(resource=Resource.create({"service.name": "scanauto-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("Controle parkeerrecht") as parent:
        parent.set_attribute("dpl.core.processing_activity_id", ACTIVITY)
        for subject in (BSN, "999990019"):
            with tracer.start_as_current_span("Kenteken controleren") as child:
                child.set_attribute("dpl.core.processing_activity_id", ACTIVITY)
                child.set_attribute("dpl.core.data_subject_id", subject)
                child.set_attribute("dpl.core.data_subject_id_type", "BSN")
        with tracer.start_as_current_span("zonder doel"):
            pass  # no processing activity: refused for this span, not silently dropped
    provider.force_flush()
    provider.shutdown()

    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = list(conn.execute(select(log_record).order_by(log_record.c.sequence)))
    names = [row.name for row in rows]
    assert sorted(names) == [
        "Controle parkeerrecht",
        "Kenteken controleren",
        "Kenteken controleren",
    ]
    parent_row = next(r for r in rows if r.name == "Controle parkeerrecht")
    children = [r for r in rows if r.name == "Kenteken controleren"]
    assert all(c.parent_span_id == parent_row.span_id for c in children)
    assert all(c.trace_id == parent_row.trace_id for c in children)
    assert all(c.data_subject_pseudonym.startswith("k2026:") for c in children)
    assert BSN not in " ".join(str(v) for row in rows for v in row)
    assert all(row.activity_known for row in rows)
    assert verify(engine, "teststad").ok
    engine.dispose()
