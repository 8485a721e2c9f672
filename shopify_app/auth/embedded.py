"""`@id_token_required`: every admin request proves itself with an App Bridge ID token.

A fetch (it carries `Authorization: Bearer`) with a bad token gets 401 and
`X-Shopify-Retry-Invalid-Session-Request: 1`, so App Bridge retries once with a new token.
A document load without a valid `id_token` goes to the bounce page, which loads App Bridge
and reloads the same URL with a fresh token. There is no other way in.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode

from flask import Response, current_app, g, redirect, render_template, request, url_for

from shopify_app.db import get_session
from shopify_app.shop_locale import read_on_load
from shopify_app.shopify.domains import is_valid_shop_domain, sanitize_shop_domain, shop_handle
from shopify_app.shopify.errors import InvalidIdToken, InvalidSubjectToken, ShopifyError
from shopify_app.shopify.id_token import IdTokenClaims, decode_id_token
from shopify_app.shopify.offline_tokens import ensure_installed
from shopify_app.shopify.services import shopify
from shopify_app.staff import remember_staff
from shopify_app.web_pixel import activate_on_load

log = logging.getLogger(__name__)

RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
F = TypeVar("F", bound=Callable[..., object])


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def is_fetch_request() -> bool:
    return "Authorization" in request.headers


def invalid_session_response(reason: str) -> Response:
    response = current_app.json.response({"error": "invalid_session", "message": reason})
    response.status_code = 401
    response.headers[RETRY_HEADER] = "1"
    return response


def reload_path_without_token() -> str:
    """This request's path and query minus `id_token`, for App Bridge to reload."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "id_token"]
    return request.path + ("?" + urlencode(args) if args else "")


def bounce_redirect(shop: str) -> Response:
    """To the bounce page for `shop` (a validated domain, the token's shop when there is one)."""
    params = {"shop": shop, "shopify-reload": reload_path_without_token()}
    if request.args.get("host"):
        params["host"] = request.args["host"]
    return redirect(url_for("auth.bounce") + "?" + urlencode(params))


def embedded_admin_url(shop: str, path: str = "") -> str:
    """The app's URL inside the admin: `https://admin.shopify.com/store/<handle>/apps/<key>`."""
    admin = current_app.config["SHOPIFY_ADMIN_URL"].rstrip("/")
    return f"{admin}/store/{shop_handle(shop)}/apps/{current_app.config['SHOPIFY_API_KEY']}{path}"


def document_without_token() -> Response:
    """A document load that has no valid ID token: bounce, enter the admin, or explain."""
    shop_param = request.args.get("shop")
    if not is_valid_shop_domain(shop_param):
        return Response(
            render_template("auth/open_from_admin.html"), status=400, mimetype="text/html"
        )
    shop = sanitize_shop_domain(shop_param)
    if request.args.get("embedded") == "1":
        return bounce_redirect(shop)
    return redirect(embedded_admin_url(shop))


def authenticate(token: str | None) -> IdTokenClaims:
    services = shopify()
    return decode_id_token(
        token,
        api_key=services.api_key,
        secrets=services.secrets,
        leeway=current_app.config["ID_TOKEN_LEEWAY_SECONDS"],
    )


def id_token_required(view: F) -> F:
    """Authenticate the request, make sure the shop is installed, set `g.shop` and friends."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        fetch = is_fetch_request()
        token = bearer_token() if fetch else request.args.get("id_token")
        try:
            claims = authenticate(token)
        except InvalidIdToken as exc:
            log.info("rejected ID token: %s", exc)
            return invalid_session_response(str(exc)) if fetch else document_without_token()
        g.shop_domain = claims.shop
        g.staff_user_id = claims.user_id
        g.id_token_claims = claims
        try:
            g.shop = ensure_installed(get_session(), claims, shopify())
        except InvalidSubjectToken as exc:
            log.warning("token exchange refused for %s: %s", claims.shop, exc)
            if fetch:
                return invalid_session_response("token exchange refused")
            return bounce_redirect(claims.shop)
        except ShopifyError as exc:
            log.exception("could not install %s", claims.shop)
            return Response(
                render_template("auth/install_failed.html", shop=claims.shop, error=str(exc)),
                status=502,
                mimetype="text/html",
            )
        remember_staff(get_session(), g.shop, claims.user_id, claims.raw, shopify().token_endpoint)
        if not fetch:
            activate_on_load(g.shop)
            read_on_load(g.shop)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def staff_actor() -> str:
    """Who is acting, for audit entries: the staff member of the request's ID token."""
    return f"staff:{g.staff_user_id}"


def frame_ancestors_for_request() -> str:
    """CSP `frame-ancestors` for the authenticated (or at least validated) shop."""
    shop = g.get("shop_domain")
    if shop is None and is_valid_shop_domain(request.args.get("shop")):
        shop = sanitize_shop_domain(request.args.get("shop"))
    if shop is None:
        return "frame-ancestors 'none';"
    admin = current_app.config["SHOPIFY_ADMIN_URL"].rstrip("/")
    return f"frame-ancestors https://{shop} {admin};"


def add_security_headers(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = frame_ancestors_for_request()
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    # Downloads (exports, data requests) and the storefront page (a shopper's code, their
    # name) are never kept by a browser's or a shared cache.
    disposition = response.headers.get("Content-Disposition", "")
    if request.blueprint == "proxy" or disposition.startswith("attachment"):
        response.headers["Cache-Control"] = "no-store"
    return response
