"""The server-drawn SVG charts (admin/charts.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from shopify_app.admin import charts

DAYS = [date(2026, 12, 1) + timedelta(days=i) for i in range(3)]


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (1, 1), (3, 5), (5, 5), (7, 10), (11, 20), (21, 25), (2_640, 5_000), (0.4, 0.5)],
)
def test_the_axis_top_is_a_round_number_at_or_above_the_largest_value(value, top):
    assert charts.nice_ceiling(value) == top


def test_a_chart_is_labelled_and_escapes_what_it_shows():
    svg = str(
        charts.bar_chart("clicks", DAYS, [1, 0, 4], title="<b>Clicks</b>", description="4 & more")
    )
    assert 'role="img" aria-labelledby="chart-clicks-title chart-clicks-desc"' in svg
    assert '<title id="chart-clicks-title">&lt;b&gt;Clicks&lt;/b&gt;</title>' in svg
    assert '<desc id="chart-clicks-desc">4 &amp; more</desc>' in svg
    assert svg.count('<rect class="bar"') == 3 and "2026-12-03: 4</title>" in svg
    assert "None in this period" not in svg


def test_an_empty_chart_says_so():
    svg = str(charts.bar_chart("shares", DAYS, [0, 0, 0], title="Shares", description="none"))
    assert "None in this period" in svg
