"""The app's web pixel (extensions/referral-pixel) switched on per shop: `webPixelCreate`
with the settings the pixel needs (`shopKey`, `ingestUrl`), `webPixelUpdate` when they
change (a rotated API secret, a new app URL), through the GraphQL Admin API.

A job (`workers.pixel_jobs.activate_web_pixel`, queued once the install is committed: the
OAuth callback and the first app load; again when the shop grants the pixel scopes or an app
page finds the pixel's settings stale), and
idempotent: settings already given change nothing; `TAKEN` (the shop has the app's pixel
already, e.g. the shop's row was lost) reads the pixel's id back and updates it; an update of
a pixel Shopify no longer has (`NOT_FOUND`) creates it again.
"""

from __future__ import annotations

import json
import logging

from flask import current_app
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.conversations.cart_events import shop_key
from shopify_app.models import Shop
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.errors import ReauthorizationRequired, UserErrors
from shopify_app.shopify.services import shopify

log = logging.getLogger(__name__)

REQUIRED_SCOPES = frozenset({"write_pixels", "read_customer_events"})
INGEST_PATH = "/pixel/events"

_PIXEL = "webPixel { id settings } userErrors { code field message }"
CREATE = f"""
mutation ReferralWebPixelCreate($webPixel: WebPixelInput!) {{
  webPixelCreate(webPixel: $webPixel) {{ {_PIXEL} }}
}}
"""
UPDATE = f"""
mutation ReferralWebPixelUpdate($id: ID!, $webPixel: WebPixelInput!) {{
  webPixelUpdate(id: $id, webPixel: $webPixel) {{ {_PIXEL} }}
}}
"""
READ = "query ReferralWebPixel { webPixel { id settings } }"


def settings_for(shop: Shop) -> str:
    """The pixel's settings for this shop, as the JSON text `webPixelCreate` takes."""
    base = current_app.config["SHOPIFY_APP_URL"].rstrip("/")
    return json.dumps(
        {"ingestUrl": base + INGEST_PATH, "shopKey": shop_key(shop)},
        separators=(",", ":"),
        sort_keys=True,
    )


def may_activate(shop: Shop) -> bool:
    return (
        bool(current_app.config.get("WEB_PIXEL_ACTIVATION", True))
        and shop.is_installed
        and shop.scope_set >= REQUIRED_SCOPES
    )


def needs_activation(shop: Shop) -> bool:
    return may_activate(shop) and (
        shop.web_pixel_id is None or shop.web_pixel_settings != settings_for(shop)
    )


def enqueue_activation(session: Session, shop: Shop) -> None:
    """Queue the activation once the caller's transaction commits, when it is owed."""
    if needs_activation(shop):
        jobs.enqueue_after_commit(
            session, jobs.ACTIVATE_WEB_PIXEL, shop.id, job_id=f"web-pixel-{shop.id}"
        )


def activate_on_load(shop: Shop) -> None:
    """An app page opened for a shop whose pixel is owed (installed before the pixel
    existed, settings gone stale): queue the job, at most once an hour per shop (a Redis
    mark), so a pixel Shopify keeps refusing does not cost a job per page."""
    if needs_activation(shop):
        jobs.enqueue_at_most_every(
            f"web-pixel-tried:{shop.id}",
            3600,
            jobs.ACTIVATE_WEB_PIXEL,
            shop.id,
            job_id=f"web-pixel-{shop.id}",
        )


def activate(session: Session, shop_id: int) -> str:
    """The job's work: make the shop's pixel exist with the current settings. Returns what
    it did. UserErrors other than TAKEN/NOT_FOUND are logged and settle it (retrying the
    same settings would be refused again); network errors and throttling raise (RQ retries)."""
    shop = session.get(Shop, shop_id)
    if shop is None or not may_activate(shop):
        return "not activated: not installed, or the pixel scopes are not granted"
    settings = settings_for(shop)
    if shop.web_pixel_id is not None and shop.web_pixel_settings == settings:
        return "already active"
    pixel_id = shop.web_pixel_id
    session.commit()  # no transaction open while Shopify answers
    api = admin_api(session, shop, shopify())
    variables = {"webPixel": {"settings": settings}}
    try:
        if pixel_id is not None:
            try:
                result = api.mutate(UPDATE, {"id": pixel_id, **variables}, "webPixelUpdate")
                done = "updated"
            except UserErrors as exc:
                if "NOT_FOUND" not in exc.codes:
                    raise
                pixel_id = None
        if pixel_id is None:
            try:
                result = api.mutate(CREATE, variables, "webPixelCreate")
                done = "created"
            except UserErrors as exc:
                if "TAKEN" not in exc.codes:
                    raise
                existing = (api.execute(READ).get("webPixel") or {}).get("id")
                if not existing:
                    raise
                result = api.mutate(UPDATE, {"id": existing, **variables}, "webPixelUpdate")
                done = "updated (it existed)"
    except UserErrors as exc:
        log.error("web pixel of shop %s refused: %s", shop_id, exc)
        return f"refused: {', '.join(exc.codes)}"
    except ReauthorizationRequired as exc:
        return f"not activated: {exc}"
    session.refresh(shop, with_for_update=True)
    shop.web_pixel_id = str((result.get("webPixel") or {}).get("id") or "") or None
    shop.web_pixel_settings = settings if shop.web_pixel_id else None
    session.commit()
    return done
