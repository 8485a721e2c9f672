"""Who is behind an app-proxy request: Shopify's signature on it, the shop and the logged-in
customer it names, and the shopper's address Shopify forwarded (the proxy pages, the chat's
JSON endpoints and the rate limiter all ask)."""

from __future__ import annotations

import time

from flask import abort, g, request
from sqlalchemy import select

from shopify_app.client_address import forwarded_beyond_trusted
from shopify_app.db import get_session
from shopify_app.models import Customer, Shop
from shopify_app.shopify.domains import is_valid_shop_domain, sanitize_shop_domain
from shopify_app.shopify.hmac import verify_app_proxy
from shopify_app.shopify.services import shopify

MAX_AGE_SECONDS = 3600


def signed_by_shopify() -> bool:
    """Whether this request's app-proxy signature verifies (checked once per request)."""
    if "app_proxy_signed" not in g:
        params = {k: request.args.getlist(k) for k in request.args}
        g.app_proxy_signed = verify_app_proxy(params, shopify().secrets)
    return g.app_proxy_signed


def shopper_ip() -> str | None:
    """The shopper's address on an app-proxy request.

    Shopify's proxy writes the shopper's address into `X-Forwarded-For`, then connects to the
    app through the trusted proxies, so on a request Shopify signed the shopper is the entry
    one hop beyond them (`client_ip()` is Shopify's server). None without a valid signature
    (nothing forwarded is believed) or when there is no such entry.
    """
    return forwarded_beyond_trusted(1) if signed_by_shopify() else None


def verified_shop_and_customer() -> tuple[Shop, Customer | None, str | None]:
    """The shop (installed) and the logged-in customer (None when not logged in or not yet
    known to the app; the third value is the id Shopify signed) of a request Shopify's
    proxy signed in the last hour. Aborts 401 (unsigned, forged, stale), 400, 404."""
    if not signed_by_shopify():
        abort(401, "This page must be opened through the store.")
    stamp = request.args.get("timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_AGE_SECONDS:
        abort(401, "This link has expired; reload the page from the store.")
    domain = request.args.get("shop", "")
    if not is_valid_shop_domain(domain):
        abort(400, "invalid shop")
    session = get_session()
    shop = session.scalar(select(Shop).where(Shop.domain == sanitize_shop_domain(domain)))
    if shop is None or not shop.is_installed:
        abort(404, "The referral program is not available in this store.")
    customer_param = request.args.get("logged_in_customer_id", "")
    customer = None
    if customer_param.isdigit():
        customer = session.scalar(
            select(Customer).where(
                Customer.shop_id == shop.id, Customer.shopify_id == int(customer_param)
            )
        )
    return shop, customer, customer_param or None
