"""`/u/<token>`: the unsubscribe link of every share and invitation email.

Public by design (the recipient follows a link from their mailbox): no login, no cookie, no
JavaScript. GET shows what the link does and a button; POST (the button, or a mail
client's RFC 8058 one-click POST with `List-Unsubscribe=One-Click`) puts the address on
the shop's suppression list. Only a token the app sealed names an address, so nobody can
suppress an address they did not receive a link for; doing it twice changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from shopify_app.db import get_session
from shopify_app.models import Shop

from .suppression import is_suppressed, masked, read_token, suppress

bp = Blueprint("unsubscribe", __name__)

ONE_CLICK = "One-Click"


def _page(template_args: dict, status: int = 200) -> Response:
    response = Response(
        render_template("storefront/unsubscribe.html", **template_args),
        status=status,
        mimetype="text/html",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token stays out of Referer
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Response:
    found = read_token(token)
    session = get_session()
    shop = session.get(Shop, found.shop_id) if found else None
    if found is None or shop is None:
        return _page({"state": "invalid"}, 404)
    shop_name = shop.name or shop.domain
    args = {"shop_name": shop_name, "address": masked(found.email), "token": token}
    if request.method == "GET":
        done = is_suppressed(session, shop.id, found.email)
        return _page({**args, "state": "done" if done else "confirm"})
    if request.form.get("List-Unsubscribe") != ONE_CLICK:
        return _page({**args, "state": "confirm", "problem": True}, 400)
    if shop.uninstalled_at is None:  # an uninstalled shop sends nothing; its data is erased
        source = "link" if request.form.get("via") == "page" else "one_click"
        suppress(session, shop, found.email, reason="unsubscribed", source=source)
        session.commit()
    return _page({**args, "state": "done"})
