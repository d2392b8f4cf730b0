"""The portal's sensor measurements: the location list, findings, and per-sensor charts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.execution.mqtt import Message
from glazenstad.execution.sensors import SensorPipeline, encode_reading, sensor_topic
from glazenstad.register.store import RegisterStore
from glazenstad.web.portal.metingen import chart_svg, number_nl
from tests.execution.sensorutil import AIR, NOISE_ENDED, ORG, SCAN_CAR, sensor_register
from tests.portal.conftest import PortalFactory

BASE = f"/organisaties/{ORG}"


def _main(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def _portal(portal_factory: PortalFactory, tmp_path: Path, sqlite_url: str) -> TestClient:
    client = portal_factory(sensor_register(tmp_path))
    engine = make_engine(sqlite_url)
    now = datetime.now(UTC)
    pipeline = SensorPipeline(engine, RegisterStore(engine))
    pipeline.handle(
        [
            Message(
                topic=sensor_topic(ORG, AIR),
                payload=encode_reading(
                    now - timedelta(hours=n), {"pm25": 10.0 + n, "no2": 20.0 + 0.5 * n}
                ),
            )
            for n in range(30)
        ]
        + [Message(topic=sensor_topic(ORG, "kastje-7"), payload=encode_reading(now, {"x": 1}))]
    )
    engine.dispose()
    return client


def test_the_location_list_shows_open_sensors_and_findings(
    portal_factory: PortalFactory, tmp_path: Path, sqlite_url: str
) -> None:
    portal = _portal(portal_factory, tmp_path, sqlite_url)
    response = portal.get(f"{BASE}/metingen")
    assert response.status_code == 200
    main = _main(response.text)
    assert "Metingen van sensoren" in main
    assert f'href="{BASE}/metingen/{AIR}"' in main
    assert f'href="{BASE}/metingen/{NOISE_ENDED}"' in main
    assert "Gestopt" in main
    assert SCAN_CAR not in main  # personal data: not open sensor data
    assert "Fijnstof (PM2,5): 10,0 µg/m³" in main
    assert "52,0901° N, 5,1202° O" in main
    assert "Sensor die niet in het register staat, stuurt gegevens" in main
    assert "kastje-7" in main
    assert 'href="/api/v1/organisations/teststad/latest-measurements"' in main
    # Reached from the sensor register page.
    assert f'href="{BASE}/metingen"' in _main(portal.get(f"{BASE}/sensoren").text)


def test_a_sensor_page_has_a_chart_and_its_numbers_per_measure(
    portal_factory: PortalFactory, tmp_path: Path, sqlite_url: str
) -> None:
    portal = _portal(portal_factory, tmp_path, sqlite_url)
    response = portal.get(f"{BASE}/metingen/{AIR}")
    assert response.status_code == 200
    main = _main(response.text)
    assert main.count('role="img"') == 3  # pm25, pm10, no2
    assert 'aria-labelledby="grafiek-pm25-title grafiek-pm25-desc"' in main
    assert "<polyline" in main
    assert "Deze sensor heeft dit nog niet gemeten." in main  # pm10
    assert 'aria-current="page">Per uur, de laatste 48 uur' in main
    assert "style=" not in main  # the CSP allows no inline style
    assert "<script" not in main
    # 30 hourly measurements of pm25, the newest 10.0, each in the table under the chart.
    pm25 = main.split('id="meting-pm25"', 1)[1].split("</section>", 1)[0]
    assert "Laatste meting: 10,0 µg/m³" in pm25
    assert pm25.count('scope="row"') == 30

    days = _main(portal.get(f"{BASE}/metingen/{AIR}?weergave=dag").text)
    assert 'aria-current="page">Per dag, de laatste 31 dagen' in days
    no2 = days.split('id="meting-no2"', 1)[1].split("</section>", 1)[0]
    counts = [int(c) for c in re.findall(r'<td class="utrecht-table__cell">(\d+)</td></tr>', no2)]
    assert sum(counts) == 30


def test_closed_and_unknown_sensors_have_no_measurement_page(
    portal_factory: PortalFactory, tmp_path: Path, sqlite_url: str
) -> None:
    portal = _portal(portal_factory, tmp_path, sqlite_url)
    for path in (
        f"{BASE}/metingen/{SCAN_CAR}",
        f"{BASE}/metingen/bestaat-niet",
        "/organisaties/bestaat-niet/metingen",
    ):
        response = portal.get(path)
        assert response.status_code == 404, path
        assert "Pagina niet gevonden" in response.text


def test_an_empty_chart_says_so() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    svg = str(
        chart_svg(
            [],
            chart_id="leeg",
            title="Fijnstof",
            unit="µg/m³",
            view="uur",
            start=start,
            end=start + timedelta(hours=48),
        )
    )
    assert "Er zijn in deze periode geen metingen." in svg
    assert "<polyline" not in svg


def test_numbers_are_written_the_dutch_way() -> None:
    assert number_nl(12.345) == "12,3"
    assert number_nl(-3.0) == "−3,0"
