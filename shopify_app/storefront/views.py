"""`/r/<code>`: record the click and send the shopper to the shop with the friend discount.

Public, unauthenticated by design (a shopper follows a link). A code that is unknown, or whose
program is off, lands on the shop without a discount, never on an error page.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, render_template, request

from shopify_app.client_address import client_ip
from shopify_app.db import get_session
from shopify_app.models import Shop
from shopify_app.referrals.advocates import advocate_by_code_any_shop
from shopify_app.referrals.clicks import record_click
from shopify_app.referrals.codes import normalise_code
from shopify_app.referrals.program import get_program
from shopify_app.shopify.domains import is_valid_shop_domain, sanitize_shop_domain
from shopify_app.shopify.http import shop_url

bp = Blueprint("storefront", __name__)

VISITOR_COOKIE = "ref_vid"
SHARE_TAG = re.compile(r"[0-9a-f]{16}")  # `share.share_token`: which share's link was followed
VISITOR_MAX_AGE = 60 * 60 * 24 * 90


def share_url(code: str) -> str:
    """The advocate's referral link, as they share it."""
    return f"{current_app.config['SHOPIFY_APP_URL'].rstrip('/')}/r/{code}"


def _shop_link(domain: str, path: str) -> str:
    return shop_url(current_app.config["SHOPIFY_SHOP_URL"], domain, path)


@bp.get("/r/<code>", endpoint="referral_link")
def referral_link(code: str) -> Response:
    session = get_session()
    normalised = normalise_code(code)
    advocate = advocate_by_code_any_shop(session, normalised) if normalised else None
    shop = session.get(Shop, advocate.shop_id) if advocate is not None else None
    if advocate is None or shop is None or not shop.is_installed:
        hinted = request.args.get("shop")
        if is_valid_shop_domain(hinted):
            return redirect(_shop_link(sanitize_shop_domain(hinted), "/"))
        return Response(render_template("storefront/link_inactive.html"), mimetype="text/html")
    visitor = request.cookies.get(VISITOR_COOKIE)
    if not visitor or len(visitor) > 64:
        visitor = secrets.token_urlsafe(16)
    agent = (request.headers.get("User-Agent") or "")[:2000] or None
    tag = request.args.get("s", "")
    record_click(
        session,
        shop,
        advocate,
        ip=client_ip(),
        user_agent=agent,
        visitor_id=visitor,
        share_token=tag if SHARE_TAG.fullmatch(tag) else None,
    )
    program = get_program(session, shop)
    session.commit()
    if program.enabled and advocate.friend_discount_status == "active":
        landing = quote(f"/?ref={advocate.code}", safe="")
        target = _shop_link(shop.domain, f"/discount/{quote(advocate.code)}?redirect={landing}")
    else:
        target = _shop_link(shop.domain, "/")
    response = redirect(target)
    response.set_cookie(
        VISITOR_COOKIE,
        visitor,
        max_age=VISITOR_MAX_AGE,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
    return response
