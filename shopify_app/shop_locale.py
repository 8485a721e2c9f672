"""The shop's primary language (`Shop.primary_locale`): Shopify's `shopLocales` entry with
`primary: true`, read with the `read_locales` scope. It is the last fallback of the language
of emails to customers (`i18n.email_locale`), after the customer's own and their chat's.

Read by a job (`workers.shop_jobs.read_shop_locale`), never during a request: queued once
the install is committed (the OAuth callback, the first app load), when `app/scopes_update`
grants `read_locales`, and on an app page load while it is unknown (at most once an hour per
shop) or a day old (at most once a day: the app does not subscribe to `shop/update`). A
failure leaves it as it was (unknown at first); network errors and throttling raise, so RQ
retries, and the next app load tries again.
"""

from __future__ import annotations

import logging

import redis
from flask import current_app
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.models import Shop
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.errors import GraphQLError, ReauthorizationRequired
from shopify_app.shopify.services import shopify
from shopify_app.values import customer_locale

log = logging.getLogger(__name__)

REQUIRED_SCOPE = "read_locales"
QUERY = "query ShopPrimaryLocale { shopLocales { locale primary } }"
UNKNOWN_RETRY_SECONDS = 3600
REFRESH_SECONDS = 86400


def may_read(shop: Shop) -> bool:
    return (
        bool(current_app.config.get("SHOP_LOCALE_READ", True))
        and shop.is_installed
        and REQUIRED_SCOPE in shop.scope_set
    )


def _job_id(shop: Shop) -> str:
    return f"shop-locale-{shop.id}"


def enqueue_read(session: Session, shop: Shop) -> None:
    """Queue the read once the caller's transaction commits (the scope granted now)."""
    if may_read(shop):
        jobs.enqueue_after_commit(session, jobs.READ_SHOP_LOCALE, shop.id, job_id=_job_id(shop))


def read_on_load(shop: Shop) -> None:
    """An app page opened (or the install committed): queue the read when the primary locale
    is unknown (at most once an hour) or was last read over a day ago (a Redis mark each)."""
    if not may_read(shop):
        return
    if shop.primary_locale is None:
        mark, ttl = f"shop-locale-tried:{shop.id}", UNKNOWN_RETRY_SECONDS
    else:
        mark, ttl = _read_mark(shop.id), REFRESH_SECONDS
    jobs.enqueue_at_most_every(mark, ttl, jobs.READ_SHOP_LOCALE, shop.id, job_id=_job_id(shop))


def _read_mark(shop_id: int) -> str:
    return f"shop-locale-read:{shop_id}"


def primary_of(shop_locales: object) -> str | None:
    """The primary entry's locale from a `shopLocales` answer, when it is a language tag."""
    if not isinstance(shop_locales, list):
        return None
    for entry in shop_locales:
        if isinstance(entry, dict) and entry.get("primary") is True:
            tag = customer_locale(entry.get("locale"))
            return tag if tag and len(tag) <= 16 else None
    return None


def read(session: Session, shop_id: int) -> str:
    """The job's work: store the shop's primary locale. Returns what it did. A refusal
    (ACCESS_DENIED: the scope taken back) or an answer without a primary locale keeps what
    was stored; network errors and throttling raise (RQ retries)."""
    shop = session.get(Shop, shop_id)
    if shop is None or not may_read(shop):
        return "not read: not installed, or read_locales is not granted"
    session.commit()  # no transaction open while Shopify answers
    try:
        answer = admin_api(session, shop, shopify()).execute(QUERY)
    except GraphQLError as exc:
        log.warning("primary locale of shop %s refused: %s", shop_id, exc)
        return f"refused: {exc}"
    except ReauthorizationRequired as exc:
        return f"not read: {exc}"
    primary = primary_of(answer.get("shopLocales"))
    if primary is None:
        return "not read: no primary locale in the answer"
    session.refresh(shop, with_for_update=True)
    shop.primary_locale = primary
    session.commit()
    try:  # read now: the next app load asks again in a day
        jobs.redis_connection().set(_read_mark(shop_id), "1", ex=REFRESH_SECONDS)
    except redis.RedisError as exc:
        log.warning("primary locale of shop %s: read mark not set (Redis): %s", shop_id, exc)
    return f"read: {primary}"
