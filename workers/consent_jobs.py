"""Job entry point for marketing consent written back to Shopify; the work is in
`shopify_app.customers.consent_requests`. Its dotted path is a job name (`shopify_app.jobs`)."""

from __future__ import annotations

from shopify_app.customers import consent_requests
from shopify_app.db import get_session


def write_consent(request_id: int) -> str:
    """Send one consent change (a staff unsubscribe, a confirmed signup) to Shopify."""
    return consent_requests.write_back(get_session(), request_id)
