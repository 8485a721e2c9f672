"""Job entry point for the app's web pixel on a shop; the work is in
`shopify_app.web_pixel`. Its dotted path is a job name (`shopify_app.jobs`)."""

from __future__ import annotations

from shopify_app import web_pixel
from shopify_app.db import get_session


def activate_web_pixel(shop_id: int) -> str:
    """Create (or update) the shop's web pixel with its current settings."""
    return web_pixel.activate(get_session(), shop_id)
