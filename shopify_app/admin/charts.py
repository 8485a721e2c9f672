"""Bar charts drawn on the server as inline SVG: no script and nothing from a CDN, so they
show offline and before anything else loads. Each chart has a <title> and a <desc> (read
by screen readers, through `aria-labelledby`); the page puts the same numbers in a table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from babel.dates import format_date
from flask_babel import gettext as _
from markupsafe import Markup, escape

from shopify_app.i18n import DEFAULT_LOCALE, current_locale, day_text, integer_text

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 10, 12, 28


def whole_number(value: float) -> str:
    """A count on an axis or in a total: "1,234" in English, "1 234" in Finnish."""
    if current_locale() == DEFAULT_LOCALE:
        return f"{value:,.0f}"
    return integer_text(round(value))


def day_mark(day: date) -> str:
    """A date under the x axis: "Dec 5" in English, "5.12." in Finnish."""
    locale = current_locale()
    if locale == DEFAULT_LOCALE:
        return day.strftime("%b %-d")
    return format_date(day, "d.M." if locale == "fi" else "MMM d", locale=locale)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above `value` (an axis maximum)."""
    if value <= 0:
        return 1
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def bar_chart(
    key: str,
    days: Sequence[date],
    values: Sequence[float],
    *,
    title: str,
    description: str,
    fmt: Callable[[float], str] | None = None,
    css_class: str = "",
) -> Markup:
    """One bar per day, grid lines at 0, half and the top (labelled at 0 and the top), and
    the first, middle and last dates under the x axis."""
    n = max(len(values), 1)
    top = nice_ceiling(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    bar_w = max(slot * 0.72, 1.0)
    uid = escape(key)
    fmt = fmt or whole_number
    empty = _("None in this period") if not any(v > 0 for v in values) else None
    parts = [
        f'<svg class="chart {escape(css_class)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-{uid}-title chart-{uid}-desc" '
        'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-{uid}-title">{escape(title)}</title>',
        f'<desc id="chart-{uid}-desc">{escape(description)}</desc>',
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#e3e3e3" stroke-width="1"/>'
        )
        if fraction == 0 or (fraction == 1 and empty is None):  # half may not be whole
            parts.append(
                f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                f'font-size="14" fill="#616161">{escape(fmt(top * fraction))}</text>'
            )
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = plot_h * (value / top) if value > 0 else 0
        x = LEFT + i * slot + (slot - bar_w) / 2
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" fill="#2c6ecb"><title>{escape(day_text(day))}: '
            f"{escape(fmt(value))}</title></rect>"
        )
    if days:
        marks = sorted({0, len(days) // 2, len(days) - 1})
        for i in marks:
            x = LEFT + (i + 0.5) * slot
            anchor = "start" if i == 0 and len(marks) > 1 else "end" if i == marks[-1] else "middle"
            if len(marks) == 1:
                anchor = "middle"
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}" '
                f'font-size="14" fill="#616161">{escape(day_mark(days[i]))}</text>'
            )
    if empty:
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2 + 4:.1f}" '
            f'text-anchor="middle" font-size="17" fill="#616161">{empty}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text and attribute above is escaped
