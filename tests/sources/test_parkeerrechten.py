"""Parking rights: the in-process class, single lookups and the batch check agree."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from glazenstad.sources import ZONE_CODES, InvalidControle, ParkingRights, Population
from glazenstad.sources.parkeerrechten import MAX_CONTROLES
from glazenstad.sources.synthetic import PaidWindow, ParkingData, Permit, VehicleRights
from tests.sources.conftest import SEED

LOCAL = ZoneInfo("Europe/Amsterdam")
MOMENT = datetime(2026, 11, 2, 10, 30, tzinfo=LOCAL)


def _with_session(population: Population) -> tuple[str, PaidWindow]:
    plate, rights = next((p, r) for p, r in population.parking.rights.items() if r.sessions)
    return plate, rights.sessions[0]


def _with_permit(population: Population) -> str:
    return next(p for p, r in population.parking.rights.items() if r.permits)


@pytest.fixture
def small() -> ParkingRights:
    """A hand-made register, so the rules are checked on known rights."""
    return ParkingRights(
        ParkingData(
            rights={
                "12-BDF-3": VehicleRights(
                    permits=(),
                    sessions=(PaidWindow("VBS-HAVEN", time(9, 0), time(12, 0), "Parkeerautomaat"),),
                ),
                "GH-123-K": VehicleRights(
                    permits=(
                        Permit("PV-1", "bewonersvergunning", "VBS-STATION", date(2026, 1, 1)),
                    ),
                    sessions=(),
                ),
            },
            plates_without_rights=("K-123-GH",),
        )
    )


@pytest.mark.parametrize(
    ("plate", "zone", "moment", "status"),
    [
        ("12-BDF-3", "VBS-HAVEN", datetime(2026, 11, 2, 9, 0), "betaald"),
        ("12-BDF-3", "VBS-HAVEN", datetime(2026, 11, 2, 11, 59), "betaald"),
        ("12-BDF-3", "VBS-HAVEN", datetime(2026, 11, 2, 12, 0), "geen"),
        ("12-BDF-3", "VBS-HAVEN", datetime(2026, 11, 2, 8, 59), "geen"),
        ("12-BDF-3", "VBS-STATION", datetime(2026, 11, 2, 10, 0), "geen"),
        ("GH-123-K", "VBS-STATION", datetime(2026, 1, 1, 0, 0), "vergunning"),
        ("GH-123-K", "VBS-STATION", datetime(2025, 12, 31, 23, 59), "geen"),
        ("GH-123-K", "VBS-HAVEN", datetime(2026, 6, 1, 12, 0), "geen"),
        ("K-123-GH", "VBS-HAVEN", datetime(2026, 11, 2, 10, 0), "geen"),
        ("XX-99-99", "VBS-HAVEN", datetime(2026, 11, 2, 10, 0), "geen"),
    ],
)
def test_rights_decide_the_status(
    small: ParkingRights, plate: str, zone: str, moment: datetime, status: str
) -> None:
    result = small.check(plate, zone, moment)
    assert result.status == status
    assert (result.recht is None) == (status == "geen")
    if result.recht is not None:
        assert result.recht.kenteken == plate
        assert result.recht.zone == zone


def test_paid_session_is_answered_for_the_day_asked(small: ParkingRights) -> None:
    result = small.check("12-BDF-3", "VBS-HAVEN", datetime(2026, 3, 29, 10, 0, tzinfo=LOCAL))
    assert result.recht is not None
    assert result.recht.start == datetime(2026, 3, 29, 9, 0, tzinfo=LOCAL)
    assert result.recht.eind == datetime(2026, 3, 29, 12, 0, tzinfo=LOCAL)


def test_naive_and_utc_times_mean_dutch_local_time(
    parking: ParkingRights, population: Population
) -> None:
    plate, window = _with_session(population)
    local = datetime.combine(date(2026, 7, 1), window.van, tzinfo=LOCAL)
    naive = local.replace(tzinfo=None)
    utc = local.astimezone(UTC)
    assert parking.check(plate, window.zone, naive).status == "betaald"
    assert parking.check(plate, window.zone, utc).status == "betaald"


def test_permit_holds_in_its_zone_from_its_start_date(
    parking: ParkingRights, population: Population
) -> None:
    plate = _with_permit(population)
    permit = population.parking.rights[plate].permits[0]
    valid = datetime.combine(permit.geldig_van, time(3, 0), tzinfo=LOCAL)
    result = parking.check(plate, permit.zone, valid)
    assert result.status == "vergunning"
    assert result.recht is not None and result.recht.vergunningnummer == permit.nummer
    earlier = valid - timedelta(days=1)
    assert parking.check(plate, permit.zone, earlier).status == "geen"


def test_plates_without_rights_are_never_allowed(parking: ParkingRights) -> None:
    for plate in parking.plates_without_rights[:50]:
        for zone in ZONE_CODES:
            assert parking.check(plate, zone, MOMENT).status == "geen"


def test_check_accepts_any_spelling_and_answers_the_canonical_plate(
    parking: ParkingRights, population: Population
) -> None:
    plate, window = _with_session(population)
    moment = datetime.combine(MOMENT.date(), window.van, tzinfo=LOCAL)
    result = parking.check(plate.replace("-", "").lower(), window.zone, moment)
    assert result.kenteken == plate
    assert result.status == "betaald"


def test_check_many_refuses_the_whole_batch_and_names_position_not_plate(
    parking: ParkingRights,
) -> None:
    good = (parking.plates_with_rights[0], "VBS-HAVEN", MOMENT)
    with pytest.raises(InvalidControle) as caught:
        parking.check_many([good, ("QQ-QQ-QQQ", "VBS-HAVEN", MOMENT)])
    assert (caught.value.index, caught.value.field) == (1, "kenteken")
    assert "QQ" not in str(caught.value)
    with pytest.raises(InvalidControle) as caught:
        parking.check_many([good, (good[0], "NERGENS", MOMENT)])
    assert (caught.value.index, caught.value.field) == (1, "zone")


def test_sample_plates_mixes_paid_and_unpaid(parking: ParkingRights) -> None:
    plates = parking.sample_plates("VBS-BINNENSTAD", MOMENT, 400, unpaid_share=0.25, seed=3)
    assert plates == parking.sample_plates("VBS-BINNENSTAD", MOMENT, 400, unpaid_share=0.25, seed=3)
    statuses = [r.status for r in parking.check_many((p, "VBS-BINNENSTAD", MOMENT) for p in plates)]
    assert statuses.count("geen") == 100
    assert "betaald" in statuses and "vergunning" in statuses


def test_same_seed_gives_the_same_register(population: Population) -> None:
    assert ParkingRights.from_seed(SEED).plates_with_rights == tuple(population.parking.rights)


def _controles(parking: ParkingRights, population: Population) -> list[dict[str, str]]:
    plates = parking.sample_plates("VBS-STATION", MOMENT, 60, seed=1)
    plates += parking.sample_plates("VBS-HAVEN", MOMENT + timedelta(hours=6), 60, seed=2)
    plates.append(_with_permit(population).replace("-", "").lower())
    zones = sorted(ZONE_CODES)
    moments = [MOMENT + timedelta(minutes=37 * i) for i in range(len(plates))]
    return [
        {"kenteken": p, "zone": zones[i % len(zones)], "tijdstip": m.isoformat()}
        for i, (p, m) in enumerate(zip(plates, moments, strict=True))
    ]


def test_batch_agrees_with_single_lookups_and_the_class(
    client: TestClient, parking: ParkingRights, population: Population
) -> None:
    controles = _controles(parking, population)
    response = client.post("/parkeerrechten/v1/controles", json={"controles": controles})
    assert response.status_code == 200
    resultaten = response.json()["resultaten"]
    in_process = parking.check_many(
        (c["kenteken"], c["zone"], datetime.fromisoformat(c["tijdstip"])) for c in controles
    )
    assert len(resultaten) == len(controles) == len(in_process)
    for controle, over_http, local in zip(controles, resultaten, in_process, strict=True):
        assert over_http["kenteken"] == local.kenteken
        assert over_http["status"] == local.status
        assert datetime.fromisoformat(over_http["tijdstip"]) == datetime.fromisoformat(
            controle["tijdstip"]
        )
        single = client.get(
            f"/parkeerrechten/v1/rechten/{controle['kenteken']}",
            params={"zone": controle["zone"], "tijdstip": controle["tijdstip"]},
        ).json()
        assert single["status"] == over_http["status"]
        assert single["kenteken"] == over_http["kenteken"]
        if over_http["status"] != "geen":
            assert over_http["recht"] in single["rechten"]
    assert {r["status"] for r in resultaten} == {"betaald", "vergunning", "geen"}


def test_every_plate_in_an_answer_sits_under_kenteken(
    client: TestClient, parking: ParkingRights, population: Population
) -> None:
    controles = _controles(parking, population)
    answer = client.post("/parkeerrechten/v1/controles", json={"controles": controles}).json()
    canonical = {parking.canonical(c["kenteken"]) for c in controles}
    for resultaat in answer["resultaten"]:
        objects = [resultaat, resultaat.get("recht") or {}]
        for obj in objects:
            for key, value in obj.items():
                if isinstance(value, str) and value in canonical:
                    assert key == "kenteken"


def test_rights_lookup_lists_the_days_rights_without_a_zone(
    client: TestClient, population: Population
) -> None:
    plate, window = _with_session(population)
    answer = client.get(
        f"/parkeerrechten/v1/rechten/{plate}", params={"tijdstip": "2026-11-02T08:00:00+01:00"}
    ).json()
    assert "status" not in answer and "zone" not in answer
    first = answer["rechten"][0] if not population.parking.rights[plate].permits else None
    if first is not None:
        assert first["soort"] == "betaald"
        assert first["start"] == datetime.combine(date(2026, 11, 2), window.van, LOCAL).isoformat()
    assert all(r["kenteken"] == plate for r in answer["rechten"])


def test_unencoded_plus_in_query_offset_is_understood(
    client: TestClient, parking: ParkingRights
) -> None:
    plate = parking.plates_without_rights[0]
    url = f"/parkeerrechten/v1/rechten/{plate}?zone=VBS-HAVEN&tijdstip=2026-11-02T10:30:00+01:00"
    answer = client.get(url).json()
    assert answer["tijdstip"] == "2026-11-02T10:30:00+01:00"
    assert answer["status"] == "geen"


def test_zones_are_listed(client: TestClient) -> None:
    zones = client.get("/parkeerrechten/v1/zones").json()["zones"]
    assert {z["code"] for z in zones} == ZONE_CODES


def _problem(response_json: dict[str, object]) -> list[object]:
    params = response_json["invalidParams"]
    assert isinstance(params, list)
    return [p["name"] for p in params if isinstance(p, dict)]


def test_malformed_plate_zone_or_time_in_a_lookup_is_a_400(client: TestClient) -> None:
    response = client.get(
        "/parkeerrechten/v1/rechten/QQ-QQ-QQQ", params={"zone": "NERGENS", "tijdstip": "gisteren"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert _problem(response.json()) == ["path.kenteken", "query.zone", "query.tijdstip"]
    assert "QQ-QQ-QQQ" not in response.text


def test_malformed_batch_items_are_a_400_naming_each_field(
    client: TestClient, parking: ParkingRights
) -> None:
    good = {
        "kenteken": parking.plates_with_rights[0],
        "zone": "VBS-HAVEN",
        "tijdstip": "2026-11-02T10:00:00",
    }
    bad_plate = {**good, "kenteken": "ZZZZZZZ"}
    bad_zone = {**good, "zone": "NERGENS"}
    response = client.post(
        "/parkeerrechten/v1/controles", json={"controles": [good, bad_plate, bad_zone]}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert _problem(response.json()) == ["body.controles[1].kenteken", "body.controles[2].zone"]
    assert "ZZZZZZZ" not in response.text


@pytest.mark.parametrize(
    ("body", "name"),
    [
        (b"{", "body"),
        (b'{"controles": 3}', "body.controles"),
        (b'{"controles": [{"kenteken": "AB-12-CD", "zone": "VBS-HAVEN"}]}', "body.controles[0]"),
        (
            b'{"controles": [{"kenteken": "AB-12-CD", "zone": "VBS-HAVEN", "tijdstip": "nu"}]}',
            "body.controles[0].tijdstip",
        ),
    ],
)
def test_malformed_batch_body_is_a_400(client: TestClient, body: bytes, name: str) -> None:
    response = client.post(
        "/parkeerrechten/v1/controles", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert _problem(response.json()) == [name]


def test_too_large_batch_is_refused(client: TestClient, parking: ParkingRights) -> None:
    item = {
        "kenteken": parking.plates_with_rights[0],
        "zone": "VBS-HAVEN",
        "tijdstip": MOMENT.isoformat(),
    }
    response = client.post(
        "/parkeerrechten/v1/controles", json={"controles": [item] * (MAX_CONTROLES + 1)}
    )
    assert response.status_code == 400
    assert _problem(response.json()) == ["body.controles"]


def test_requests_log_no_identifiers(
    client: TestClient, population: Population, caplog: pytest.LogCaptureFixture
) -> None:
    bsn = next(iter(population.persons))
    plate = next(iter(population.parking.rights))
    with caplog.at_level(logging.DEBUG):
        client.get(f"/brp/v2/personen/{bsn}")
        client.get("/brp/v2/personen/123456782")
        client.get(f"/parkeerrechten/v1/rechten/{plate}", params={"zone": "VBS-HAVEN"})
        client.post(
            "/parkeerrechten/v1/controles",
            json={"controles": [{"kenteken": plate, "zone": "X", "tijdstip": "2026"}]},
        )
    # httpx, the test client, logs its own requests; what the sources log is what counts here.
    for record in (r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))):
        message = record.getMessage()
        assert bsn not in message and "123456782" not in message and plate not in message


def test_sample_plates_from_an_empty_register_is_empty() -> None:
    empty = ParkingRights(ParkingData(rights={}, plates_without_rights=()))
    assert empty.sample_plates("VBS-HAVEN", MOMENT, 10) == []


def test_sample_plates_at_night_are_all_unpaid_without_permits(small: ParkingRights) -> None:
    night = datetime(2026, 11, 2, 3, 0, tzinfo=LOCAL)
    plates = small.sample_plates("VBS-HAVEN", night, 20, unpaid_share=0.1)
    assert len(plates) == 20
    assert {r.status for r in small.check_many((p, "VBS-HAVEN", night) for p in plates)} == {"geen"}
