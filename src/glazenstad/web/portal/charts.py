"""Charts as SVG drawn on the server: bars, stacked bars and lines, each with its data table.

Why SVG from Python: no script and no chart library to ship, nothing from another host, and the
strict Content-Security-Policy stays as it is (SVG presentation attributes such as `fill` are
attributes, not inline style, so `style-src 'self'` does not govern them; no `style` attribute is
written anywhere).

Accessibility (WCAG 2.1 AA):
- every chart is one image (`role="img"`) named by its `<title>` and described by its `<desc>`,
  which says in words what the chart shows (totals, the highest value), via `aria-labelledby`;
- nothing depends on colour alone: the series of a stacked bar differ by fill pattern (solid,
  hatched, dotted) and are named in a legend with the same pattern; lines differ by dash and
  marker shape and carry their name at their end; bars carry their value as text;
- every colour used for marks has a contrast of at least 3:1 against white (1.4.11), text at
  least 4.5:1;
- every chart comes with a `Table` of exactly the numbers it was drawn from, for a data table
  alternative next to it (the template puts it in a `<details>`).

A chart's `chart_id` prefixes every id inside it (title, description, patterns), so several
charts can share a page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

from glazenstad.web.portal.views import Table, Value

WIDTH: Final = 640
INK: Final = "#1a1a1a"
GRID: Final = "#767676"
BACKGROUND: Final = "#ffffff"
# Mark colours, each at least 3:1 against white (1.4.11) and told apart by pattern or shape too.
COLOURS: Final = ("#1f4e8c", "#a4262c", "#1a6b35", "#6b3fa0", "#5c4400")
# Fills of stacked series: solid, hatched, dotted, cross-hatched, then solid again.
PATTERNS: Final = ("solid", "hatch", "dots", "cross", "solid")
PATTERN_NAMES: Final = {
    "solid": "effen",
    "hatch": "gestreept",
    "dots": "gestippeld",
    "cross": "geruit",
}
DASHES: Final = ("", "8 4", "2 4", "12 4 2 4", "4 4")
MARKERS: Final = ("circle", "square", "triangle", "diamond", "cross")
MARKER_NAMES: Final = {
    "circle": "rondjes",
    "square": "vierkantjes",
    "triangle": "driehoekjes",
    "diamond": "ruitjes",
    "cross": "kruisjes",
}
FONT: Final = 'font-family="system-ui, sans-serif"'
EMPTY_TEXT: Final = "Geen gegevens in deze periode."


@dataclass(frozen=True)
class Series:
    """A named row of values, one per category.

    `style` picks the colour and pattern (or dash and marker) by number, so that a series keeps
    its look across charts ("denied" always hatched); by default the series' position.
    """

    name: str
    values: Sequence[float]
    style: int | None = None


@dataclass(frozen=True)
class Chart:
    """A drawn chart and the table of the numbers it was drawn from."""

    id: str
    title: str
    svg: Markup
    table: Table

    @property
    def empty(self) -> bool:
        return not self.table.rows


def number_nl(value: float) -> str:
    """12345 as "12.345", 2.5 as "2,5": Dutch digit grouping and decimal comma."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    whole, _, fraction = f"{value:,.1f}".partition(".")
    return whole.replace(",", ".") + "," + fraction


def _ticks(high: float, count: int = 4) -> list[float]:
    """Round steps from 0 to at least `high` (about `count` of them)."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(s * magnitude for s in (1, 2, 5, 10) if s * magnitude >= raw)
    if step < 1:  # counts: never a fractional step
        step = 1.0
    ticks = [0.0]
    while ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _open(chart_id: str, height: int, title: str, description: str) -> list[str]:
    return [
        f'<svg class="gs-chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


def _text(x: float, y: float, content: str, anchor: str = "start", size: int = 12) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" {FONT} '
        f'fill="{INK}">{escape(content)}</text>'
    )


def _empty(chart_id: str, title: str) -> Markup:
    parts = _open(chart_id, 80, title, EMPTY_TEXT)
    parts.append(_text(WIDTH / 2, 45, EMPTY_TEXT, "middle", 14))
    parts.append("</svg>")
    return Markup("".join(parts))


def _style(series: Sequence[Series], position: int) -> int:
    style = series[position].style
    return position if style is None else style


def _pattern_defs(chart_id: str, styles: Sequence[int]) -> str:
    """One fill per style: `url(#<chart_id>-fill-<n>)`, or a plain colour for solid ones."""
    defs = []
    for n in sorted(set(styles)):
        kind, colour = PATTERNS[n % len(PATTERNS)], COLOURS[n % len(COLOURS)]
        pid = f"{chart_id}-fill-{n}"
        if kind == "hatch":
            defs.append(
                f'<pattern id="{pid}" width="8" height="8" patternUnits="userSpaceOnUse" '
                f'patternTransform="rotate(45)"><rect width="8" height="8" fill="{BACKGROUND}"/>'
                f'<rect width="4" height="8" fill="{colour}"/></pattern>'
            )
        elif kind == "dots":
            defs.append(
                f'<pattern id="{pid}" width="6" height="6" patternUnits="userSpaceOnUse">'
                f'<rect width="6" height="6" fill="{BACKGROUND}"/>'
                f'<circle cx="3" cy="3" r="2" fill="{colour}"/></pattern>'
            )
        elif kind == "cross":
            defs.append(
                f'<pattern id="{pid}" width="8" height="8" patternUnits="userSpaceOnUse">'
                f'<rect width="8" height="8" fill="{BACKGROUND}"/>'
                f'<path d="M0 4H8M4 0V8" stroke="{colour}" stroke-width="2"/></pattern>'
            )
    return f"<defs>{''.join(defs)}</defs>" if defs else ""


def _fill(chart_id: str, n: int) -> str:
    if PATTERNS[n % len(PATTERNS)] == "solid":
        return COLOURS[n % len(COLOURS)]
    return f"url(#{chart_id}-fill-{n})"


def _table(
    title: str,
    category_header: str,
    categories: Sequence[str],
    series: Sequence[Series],
    total: bool,
) -> Table:
    headers = (category_header, *(s.name for s in series), *(("Totaal",) if total else ()))
    rows: list[tuple[Value, ...]] = []
    for index, category in enumerate(categories):
        values = [s.values[index] for s in series]
        cells = [number_nl(v) for v in values]
        if total:
            cells.append(number_nl(sum(values)))
        rows.append((category, *cells))
    return Table(caption=title, headers=headers, rows=rows)


def _check(categories: Sequence[str], series: Sequence[Series]) -> None:
    for s in series:
        if len(s.values) != len(categories):
            raise ValueError(
                f"series {s.name!r} has {len(s.values)} values for {len(categories)} categories"
            )
        if any(v < 0 or not math.isfinite(v) for v in s.values):
            raise ValueError(f"series {s.name!r} has a negative or non-finite value")


def _label_every(count: int, width: float, room: float = 72.0) -> int:
    """Show every n-th category label so that labels do not overlap."""
    fits = max(1, int(width // room))
    return max(1, math.ceil(count / fits))


# --- horizontal bars -------------------------------------------------------------------------


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    chart_id: str,
    title: str,
    label_header: str,
    value_header: str,
    description: str | None = None,
) -> Chart:
    """One bar per label, longest first as given; each label above its bar, the value beside it.

    Labels sit on their own line above the bar, so long names (activities, rules) need no room
    beside the bars and stay readable on a narrow screen.
    """
    series = [Series(value_header, list(values))]
    _check(labels, series)
    table = _table(title, label_header, labels, series, total=False)
    if not labels:
        return Chart(chart_id, title, _empty(chart_id, title), table)
    left, right, row_height, top = 8, 72, 42, 8
    height = top + row_height * len(labels) + 8
    high = max(values) or 1
    bar_width = WIDTH - left - right
    if description is None:
        peak = max(range(len(values)), key=lambda i: values[i])
        description = (
            f"{len(labels)} {'balk' if len(labels) == 1 else 'balken'}. Hoogste: "
            f"{labels[peak]} met {number_nl(values[peak])}. "
            f"Samen {number_nl(sum(values))}."
        )
    parts = _open(chart_id, height, title, description)
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + n * row_height
        parts.append(_text(left, y + 13, _clip(label, 90)))
        width = bar_width * value / high
        parts.append(
            f'<rect x="{left}" y="{y + 18}" width="{max(width, 1):.1f}" height="16" '
            f'fill="{COLOURS[0]}"/>'
        )
        parts.append(_text(left + max(width, 1) + 6, y + 31, number_nl(value)))
    parts.append("</svg>")
    return Chart(chart_id, title, Markup("".join(parts)), table)


# --- stacked bars over categories (time) -----------------------------------------------------


def _legend_stacked(chart_id: str, series: Sequence[Series], y: float) -> list[str]:
    parts, x = [], 8.0
    for position, s in enumerate(series):
        n = _style(series, position)
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 11:.1f}" width="14" height="14" '
            f'fill="{_fill(chart_id, n)}" '
            f'stroke="{COLOURS[n % len(COLOURS)]}" stroke-width="1"/>'
        )
        name = f"{s.name} ({PATTERN_NAMES[PATTERNS[n % len(PATTERNS)]]})"
        parts.append(_text(x + 20, y, name))
        x += 20 + 7.2 * len(name) + 24
    return parts


def stacked_bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    title: str,
    category_header: str,
    description: str | None = None,
    category_labels: Sequence[str] | None = None,
) -> Chart:
    """Vertical bars per category (e.g. per day), the series stacked bottom-up in given order.

    `category_labels`: shorter texts for the axis (e.g. "3 mrt"); the table uses `categories`.
    """
    _check(categories, series)
    table = _table(title, category_header, categories, series, total=True)
    if not categories or not series or not any(v for s in series for v in s.values):
        return Chart(chart_id, title, _empty(chart_id, title), Table(title, table.headers, []))
    height, left, right, top, bottom = 300, 56, 12, 40, 36
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    ticks = _ticks(max(totals))
    scale = plot_h / ticks[-1]
    slot = plot_w / len(categories)
    bar = max(min(slot * 0.7, 40), 1.0)
    if description is None:
        peak = max(range(len(totals)), key=lambda i: totals[i])
        sums = ", ".join(f"{s.name} {number_nl(sum(s.values))}" for s in series)
        description = (
            f"{len(categories)} {category_header.lower()}en. Samen: {sums}. Hoogste: "
            f"{categories[peak]} met {number_nl(totals[peak])}."
        )
    parts = _open(chart_id, height, title, description)
    parts.append(_pattern_defs(chart_id, [_style(series, p) for p in range(len(series))]))
    parts += _legend_stacked(chart_id, series, 18)
    for tick in ticks:
        y = top + plot_h - tick * scale
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" '
            'stroke-width="0.5" stroke-dasharray="3 3"/>'
        )
        parts.append(_text(left - 6, y + 4, number_nl(tick), "end"))
    labels = category_labels or categories
    every = _label_every(len(categories), plot_w)
    for i in range(len(categories)):
        x = left + slot * i + (slot - bar) / 2
        base = float(top + plot_h)
        for position, s in enumerate(series):
            value = s.values[i]
            if not value:
                continue
            n = _style(series, position)
            h = value * scale
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{_fill(chart_id, n)}" stroke="{COLOURS[n % len(COLOURS)]}" '
                'stroke-width="1"/>'
            )
        if i % every == 0:
            parts.append(_text(x + bar / 2, height - bottom + 18, labels[i], "middle"))
    parts.append(
        f'<line x1="{left}" x2="{WIDTH - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Chart(chart_id, title, Markup("".join(parts)), table)


# --- lines -----------------------------------------------------------------------------------


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
    if kind == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    if kind == "triangle":
        return (
            f'<path d="M{x:.1f} {y - 4.5:.1f}L{x + 4.5:.1f} {y + 3.5:.1f}'
            f'L{x - 4.5:.1f} {y + 3.5:.1f}Z" fill="{colour}"/>'
        )
    if kind == "diamond":
        return (
            f'<path d="M{x:.1f} {y - 5:.1f}L{x + 5:.1f} {y:.1f}L{x:.1f} {y + 5:.1f}'
            f'L{x - 5:.1f} {y:.1f}Z" fill="{colour}"/>'
        )
    return (
        f'<path d="M{x - 4:.1f} {y - 4:.1f}L{x + 4:.1f} {y + 4:.1f}M{x - 4:.1f} {y + 4:.1f}'
        f'L{x + 4:.1f} {y - 4:.1f}" stroke="{colour}" stroke-width="2"/>'
    )


def _spread(positions: list[float], gap: float, low: float, high: float) -> list[float]:
    """Move label positions apart to at least `gap`, keeping their order, within [low, high]."""
    order = sorted(range(len(positions)), key=lambda i: positions[i])
    placed = [0.0] * len(positions)
    last = low - gap
    for i in order:
        placed[i] = max(positions[i], last + gap)
        last = placed[i]
    overflow = last - high
    if overflow > 0:
        for i in order:
            placed[i] -= overflow
    return placed


def line_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    title: str,
    category_header: str,
    description: str | None = None,
    category_labels: Sequence[str] | None = None,
) -> Chart:
    """One line per series over the categories; the series' name stands at its line's end.

    Lines differ by colour, dash and marker shape, and the legend names the dash and marker, so
    they are told apart without colour. At most five series read well; pass the largest few.
    """
    _check(categories, series)
    table = _table(title, category_header, categories, series, total=len(series) > 1)
    if not categories or not series or not any(v for s in series for v in s.values):
        return Chart(chart_id, title, _empty(chart_id, title), Table(title, table.headers, []))
    label_room = 150
    height, left, top, bottom = 300, 56, 16 + 18 * len(series), 36
    right = label_room
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    ticks = _ticks(max(max(s.values) for s in series))
    scale = plot_h / ticks[-1]
    step = plot_w / max(len(categories) - 1, 1)

    def x(i: int) -> float:
        return left + (step * i if len(categories) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - value * scale

    if description is None:
        described = []
        for s in series:
            peak = max(range(len(s.values)), key=lambda i: s.values[i])
            described.append(
                f"{s.name}: samen {number_nl(sum(s.values))}, hoogste "
                f"{number_nl(s.values[peak])} op {categories[peak]}"
            )
        description = f"{len(categories)} {category_header.lower()}en. " + "; ".join(described)
        description += "."
    parts = _open(chart_id, height, title, description)
    for position, s in enumerate(series):  # legend: a line sample with marker, then the name
        n = _style(series, position) % 5
        colour, dash, marker = COLOURS[n], DASHES[n], MARKERS[n]
        ly = 14 + 18 * n
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="8" x2="40" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
            f'stroke-width="2.5"{dash_attr}/>'
        )
        parts.append(_marker(marker, 24, ly - 4, colour))
        parts.append(_text(48, ly, f"{s.name} ({MARKER_NAMES[marker]})"))
    for tick in ticks:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{GRID}" stroke-width="0.5" stroke-dasharray="3 3"/>'
        )
        parts.append(_text(left - 6, y(tick) + 4, number_nl(tick), "end"))
    labels = category_labels or categories
    every = _label_every(len(categories), plot_w)
    for i in range(0, len(categories), every):
        parts.append(_text(x(i), height - bottom + 18, labels[i], "middle"))
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    show_markers = len(categories) <= 62
    for position, s in enumerate(series):
        n = _style(series, position) % 5
        colour, dash, marker = COLOURS[n], DASHES[n], MARKERS[n]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5" '
            f'stroke-linejoin="round"{dash_attr}/>'
        )
        if show_markers:
            parts += [_marker(marker, x(i), y(v), colour) for i, v in enumerate(s.values)]
        else:
            parts.append(_marker(marker, x(len(s.values) - 1), y(s.values[-1]), colour))
    ends = _spread([y(s.values[-1]) + 4 for s in series], 14, top + 4, top + plot_h + 4)
    for s, end in zip(series, ends, strict=True):
        parts.append(_text(left + plot_w + 8, end, _clip(s.name, 20)))
    parts.append("</svg>")
    return Chart(chart_id, title, Markup("".join(parts)), table)
