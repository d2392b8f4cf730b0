"""The SVG charts: valid XML, an accessible name and description, readable without colour, the
same numbers in the picture and in the table, and no inline style or script (CSP)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glazenstad.web.portal import charts
from glazenstad.web.portal.charts import Series

SVG = "{http://www.w3.org/2000/svg}"


def parse(chart: charts.Chart) -> ET.Element:
    return ET.fromstring(str(chart.svg))


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def assert_accessible(chart: charts.Chart, title: str) -> ET.Element:
    """role=img, named by its <title> and described by its <desc>, through ids inside it."""
    root = parse(chart)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    ids = {str(el.get("id")): el for el in root.iter() if el.get("id")}
    labelled = (root.get("aria-labelledby") or "").split()
    assert len(labelled) == 2, labelled
    name, description = (ids[i] for i in labelled)
    assert name.tag == f"{SVG}title" and name.text == title
    assert description.tag == f"{SVG}desc" and (description.text or "").strip()
    assert all(i.startswith(chart.id + "-") for i in ids), ids  # unique on a page of charts
    return root


def assert_csp_safe(chart: charts.Chart) -> None:
    for element in parse(chart).iter():
        assert "style" not in element.attrib, element.tag
        assert not any(a.startswith("on") for a in element.attrib), element.attrib
        assert not element.tag.endswith("script")
        assert not element.tag.endswith("foreignObject")


def test_number_nl() -> None:
    assert charts.number_nl(0) == "0"
    assert charts.number_nl(12345) == "12.345"
    assert charts.number_nl(1234567.0) == "1.234.567"
    assert charts.number_nl(2.5) == "2,5"
    assert charts.number_nl(12345.25) == "12.345,2"


def test_bar_chart_draws_each_value_and_its_table() -> None:
    chart = charts.bar_chart(
        ["Parkeren", "Wmo", "Bijstand"],
        [1200, 600, 0],
        chart_id="bars",
        title="Besluiten per verwerking",
        label_header="Verwerking",
        value_header="Besluiten",
    )
    root = assert_accessible(chart, "Besluiten per verwerking")
    assert_csp_safe(chart)
    words = texts(root)
    for label, value in (("Parkeren", "1.200"), ("Wmo", "600"), ("Bijstand", "0")):
        assert label in words and value in words  # direct labels: no legend or colour needed
    bars = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")]
    assert bars[0] == pytest.approx(2 * bars[1], rel=0.01)
    assert chart.table.headers == ("Verwerking", "Besluiten")
    assert chart.table.rows == [("Parkeren", "1.200"), ("Wmo", "600"), ("Bijstand", "0")]
    assert chart.table.caption == "Besluiten per verwerking"
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "Parkeren met 1.200" in (desc.text or "")


def test_stacked_bars_differ_by_pattern_and_add_up() -> None:
    days = ["1 maart 2026", "2 maart 2026", "3 maart 2026"]
    chart = charts.stacked_bar_chart(
        days,
        [
            Series("Toegestaan", [10, 0, 30]),
            Series("Nood", [1, 0, 0]),
            Series("Geweigerd", [5, 0, 10]),
        ],
        chart_id="stack",
        title="Besluiten per dag",
        category_header="Dag",
        category_labels=["1 mrt", "2 mrt", "3 mrt"],
    )
    root = assert_accessible(chart, "Besluiten per dag")
    assert_csp_safe(chart)
    patterns = {p.get("id") for p in root.iter(f"{SVG}pattern")}
    assert patterns == {"stack-fill-1", "stack-fill-2"}  # the first series is solid
    fills = {r.get("fill") for r in root.iter(f"{SVG}rect") if r.get("height") != "14"}
    assert {"url(#stack-fill-1)", "url(#stack-fill-2)"} <= fills
    legend = " ".join(texts(root))
    assert "Toegestaan (effen)" in legend
    assert "Nood (gestreept)" in legend and "Geweigerd (gestippeld)" in legend
    # Bar heights are proportional to the values: day 3 (40) is 40/16 of day 1 (16).
    width: dict[str, float] = {}
    for rect in root.iter(f"{SVG}rect"):
        if rect.get("width") not in (None, "14") and rect.get("x") is not None:
            x = str(rect.get("x"))
            width[x] = width.get(x, 0.0) + float(rect.get("height", 0))
    heights = sorted(width.values())
    assert heights[-1] / heights[0] == pytest.approx(40 / 16, rel=0.02)
    assert chart.table.headers == ("Dag", "Toegestaan", "Nood", "Geweigerd", "Totaal")
    assert chart.table.rows[0] == ("1 maart 2026", "10", "1", "5", "16")
    assert chart.table.rows[1] == ("2 maart 2026", "0", "0", "0", "0")
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert "Toegestaan 40" in (desc.text or "") and "3 maart 2026 met 40" in (desc.text or "")


def test_lines_differ_by_dash_and_marker_and_carry_their_names() -> None:
    chart = charts.line_chart(
        ["a", "b", "c", "d"],
        [
            Series("Parkeren", [1, 2, 3, 4]),
            Series("Wmo", [4, 3, 2, 1]),
            Series("Afval", [0, 0, 5, 0]),
        ],
        chart_id="lines",
        title="Logregels",
        category_header="Dag",
    )
    root = assert_accessible(chart, "Logregels")
    assert_csp_safe(chart)
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 3
    assert len({line.get("stroke-dasharray") for line in lines}) == 3
    words = texts(root)
    for name, marker in (("Parkeren", "rondjes"), ("Wmo", "vierkantjes"), ("Afval", "driehoekjes")):
        assert f"{name} ({marker})" in words  # legend names dash sample and marker shape
        assert name in words  # and the name stands at the end of its line
    assert chart.table.rows[2] == ("c", "3", "2", "5", "10")


def test_empty_chart_says_so_and_has_no_table_rows() -> None:
    for chart in (
        charts.bar_chart([], [], chart_id="e1", title="Leeg", label_header="x", value_header="y"),
        charts.stacked_bar_chart(
            ["1 mrt"], [Series("A", [0])], chart_id="e2", title="Leeg", category_header="Dag"
        ),
        charts.line_chart(["1 mrt"], [], chart_id="e3", title="Leeg", category_header="Dag"),
    ):
        root = assert_accessible(chart, "Leeg")
        assert charts.EMPTY_TEXT in texts(root)
        assert chart.empty and chart.table.rows == []


def test_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & co'
    chart = charts.bar_chart(
        [hostile], [3], chart_id="x", title=hostile, label_header="a", value_header="b"
    )
    root = assert_accessible(chart, hostile)
    assert "<script>" not in str(chart.svg)
    assert hostile in texts(root)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="2 values for 3 categories"):
        charts.line_chart(
            ["a", "b", "c"], [Series("s", [1, 2])], chart_id="x", title="t", category_header="h"
        )
    with pytest.raises(ValueError, match="negative"):
        charts.bar_chart(["a"], [-1], chart_id="x", title="t", label_header="a", value_header="b")


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_mark_colours_contrast_with_white() -> None:
    """WCAG 1.4.11: graphical objects at least 3:1 against the background; text 4.5:1."""
    for colour in (*charts.COLOURS, charts.GRID):
        assert (1.05) / (_luminance(colour) + 0.05) >= 3, colour
    assert 1.05 / (_luminance(charts.INK) + 0.05) >= 4.5


counts = st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(first=counts, data=st.data())
def test_any_counts_give_valid_svg_and_the_same_numbers(
    first: list[int], data: st.DataObject
) -> None:
    second = data.draw(st.lists(st.integers(0, 10**7), min_size=len(first), max_size=len(first)))
    categories = [f"dag {n}" for n in range(len(first))]
    series = [Series("Toegestaan", first), Series("Geweigerd", second)]
    for chart in (
        charts.stacked_bar_chart(
            categories, series, chart_id="p", title="Besluiten", category_header="Dag"
        ),
        charts.line_chart(
            categories, series, chart_id="q", title="Besluiten", category_header="Dag"
        ),
    ):
        root = assert_accessible(chart, "Besluiten")
        if chart.empty:
            assert not any(first) and not any(second)
            continue
        for n, row in enumerate(chart.table.rows):
            assert row[1:] == (
                charts.number_nl(first[n]),
                charts.number_nl(second[n]),
                charts.number_nl(first[n] + second[n]),
            )
        numbers = [
            float(v)
            for el in root.iter()
            for k, v in el.attrib.items()
            if k in ("x", "y", "width", "height") and re.fullmatch(r"-?[\d.]+", v)
        ]
        assert all(-1 <= n <= 700 for n in numbers)  # everything inside the picture


def test_a_series_keeps_its_style_whatever_its_position() -> None:
    chart = charts.stacked_bar_chart(
        ["a"],
        [
            Series("Toegestaan", [3], style=0),
            Series("Nood", [1], style=2),
            Series("Nee", [2], style=1),
        ],
        chart_id="s",
        title="Besluiten",
        category_header="Dag",
    )
    words = texts(parse(chart))
    assert "Nood (gestippeld)" in words and "Nee (gestreept)" in words
    fills = {r.get("fill") for r in parse(chart).iter(f"{SVG}rect")}
    assert {"url(#s-fill-1)", "url(#s-fill-2)", charts.COLOURS[0]} <= fills
