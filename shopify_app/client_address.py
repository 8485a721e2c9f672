"""Who sent a request, as far as the hops the app trusts can tell.

`TRUSTED_PROXY_COUNT` says how many proxies (load balancer, platform router) stand between
the internet and the app. Werkzeug's `ProxyFix` takes `X-Forwarded-For` and
`X-Forwarded-Proto` from exactly that many hops, counted from the right (each proxy appends
the address it saw), so `request.remote_addr`, `request.is_secure` and with it the `Secure`
flag of cookies come from those proxies; entries a client wrote into its own
`X-Forwarded-For` are never read. `X-Forwarded-Host` is not trusted: the app builds its
links from `SHOPIFY_APP_URL`.

With no trusted proxy (development, tests, a server facing the internet directly) nothing
forwarded is believed and `remote_addr` is the socket's peer.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from shopify_app.referrals.identity import canonical_ip


def init_app(app: Flask) -> None:
    hops = app.config["TRUSTED_PROXY_COUNT"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def client_ip() -> str | None:
    """The address the request came from, as the trusted proxies saw it (canonical form).

    The one place the app asks "which IP is this?": device evidence, click rows and rate
    limits all use it (an app-proxy request's shopper is `forwarded_beyond_trusted(1)`).
    """
    return canonical_ip(request.remote_addr or "")


def forwarded_beyond_trusted(extra_hops: int) -> str | None:
    """The `X-Forwarded-For` entry written `extra_hops` hops before the trusted proxies.

    Only for a request that proves it came through such a hop: Shopify's app proxy is one
    (it writes the shopper's address into `X-Forwarded-For`, shopify.dev "Authenticate app
    proxies"), and its signature is the proof. None when there is no such entry.
    """
    entries = [e.strip() for e in request.headers.get("X-Forwarded-For", "").split(",")]
    position = current_app.config["TRUSTED_PROXY_COUNT"] + extra_hops
    if len(entries) < position or not entries[-position]:
        return None
    return canonical_ip(entries[-position])
