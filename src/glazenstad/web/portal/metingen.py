"""Portal pages of the open sensor data: where the sensors are, what they measured, and what
the pipeline refused.

Charts are SVG drawn here on the server: no script, no chart library, nothing from another host,
and the page's Content-Security-Policy stays strict (presentation attributes only, no inline
style). Every chart has a title and a short description for screen readers, and the numbers
behind it are in a table right below it, so nothing is shown only as a picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from glazenstad.execution.findings import list_findings
from glazenstad.execution.sensors import (
    FINDING_TITLES,
    MUNICIPAL_ZONE,
    SENSOR_FINDINGS,
    Bucket,
    SensorReadings,
    bucket_bounds,
    measure_info,
    takes_open_data,
)
from glazenstad.register.model import KIND_SENSOR, Sensor
from glazenstad.register.store import OrganisationRegister
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal import routes, views

router = APIRouter(include_in_schema=False)

View = Literal["uur", "dag"]
VIEWS: dict[View, tuple[str, str, timedelta]] = {
    "uur": ("hour", "Per uur, de laatste 48 uur", timedelta(hours=48)),
    "dag": ("day", "Per dag, de laatste 31 dagen", timedelta(days=31)),
}


def metingen_url(org_id: str) -> str:
    return f"{views.org_url(org_id)}/metingen"


def sensor_metingen_url(org_id: str, sensor_id: str) -> str:
    return f"{metingen_url(org_id)}/{sensor_id}"


def number_nl(value: float) -> str:
    """12.345 as "12,3": one decimal, with a decimal comma."""
    return f"{value:.1f}".replace(".", ",").replace("-", "−")


def _with_unit(value: float, unit: str) -> str:
    return f"{number_nl(value)} {unit}".strip()


def _moment_nl(moment: datetime, view: View) -> str:
    local = moment.astimezone(MUNICIPAL_ZONE)
    if view == "dag":
        return fmt.date_nl(local)
    return f"{fmt.date_nl(local)} {local.hour}.00 uur"


# --- the chart -------------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40
INK = "#1a1a1a"
GRID = "#767676"
LINE = "#1f4e8c"
BAND = "#c9daf0"


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.1
    step = next(s * magnitude for s in (1, 2, 2.5, 5, 10, 20) if s * magnitude >= raw)
    start = (low // step) * step
    ticks = []
    value = start
    while value <= high + step / 2:
        ticks.append(round(value, 6))
        value += step
    return ticks


def chart_svg(
    buckets: Sequence[Bucket],
    *,
    chart_id: str,
    title: str,
    unit: str,
    view: View,
    start: datetime,
    end: datetime,
) -> Markup:
    """A line of averages over a band from lowest to highest, on a time axis from start to end."""
    lows = [b.minimum for b in buckets]
    highs = [b.maximum for b in buckets]
    ticks = _ticks(min([0.0, *lows]) if lows else 0.0, max(highs) if highs else 1.0)
    y_low, y_high = ticks[0], ticks[-1]
    span = (end - start).total_seconds() or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: datetime) -> float:
        return LEFT + plot_w * (moment - start).total_seconds() / span

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - y_low) / ((y_high - y_low) or 1))

    def mid(bucket: Bucket) -> datetime:
        return bucket.start + (bucket.end - bucket.start) / 2

    if buckets:
        averages = [b.average for b in buckets]
        described = (
            f"{len(buckets)} {'uren' if view == 'uur' else 'dagen'} met metingen. "
            f"Gemiddeld het laagst {_with_unit(min(averages), unit)}, "
            f"het hoogst {_with_unit(max(averages), unit)}. "
            f"Laagste meting {_with_unit(min(lows), unit)}, hoogste {_with_unit(max(highs), unit)}."
        )
    else:
        described = "Er zijn in deze periode geen metingen."
    parts = [
        f'<svg class="gs-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(described)}</desc>',
    ]
    for tick in ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{GRID}" stroke-width="0.5" stroke-dasharray="3 3"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{INK}">{escape(number_nl(tick).removesuffix(",0"))}</text>'
        )
    parts.append(
        f'<text x="{LEFT}" y="{TOP - 4}" font-size="12" fill="{INK}">{escape(unit)}</text>'
        if unit
        else ""
    )
    for position in (0.0, 0.5, 1.0):
        moment = start + (end - start) * position
        anchor = {0.0: "start", 0.5: "middle", 1.0: "end"}[position]
        parts.append(
            f'<text x="{x(moment):.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}" font-size="12" '
            f'fill="{INK}">{escape(_moment_nl(moment, view))}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    if len(buckets) > 1:
        upper = " ".join(f"{x(mid(b)):.1f},{y(b.maximum):.1f}" for b in buckets)
        lower = " ".join(f"{x(mid(b)):.1f},{y(b.minimum):.1f}" for b in reversed(buckets))
        parts.append(f'<polygon points="{upper} {lower}" fill="{BAND}" stroke="none"/>')
        line = " ".join(f"{x(mid(b)):.1f},{y(b.average):.1f}" for b in buckets)
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="2.5" '
            'stroke-linejoin="round"/>'
        )
    for bucket in buckets if len(buckets) <= 60 else []:
        parts.append(
            f'<circle cx="{x(mid(bucket)):.1f}" cy="{y(bucket.average):.1f}" r="3" fill="{LINE}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# --- view models -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SensorLocationRow:
    name: str
    url: str
    theme: str
    location: str
    map_url: str
    latest: list[str]
    measured_at: str
    ended: bool


@dataclass(frozen=True)
class MeasureChart:
    anchor: str
    title: str
    latest: str | None
    chart: Markup
    table: views.Table


def _open_sensors(reg: OrganisationRegister) -> list[Sensor]:
    return [s for s in reg.sensors() if takes_open_data(s)]


@router.get("/organisaties/{org_id}/metingen", response_class=HTMLResponse)
def overview(request: Request, org_id: str) -> HTMLResponse:
    reg = routes._org(request, org_id)
    state = routes.app_state(request)
    readings = SensorReadings(state.engine)
    today = datetime.now(MUNICIPAL_ZONE).date()
    rows = []
    for sensor in _open_sensors(reg):
        latest = readings.latest(org_id, sensor.id, sensor.measures)
        newest = max((v.measured_at for v in latest.values()), default=None)
        rows.append(
            SensorLocationRow(
                name=sensor.name,
                url=sensor_metingen_url(org_id, sensor.id),
                theme=sensor.theme,
                location=fmt.coordinate_nl(sensor.latitude, sensor.longitude),
                map_url=fmt.map_link(sensor.latitude, sensor.longitude),
                latest=[
                    f"{measure_info(m).label}: {_with_unit(latest[m].value, measure_info(m).unit)}"
                    for m in sensor.measures
                    if m in latest
                ],
                measured_at=fmt.datetime_nl(newest) if newest else "",
                ended=sensor.valid_until is not None and sensor.valid_until < today,
            )
        )
    findings = list_findings(state.engine, org_id, kinds=SENSOR_FINDINGS, limit=100)
    finding_table = views.Table(
        caption=fmt.plural(len(findings), "melding", "meldingen"),
        headers=("Wat er gebeurt", "Sensor of onderwerp", "Aantal berichten", "Eerst", "Laatst"),
        rows=[
            (
                FINDING_TITLES[f.kind][1],
                f.subject,
                str(f.count),
                fmt.datetime_nl(f.first_seen),
                fmt.datetime_nl(f.last_seen),
            )
            for f in findings
        ],
    )
    return routes.render(
        request,
        "metingen.html",
        section="sensors",
        org_id=org_id,
        org=reg.org,
        rows=rows,
        findings=finding_table if findings else None,
        api_url=f"{views.api_org_url(org_id)}/latest-measurements",
        sensors_url=views.sensors_url(org_id),
        crumbs=views.org_crumbs(
            reg, views.Crumb("Sensoren", views.sensors_url(org_id)), views.Crumb("Metingen")
        ),
    )


@router.get("/organisaties/{org_id}/metingen/{sensor_id}", response_class=HTMLResponse)
def sensor_page(request: Request, org_id: str, sensor_id: str) -> HTMLResponse:
    reg = routes._org(request, org_id)
    stored = routes._entry(reg, KIND_SENSOR, sensor_id)
    sensor = stored.entry
    if not isinstance(sensor, Sensor) or not takes_open_data(sensor):
        raise routes._not_found()
    requested = request.query_params.get("weergave", "uur")
    view: View = "dag" if requested == "dag" else "uur"
    aggregation, view_label, span = VIEWS[view]
    now = datetime.now(UTC)
    start, end = bucket_bounds(now - span, now, "hour" if view == "uur" else "day")
    readings = SensorReadings(routes.app_state(request).engine)
    series = readings.aggregate(
        org_id,
        sensor_id,
        start=start,
        end=end,
        aggregation="hour" if aggregation == "hour" else "day",
        measures=sensor.measures,
    )
    latest = readings.latest(org_id, sensor_id, sensor.measures)
    charts = []
    for measure in sensor.measures:
        info = measure_info(measure)
        buckets = series.get(measure, [])
        newest = latest.get(measure)
        charts.append(
            MeasureChart(
                anchor=f"meting-{measure.replace('_', '-')}",
                title=info.label,
                latest=(
                    f"{_with_unit(newest.value, info.unit)} op "
                    f"{fmt.datetime_nl(newest.measured_at)}"
                    if newest
                    else None
                ),
                chart=chart_svg(
                    buckets,
                    chart_id=f"grafiek-{measure.replace('_', '-')}",
                    title=f"{info.label} {view_label.lower()}",
                    unit=info.unit,
                    view=view,
                    start=start,
                    end=end,
                ),
                table=views.Table(
                    caption=f"{info.label}: {view_label.lower()}"
                    + (f" (in {info.unit})" if info.unit else ""),
                    headers=(
                        "Uur" if view == "uur" else "Dag",
                        "Gemiddeld",
                        "Laagste",
                        "Hoogste",
                        "Aantal metingen",
                    ),
                    rows=[
                        (
                            _moment_nl(b.start, view),
                            number_nl(b.average),
                            number_nl(b.minimum),
                            number_nl(b.maximum),
                            str(b.count),
                        )
                        for b in reversed(buckets)
                    ],
                ),
            )
        )
    switch = [
        views.NavItem(
            label, f"{sensor_metingen_url(org_id, sensor_id)}?weergave={key}", key == view
        )
        for key, (_agg, label, _span) in VIEWS.items()
    ]
    return routes.render(
        request,
        "meting.html",
        section="sensors",
        org_id=org_id,
        org=reg.org,
        sensor=sensor,
        location=fmt.coordinate_nl(sensor.latitude, sensor.longitude),
        map_url=fmt.map_link(sensor.latitude, sensor.longitude),
        register_url=views.sensor_url(org_id, sensor_id),
        charts=charts,
        switch=switch,
        view_label=view_label,
        api_url=(
            f"{views.api_org_url(org_id)}/sensors/{sensor_id}/measurements"
            f"?aggregation={aggregation}"
        ),
        crumbs=views.org_crumbs(
            reg,
            views.Crumb("Sensoren", views.sensors_url(org_id)),
            views.Crumb("Metingen", metingen_url(org_id)),
            views.Crumb(sensor.name),
        ),
    )
