"""Installing shops and keeping their expiring offline access tokens fresh.

Refreshes are serialised per shop by a lease on the `shops` row (an expiry and an owner
nonce), taken with one conditional UPDATE: it works the same on SQLite and PostgreSQL,
across web and worker processes, and lapses on its own if its holder dies. Shopify rotates
the refresh token on every refresh, so two concurrent refreshes would race; the lease
prevents that. The lease outlives the slowest refresh the token endpoint allows.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from datetime import datetime, timedelta

from sqlalchemy import String, bindparam, or_, select, update
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.db import insert_ignore
from shopify_app.models import Shop, SyncRun, utcnow

from .errors import InvalidClient, InvalidGrant, ReauthorizationRequired, ShopifyError
from .id_token import IdTokenClaims
from .oauth import AccessTokenGrant
from .services import ShopifyServices

log = logging.getLogger(__name__)

LEASE_SECONDS = 120


@functools.cache
def _shop_by_domain():
    """Built once: every admin request's first query."""
    return select(Shop).where(Shop.domain == bindparam("domain", type_=String))


def get_shop(session: Session, domain: str) -> Shop | None:
    return session.scalar(_shop_by_domain(), {"domain": domain})


def get_or_create_shop(session: Session, domain: str) -> Shop:
    """The shop's row, created (not installed, no tokens) if this is the first we hear of it.

    Concurrent callers are safe: the insert ignores a conflict on the unique domain.
    """
    shop = get_shop(session, domain)
    if shop is None:
        now = utcnow()
        insert_ignore(
            session,
            Shop,
            {"domain": domain, "scopes": "", "created_at": now, "updated_at": now},
            ["domain"],
        )
        shop = get_shop(session, domain)
    assert shop is not None
    return shop


def save_grant(
    session: Session, shop: Shop, grant: AccessTokenGrant, services: ShopifyServices
) -> None:
    cipher = services.cipher
    shop.access_token_enc = cipher.encrypt(grant.access_token)
    shop.access_token_expires_at = grant.expires_at
    if grant.refresh_token:
        shop.refresh_token_enc = cipher.encrypt(grant.refresh_token)
        shop.refresh_token_expires_at = grant.refresh_token_expires_at
    if grant.scope:
        shop.scopes = grant.scope
    shop.reauth_required_at = None


def record_install(
    session: Session, domain: str, grant: AccessTokenGrant, services: ShopifyServices
) -> Shop:
    """Create or revive the shop row with a fresh grant; commits."""
    shop = get_or_create_shop(session, domain)
    newly_installed = not shop.is_installed
    if newly_installed:
        shop.installed_at = utcnow()
        shop.uninstalled_at = None
    save_grant(session, shop, grant, services)
    if newly_installed and services.initial_import:
        session.flush()
        session.add(SyncRun(shop_id=shop.id, kind="import", status="running", started_at=utcnow()))
        jobs.enqueue_after_commit(session, jobs.START_IMPORT, shop.id)
    session.commit()
    return shop


def install_with_id_token(
    session: Session, claims: IdTokenClaims, services: ShopifyServices
) -> Shop:
    """Token exchange: trade the merchant's ID token for an expiring offline token."""
    grant = services.token_endpoint.exchange_id_token(claims.shop, claims.raw)
    return record_install(session, claims.shop, grant, services)


def token_is_fresh(shop: Shop, margin_seconds: int, now: datetime | None = None) -> bool:
    if not shop.access_token_enc or shop.reauth_required_at is not None:
        return False
    if shop.access_token_expires_at is None:
        return True
    now = now or utcnow()
    return shop.access_token_expires_at - now > timedelta(seconds=margin_seconds)


def ensure_installed(session: Session, claims: IdTokenClaims, services: ShopifyServices) -> Shop:
    """The embedded request path: a shop with a usable token, exchanging one if needed."""
    shop = get_shop(session, claims.shop)
    if shop is not None and shop.is_installed:
        if token_is_fresh(shop, services.refresh_margin_seconds):
            return shop
        try:
            offline_access_token(session, shop, services)
            return shop
        except ReauthorizationRequired:
            pass  # the merchant is here with a valid ID token: exchange it below
    return install_with_id_token(session, claims, services)


def clear_tokens(shop: Shop) -> None:
    shop.access_token_enc = None
    shop.access_token_expires_at = None
    shop.refresh_token_enc = None
    shop.refresh_token_expires_at = None


def offline_access_token(
    session: Session, shop: Shop, services: ShopifyServices, *, margin_seconds: int | None = None
) -> str:
    """Return a usable offline access token for `shop`, refreshing it when close to expiry.

    `margin_seconds` (default: the configured margin) is how close to expiry counts as stale.

    Raises:
        ReauthorizationRequired: no token, the shop is uninstalled, or the refresh token is
            dead; the next time the merchant opens the app a token exchange replaces it.
    """
    margin = services.refresh_margin_seconds if margin_seconds is None else margin_seconds
    deadline = time.monotonic() + LEASE_SECONDS + 5
    while True:
        session.refresh(shop)
        if not shop.is_installed or shop.reauth_required_at is not None:
            raise ReauthorizationRequired(f"{shop.domain} needs the merchant to open the app")
        if token_is_fresh(shop, margin):
            return services.cipher.decrypt(shop.access_token_enc or "")
        now = utcnow()
        if not shop.refresh_token_enc or (
            shop.refresh_token_expires_at is not None and shop.refresh_token_expires_at <= now
        ):
            clear_tokens(shop)
            shop.reauth_required_at = now
            session.commit()
            raise ReauthorizationRequired(f"{shop.domain} has no valid refresh token")
        owner = _acquire_lease(session, shop.id, now)
        if owner is not None:
            return _refresh_holding_lease(session, shop, services, owner, margin)
        if time.monotonic() > deadline:
            raise ReauthorizationRequired(f"{shop.domain}: token refresh did not finish in time")
        time.sleep(0.1)


def refresh_expiring_tokens(
    session: Session, services: ShopifyServices, horizon_seconds: int
) -> dict[str, int]:
    """Refresh offline tokens that expire within `horizon_seconds`, so background work never
    starts with a token about to lapse. Returns counts by outcome."""
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


def _acquire_lease(session: Session, shop_id: int, now: datetime) -> str | None:
    owner = secrets.token_hex(16)
    result = session.execute(
        update(Shop)
        .where(
            Shop.id == shop_id,
            or_(Shop.token_refresh_lease_until.is_(None), Shop.token_refresh_lease_until < now),
        )
        .values(
            token_refresh_lease_until=now + timedelta(seconds=LEASE_SECONDS),
            token_refresh_lease_owner=owner,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return owner if result.rowcount == 1 else None


def _release_lease(session: Session, shop_id: int, owner: str) -> None:
    """Release by SQL (not by attribute) and only if the lease is still ours."""
    session.execute(
        update(Shop)
        .where(Shop.id == shop_id, Shop.token_refresh_lease_owner == owner)
        .values(token_refresh_lease_until=None, token_refresh_lease_owner=None)
        .execution_options(synchronize_session=False)
    )


def _refresh_holding_lease(
    session: Session, shop: Shop, services: ShopifyServices, owner: str, margin: int
) -> str:
    session.refresh(shop)  # someone may have refreshed between our read and our lease
    try:
        if token_is_fresh(shop, margin):
            return services.cipher.decrypt(shop.access_token_enc or "")
        if not shop.refresh_token_enc:
            raise ReauthorizationRequired(f"{shop.domain} has no refresh token")
        refresh_token = services.cipher.decrypt(shop.refresh_token_enc)
        try:
            grant = services.token_endpoint.refresh(shop.domain, refresh_token)
        except (InvalidGrant, InvalidClient) as exc:
            clear_tokens(shop)
            shop.reauth_required_at = utcnow()
            raise ReauthorizationRequired(f"{shop.domain}: refresh refused ({exc})") from exc
        save_grant(session, shop, grant, services)
        return grant.access_token
    finally:
        _release_lease(session, shop.id, owner)
        session.commit()
