"""Job entry points for housekeeping run on a schedule."""

from __future__ import annotations

from sqlalchemy import delete

from shopify_app.api import idempotency
from shopify_app.db import get_session
from shopify_app.emails.quotas import purge_expired
from shopify_app.models import OAuthState, utcnow
from shopify_app.shopify.offline_tokens import refresh_expiring_tokens as refresh_tokens
from shopify_app.shopify.services import shopify


def refresh_expiring_tokens(horizon_seconds: int = 900) -> dict[str, int]:
    """Refresh offline tokens that expire within `horizon_seconds` (counts for the result)."""
    return refresh_tokens(get_session(), shopify(), horizon_seconds)


def purge_expired_oauth_states() -> int:
    session = get_session()
    deleted = session.execute(delete(OAuthState).where(OAuthState.expires_at < utcnow())).rowcount
    session.commit()
    return deleted


def purge_send_quotas() -> int:
    """Drop share-limit counters whose period has ended."""
    session = get_session()
    deleted = purge_expired(session)
    session.commit()
    return deleted


def purge_idempotent_requests() -> int:
    """Drop the public API's kept answers once their 24 hours are over."""
    return idempotency.purge_expired(get_session())
