"""Bounce page and the authorization-code grant (for non-embedded or legacy installs)."""

from __future__ import annotations

import logging
import secrets as pysecrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import delete

from shopify_app.db import get_session
from shopify_app.models import OAuthState, utcnow
from shopify_app.shop_locale import read_on_load
from shopify_app.shopify.domains import sanitize_shop_domain
from shopify_app.shopify.errors import InvalidShopDomain, ShopifyError
from shopify_app.shopify.hmac import verify_query_hmac
from shopify_app.shopify.offline_tokens import record_install
from shopify_app.shopify.services import shopify
from shopify_app.web_pixel import activate_on_load

from .embedded import embedded_admin_url

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

STATE_TTL = timedelta(minutes=10)
TIMESTAMP_TOLERANCE_SECONDS = 90


def _shop_or_400() -> str:
    try:
        return sanitize_shop_domain(request.args.get("shop"))
    except InvalidShopDomain:
        abort(400, description="The shop parameter must be a valid *.myshopify.com domain.")


def _hmac_valid() -> bool:
    params = request.args.to_dict(flat=False)
    return verify_query_hmac(params, shopify().secrets)


def is_app_path(value: str) -> bool:
    """A same-origin path: no scheme, no host, and nothing a browser would strip or bend
    into one (control characters, backslashes, a leading `//`)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


@bp.get("/auth/session-token")
def bounce():
    """Loads only App Bridge, which reloads `shopify-reload` with a fresh `id_token`."""
    _shop_or_400()
    if not is_app_path(request.args.get("shopify-reload", "")):
        abort(400, description="shopify-reload must be a path of this app.")
    return render_template("auth/bounce.html")


@bp.get("/auth")
def begin():
    """Start the authorization-code grant: redirect to Shopify's authorize page."""
    shop = _shop_or_400()
    if "hmac" in request.args and not _hmac_valid():
        abort(401, description="The request's HMAC is not valid.")
    now = utcnow()
    nonce = pysecrets.token_hex(32)
    session = get_session()
    session.add(
        OAuthState(nonce=nonce, shop_domain=shop, created_at=now, expires_at=now + STATE_TTL)
    )
    session.commit()
    url = shopify().token_endpoint.authorize_url(
        shop,
        scopes=current_app.config["SCOPES"],
        redirect_uri=current_app.config["SHOPIFY_APP_URL"].rstrip("/") + url_for("auth.callback"),
        state=nonce,
    )
    return redirect(url)


@bp.get("/auth/callback")
def callback():
    """Check HMAC, timestamp, state and shop; exchange the code; check the granted scopes."""
    shop = _shop_or_400()
    if not _hmac_valid():
        abort(401, description="The request's HMAC is not valid.")
    try:
        timestamp = int(request.args.get("timestamp", ""))
    except ValueError:
        abort(400, description="Missing or malformed timestamp.")
    if abs(utcnow().timestamp() - timestamp) > TIMESTAMP_TOLERANCE_SECONDS:
        abort(400, description="The request is too old; start the installation again.")
    code, state = request.args.get("code"), request.args.get("state")
    if not code or not state:
        abort(400, description="Missing code or state.")
    session = get_session()
    consumed = session.execute(
        delete(OAuthState).where(
            OAuthState.nonce == state,
            OAuthState.shop_domain == shop,
            OAuthState.expires_at > utcnow(),
        )
    ).rowcount
    session.commit()
    if consumed != 1:
        abort(
            403, description="Unknown, expired or reused OAuth state; start the installation again."
        )
    try:
        grant = shopify().token_endpoint.exchange_code(shop, code)
    except ShopifyError as exc:
        log.warning("code exchange failed for %s: %s", shop, exc)
        abort(502, description="Shopify did not accept the authorization code.")
    required = {s.strip() for s in current_app.config["SCOPES"].split(",") if s.strip()}
    granted = {s.strip() for s in grant.scope.split(",") if s.strip()}
    missing = required - _implied_scopes(granted)
    if missing:
        abort(403, description="Missing required scopes: " + ", ".join(sorted(missing)))
    installed = record_install(session, shop, grant, shopify())
    activate_on_load(installed)  # the cart events' web pixel, now that the shop is committed
    read_on_load(installed)  # the shop's primary language, for emails to customers
    return redirect(embedded_admin_url(shop))


def _implied_scopes(granted: set[str]) -> set[str]:
    """`write_x` implies `read_x` in Shopify's scope model."""
    return granted | {"read_" + s[len("write_") :] for s in granted if s.startswith("write_")}
