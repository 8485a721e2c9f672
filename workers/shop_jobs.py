"""Job entry point for reading a shop's primary language; the work is in
`shopify_app.shop_locale`. Its dotted path is a job name (`shopify_app.jobs`)."""

from __future__ import annotations

from shopify_app import shop_locale
from shopify_app.db import get_session


def read_shop_locale(shop_id: int) -> str:
    """Read the shop's primary locale (`shopLocales`) into `Shop.primary_locale`."""
    return shop_locale.read(get_session(), shop_id)
