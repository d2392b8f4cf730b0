"""Register values in plain Dutch: durations, dates, months, coordinates, countries."""

from __future__ import annotations

import datetime as dt

import pytest

from glazenstad.web.portal import format as fmt
from glazenstad.web.portal.views import ActivityFilters, retention_text, value_kind


@pytest.mark.parametrize(
    ("iso", "dutch"),
    [
        ("PT24H", "24 uur"),
        ("PT1H", "1 uur"),
        ("P6M", "6 maanden"),
        ("P1M", "1 maand"),
        ("P7Y", "7 jaar"),
        ("P1Y", "1 jaar"),
        ("P15Y", "15 jaar"),
        ("P2W", "2 weken"),
        ("P1W", "1 week"),
        ("P30D", "30 dagen"),
        ("P1D", "1 dag"),
        ("PT30M", "30 minuten"),
        ("PT1M", "1 minuut"),
        ("PT10S", "10 seconden"),
        ("P1Y6M", "1 jaar en 6 maanden"),
        ("P1Y2M3D", "1 jaar, 2 maanden en 3 dagen"),
        ("P1DT12H", "1 dag en 12 uur"),
        ("P0Y6M", "6 maanden"),
        ("PT1.5H", "1,5 uur"),
        ("PT0,5H", "0,5 uur"),
        ("p6m", "6 maanden"),
    ],
)
def test_duration_in_dutch(iso: str, dutch: str) -> None:
    assert fmt.duration_nl(iso) == dutch


def test_month_and_minute_are_told_apart_by_the_time_designator() -> None:
    assert fmt.duration_nl("P3M") == "3 maanden"
    assert fmt.duration_nl("PT3M") == "3 minuten"


@pytest.mark.parametrize("odd", ["P0001-00-00", "PT", "P", "24 uur", "P1H"])
def test_duration_not_understood_is_shown_as_given(odd: str) -> None:
    assert fmt.duration_nl(odd) == odd


def test_empty_duration_is_empty() -> None:
    assert fmt.duration_nl(None) == ""
    assert fmt.duration_nl("") == ""


def test_dates_and_months_in_dutch() -> None:
    assert fmt.date_nl(dt.date(2024, 3, 1)) == "1 maart 2024"
    assert fmt.date_nl(dt.datetime(2025, 12, 31, 23, 59)) == "31 december 2025"
    assert fmt.date_nl(None) == ""
    assert fmt.month_nl("2020-01") == "januari 2020"
    assert fmt.month_nl("2020-13") == "2020-13"
    assert fmt.month_nl(None) == ""


def test_moments_in_dutch_time() -> None:
    # Stored times are UTC; residents read Dutch time, winter (UTC+1) and summer (UTC+2).
    winter = dt.datetime(2026, 1, 15, 8, 5, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC)
    assert fmt.datetime_nl(winter) == "15 januari 2026 om 9.05 uur"
    assert fmt.datetime_nl(summer) == "2 juli 2026 om 0.30 uur"
    assert fmt.datetime_nl(winter.replace(tzinfo=None)) == "15 januari 2026 om 9.05 uur"
    assert fmt.datetime_nl(None) == ""


def test_join_in_dutch_prose() -> None:
    assert fmt.join_nl([]) == ""
    assert fmt.join_nl(["a"]) == "a"
    assert fmt.join_nl(["a", "b"]) == "a en b"
    assert fmt.join_nl(["a", "b", "c"]) == "a, b en c"


def test_coordinates_use_decimal_comma_and_compass_letters() -> None:
    assert fmt.coordinate_nl(52.09, 5.12) == "52,0900° N, 5,1200° O"
    assert fmt.coordinate_nl(-33.9, -70.6) == "33,9000° Z, 70,6000° W"
    assert fmt.map_link(52.09, 5.12).startswith("https://www.openstreetmap.org/?mlat=52.09000")


def test_countries_labels_and_yes_no() -> None:
    assert fmt.country_nl("US") == "Verenigde Staten (US)"
    assert fmt.country_nl("zz") == "ZZ"
    assert fmt.yes_no(True) == "ja"
    assert fmt.yes_no(False) == "nee"
    assert fmt.yes_no(None) == "onbekend"
    assert fmt.label(fmt.DPIA_STATUS_NL, "uitgevoerd") == "Uitgevoerd"
    assert fmt.label(fmt.DPIA_STATUS_NL, "iets-nieuws") == "iets-nieuws"
    assert fmt.plural(1, "verwerking", "verwerkingen") == "1 verwerking"
    assert fmt.plural(0, "verwerking", "verwerkingen") == "0 verwerkingen"


def test_retention_sentence() -> None:
    assert retention_text("PT24H", None) == "24 uur"
    assert retention_text("P6M", "einde bezwaartermijn") == "6 maanden na einde bezwaartermijn"
    assert retention_text(None, "einde dienstverband") == "Tot einde dienstverband"


def test_search_filters_are_lenient_about_odd_input() -> None:
    filters = ActivityFilters.from_query(
        {
            "q": "  parkeren  ",
            "grondslag": "z",
            "vertrouwelijkheid": "geheim",
            "bijzonder": "misschien",
            "pagina": "-3",
            "thema": "x" * 500,
        }
    )
    assert filters.q == "parkeren"
    assert filters.grondslag == ""
    assert filters.vertrouwelijkheid == ""
    assert filters.bijzonder == ""
    assert filters.pagina == 1
    assert len(filters.thema) == 200
    assert ActivityFilters.from_query({"pagina": "twee"}).pagina == 1


def test_search_query_string_keeps_filters_for_pagination() -> None:
    filters = ActivityFilters.from_query({"q": "wmo zorg", "bijzonder": "ja"})
    assert filters.active
    assert filters.query_string(pagina=2) == "q=wmo+zorg&bijzonder=ja&pagina=2"
    assert filters.query_string(pagina=1) == "q=wmo+zorg&bijzonder=ja"
    assert not ActivityFilters().active


def test_value_kinds_pick_the_template_markup() -> None:
    from markupsafe import Markup

    from glazenstad.web.portal.views import Badge, Link

    assert value_kind(None) == "empty"
    assert value_kind("") == "empty"
    assert value_kind([]) == "empty"
    assert value_kind("tekst") == "text"
    assert value_kind(Markup("<p>x</p>")) == "markup"
    assert value_kind(Link("a", "/a")) == "link"
    assert value_kind(Badge("BSN")) == "badge"
    assert value_kind(["a", "b"]) == "list"
