"""Job entry point for marketing consent written back to Shopify; the work is in
`shopify_app.customers.unsubscribe`. Its dotted path is a job name (`shopify_app.jobs`)."""

from __future__ import annotations

from shopify_app.customers import unsubscribe
from shopify_app.db import get_session


def write_consent(request_id: int) -> str:
    """Send one staff consent change (an unsubscribe) to Shopify."""
    return unsubscribe.write_back(get_session(), request_id)
