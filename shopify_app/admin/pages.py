"""What the admin pages share: reading a page cursor, and a page after a staff action."""

from __future__ import annotations

from typing import Any

from flask import render_template, request


def int_arg(name: str) -> int | None:
    """A non-negative integer query argument (a page cursor), or None."""
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def render_outcome(
    template: str, http_status: int, *, message: str | None, problem: str | None, **context: Any
) -> tuple[str, int]:
    """A page after a staff action: `message` (shown as a toast too) or `problem`, with the
    page's own `context`."""
    return (
        render_template(template, message=message, problem=problem, toast=message, **context),
        http_status,
    )
