"""Who is behind an app-proxy request: Shopify's signature on it, and the shopper's address
Shopify forwarded (the proxy pages and the rate limiter both ask)."""

from __future__ import annotations

from flask import g, request

from shopify_app.client_address import forwarded_beyond_trusted
from shopify_app.shopify.hmac import verify_app_proxy
from shopify_app.shopify.services import shopify


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
