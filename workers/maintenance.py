"""Housekeeping jobs run on a schedule."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select

from shopify_app.db import get_session
from shopify_app.models import OAuthState, Shop, utcnow
from shopify_app.shopify.errors import ReauthorizationRequired, ShopifyError
from shopify_app.shopify.offline_tokens import offline_access_token
from shopify_app.shopify.services import shopify

log = logging.getLogger(__name__)


def refresh_expiring_tokens(horizon_seconds: int = 900) -> dict[str, int]:
    """Refresh offline tokens that expire within `horizon_seconds`, so background work never
    starts with a token about to lapse. Returns counts for the job result."""
    session = get_session()
    services = shopify()
    cutoff = utcnow() + timedelta(seconds=horizon_seconds)
    shops = session.scalars(
        select(Shop).where(
            Shop.installed_at.is_not(None),
            Shop.uninstalled_at.is_(None),
            Shop.reauth_required_at.is_(None),
            Shop.access_token_expires_at.is_not(None),
            Shop.access_token_expires_at < cutoff,
        )
    ).all()
    counts = {"refreshed": 0, "reauth_required": 0, "failed": 0}
    for shop in shops:
        try:
            offline_access_token(session, shop, services, margin_seconds=horizon_seconds)
            counts["refreshed"] += 1
        except ReauthorizationRequired:
            counts["reauth_required"] += 1
        except ShopifyError:
            log.exception("token refresh failed for %s", shop.domain)
            counts["failed"] += 1
    return counts


def purge_expired_oauth_states() -> int:
    session = get_session()
    deleted = session.execute(delete(OAuthState).where(OAuthState.expires_at < utcnow())).rowcount
    session.commit()
    return deleted


def purge_send_quotas() -> int:
    """Drop share-limit counters whose period has ended."""
    from shopify_app.emails.quotas import purge_expired

    session = get_session()
    deleted = purge_expired(session)
    session.commit()
    return deleted
