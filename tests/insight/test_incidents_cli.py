"""`glazenstad breaches` and `glazenstad break-glass`: the workflow and clear errors.

The storage behind these commands is tested on both databases in the other modules; here the
command line runs on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from glazenstad.cli import app
from glazenstad.db.engine import make_engine, migrate
from glazenstad.insight.incidents import breaches as br
from glazenstad.insight.incidents import reviews as rv
from tests.insight.test_incidents_support import (
    MARCH_2,
    ORG,
    emergency_request,
    load_demo,
    record_decisions,
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def demo_database(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[str]:
    from glazenstad.settings import get_settings

    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("GLAZENSTAD_MODE", "demo")
    monkeypatch.delenv("GLAZENSTAD_STAFF_DIRECTORY", raising=False)
    get_settings.cache_clear()
    engine = make_engine(sqlite_url)
    migrate(engine)
    load_demo(engine)
    engine.dispose()
    yield sqlite_url
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


REGISTER = (
    "breaches",
    "register",
    "--by",
    "fg",
    "--title",
    "Brief naar oud adres",
    "--description",
    "Een Wmo-brief is naar een oud adres gestuurd.",
    "--discovered",
    "2026-10-24 10:00",
    "--occurred-from",
    "2026-10-22 09:00",
    "--activity",
    "wmo-maatwerkvoorziening",
    "--category",
    "naw",
    "--estimated",
    "1",
)


def test_register_decide_notify_and_close(demo_database: str) -> None:
    code, out = run(*REGISTER)
    assert code == 0, out
    assert "Datalek 1: Brief naar oud adres" in out
    # Summer time on Saturday, winter time on Tuesday: 72 elapsed hours end at 09.00.
    assert "Ontdekt: zaterdag 24 oktober 2026 om 10.00 uur" in out
    assert "Uiterste meldmoment AP: dinsdag 27 oktober 2026 om 09.00 uur" in out

    code, out = run(
        "breaches", "decide", "1", "ap", "--by", "fg", "--notify", "ja", "--reason", "Risico"
    )
    assert code == 0 and "Status: Open (revisie 2)" in out
    code, out = run(
        "breaches",
        "notified",
        "1",
        "--by",
        "informatiemanager",
        "--at",
        "2026-10-25 09:00",
        "--reference",
        "M-2026-1",
    )
    assert (
        code == 0
        and "Gemeld bij de AP: zondag 25 oktober 2026 om 09.00 uur, kenmerk M-2026-1" in out
    )
    assert "Termijn: Op tijd gemeld." in out
    code, out = run("breaches", "close", "1", "--by", "fg")
    assert code == 1 and "informeren van de betrokkenen ontbreekt" in out
    code, out = run(
        "breaches",
        "decide",
        "1",
        "residents",
        "--by",
        "fg",
        "--notify",
        "nee",
        "--reason",
        "Laag risico",
    )
    assert code == 0, out
    code, out = run("breaches", "close", "1", "--by", "fg", "--note", "Afgehandeld")
    assert code == 0 and "Status: Afgesloten" in out

    code, out = run("breaches", "show", "1", "--organisation", ORG)
    assert code == 0
    assert "I. Jansen: Melding bij de AP vastgelegd" in out and "Afgesloten (Status" in out
    code, out = run("breaches", "list", "--organisation", ORG, "--status", "closed")
    assert code == 0 and "Brief naar oud adres" in out


def test_clear_errors(demo_database: str) -> None:
    code, out = run(*REGISTER[:3], "wmo-consulent", *REGISTER[4:])
    assert code == 1 and "C. Mulder lacks the permission 'incidents:manage'" in out
    code, out = run(*REGISTER[:3], "niemand", *REGISTER[4:])
    assert code == 2 and "'niemand' is not in the staff directory" in out
    spring = list(REGISTER)
    spring[spring.index("2026-10-24 10:00")] = "2026-03-29 02:30"
    code, out = run(*spring)
    assert code == 2 and "--discovered: 2026-03-29 02:30 bestaat niet in Nederlandse tijd" in out
    unknown = list(REGISTER)
    unknown[unknown.index("wmo-maatwerkvoorziening")] = "bestaat-niet"
    code, out = run(*unknown)
    assert code == 2 and "--activity[0]: 'bestaat-niet' is geen verwerking" in out
    code, out = run(
        "breaches", "decide", "7", "ap", "--by", "fg", "--notify", "misschien", "--reason", "x"
    )
    assert code == 2 and "antwoord ja of nee" in out
    code, out = run(
        "breaches", "decide", "7", "ap", "--by", "fg", "--notify", "ja", "--reason", "x"
    )
    assert code == 1 and "Er is geen datalek 7 bij voorbeeldstad" in out
    code, out = run("breaches", "list", "--organisation", "elders")
    assert code == 2 and "'elders' is not in the register" in out
    code, out = run("breaches", "list", "--organisation", ORG, "--status", "dicht")
    assert code == 2 and "status: Kies een van: open" in out


def test_size_counts_from_the_logbook(demo_database: str) -> None:
    from glazenstad.logbook.pseudonym import Pseudonymizer
    from glazenstad.logbook.store import LogStore
    from glazenstad.register.store import RegisterStore
    from tests.insight.test_incidents_sizing import WMO, ms

    assert run(*REGISTER)[0] == 0
    engine = make_engine(demo_database)
    store = LogStore(engine, RegisterStore(engine), Pseudonymizer.demo())
    breach = br.get_breach(engine, ORG, 1)
    assert breach is not None and breach.occurred_from is not None
    start = ms(breach.occurred_from + timedelta(hours=1))
    records = [
        {
            "trace_id": f"{n + 1:032x}",
            "span_id": f"{n + 1:016x}",
            "name": "Dossier raadplegen",
            "start_time": start + n,
            "end_time": start + n,
            "status": "Ok",
            "attributes": {
                "dpl.core.processing_activity_id": WMO,
                "dpl.core.data_subject_id": bsn,
                "dpl.core.data_subject_id_type": "BSN",
            },
        }
        for n, bsn in enumerate(["999993653", "999990019", "999993653"])
    ]
    assert store.ingest(ORG, records).accepted == 3
    engine.dispose()
    code, out = run("breaches", "size", "1", "--organisation", ORG)
    assert code == 0, out
    assert "│ wmo-maatwerkvoorziening   │ 2           │ 3         │ BSN: 2" in out
    assert "999993653" not in out and "demo:" not in out


def test_list_and_review_break_glass(demo_database: str) -> None:
    engine = make_engine(demo_database)
    ids = record_decisions(
        engine, [emergency_request(), emergency_request()], [MARCH_2, MARCH_2 + timedelta(hours=1)]
    )
    code, out = run("break-glass", "list", "--organisation", ORG)
    assert code == 0 and "2 besluit(en) met noodtoegang wachten op beoordeling" in out
    assert "Reden: Consulent ziek" in out and ids[0] in out
    code, out = run(
        "break-glass", "review", ids[0], "--by", "teamleider-sociaal-domein", "--verdict", "terecht"
    )
    assert code == 0 and "justified (beoordeeld door T. Smit)" in out
    code, out = run("break-glass", "review", ids[0], "--by", "fg", "--verdict", "justified")
    assert code == 1 and "al beoordeeld door T. Smit" in out
    code, out = run("break-glass", "review", ids[1], "--by", "fg", "--verdict", "onterecht")
    assert code == 2 and "--note: Schrijf op waarom" in out
    code, out = run(
        "break-glass", "review", ids[1], "--by", "informatiemanager", "--verdict", "terecht"
    )
    assert code == 1 and "lacks the permission 'break-glass:review'" in out
    code, out = run("break-glass", "list", "--organisation", ORG, "--all")
    assert "[Terecht]" in out and "[niet beoordeeld]" in out
    summary = rv.unreviewed_break_glass(engine, ORG, None, None)
    assert (summary.total, summary.unreviewed) == (2, 1)
    engine.dispose()
