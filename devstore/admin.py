"""The admin: shop home, the app frame with the App Bridge host side, managed install."""

from __future__ import annotations

import base64
import re
import secrets
import time
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from . import theme
from .app_config import RegisteredApp
from .commerce import cancel_order, data, fulfill_order, refund_order
from .mailbox import REPORTS
from .mailbox import reply as send_mail_reply
from .mailbox import report as send_delivery_report
from .products import ONLINE_STORE_PUBLICATION_ID, PUBLICATIONS
from .signing import sign_id_token, sign_query
from .store import DevShop, DevStoreState, Staff

bp = Blueprint("devstore_admin", __name__)


def state() -> DevStoreState:
    return current_app.extensions["devstore_state"]


def registered_app() -> RegisteredApp:
    return current_app.extensions["devstore_app"]


def shop_or_404(handle: str) -> DevShop:
    return state().shop_by_handle(handle) or abort(404)


def admin_host_param(shop: DevShop) -> str:
    """Shopify's `host` param: base64 of the admin host and store path, without `=` padding
    (as the admin sends it; Shopify's JS library signs a padded value as `%3D`)."""
    return base64.b64encode(f"{request.host}/store/{shop.handle}".encode()).decode().rstrip("=")


@bp.get("/")
def index():
    return render_template(
        "devstore/index.html", shops=state().shops.values(), app=registered_app()
    )


@bp.get("/store/<handle>")
def shop_home(handle: str):
    return render_template(
        "devstore/shop_home.html", shop=shop_or_404(handle), app=registered_app()
    )


LOCALE_RE = re.compile(r"[a-z]{2}(-[A-Z]{2})?")


def staff_cookie(shop: DevShop) -> str:
    return f"ds_staff_{shop.handle}"


def logged_in_staff(shop: DevShop) -> Staff:
    """Who is logged in to this shop's admin: `?staff=<id>` (the switcher in the admin's
    top bar), else the one remembered in a cookie, else the first staff member (the owner).
    The ID tokens' `sub`, and so the online token exchange's `associated_user`, follow."""
    wanted = request.args.get("staff") or request.cookies.get(staff_cookie(shop))
    return next((s for s in shop.staff if str(s.id) == wanted), shop.staff[0])


@bp.get("/store/<handle>/apps/<api_key>")
@bp.get("/store/<handle>/apps/<api_key>/<path:subpath>")
def app_frame(handle: str, api_key: str, subpath: str = ""):
    shop = shop_or_404(handle)
    app = registered_app()
    if api_key not in (app.api_key, app.handle):
        abort(404)
    if not shop.installed:
        return render_template("devstore/install.html", shop=shop, app=app)
    if set(shop.installed_scopes.split(",")) != set(app.scopes.split(",")):
        # Shopify asks the merchant to approve a deployed app's changed scopes when they
        # next open it; the devstore approves for them (and sends `app/scopes_update`).
        state().install(shop.domain, app.scopes)
    staff = logged_in_staff(shop)
    params = {
        "embedded": "1",
        "host": admin_host_param(shop),
        "id_token": sign_id_token(
            shop=shop.domain, api_key=app.api_key, secret=app.api_secret, user_id=staff.id
        ),
        # the staff member's admin language, as Shopify passes it (`?locale=fi` here)
        "locale": request.args.get("locale", "en")
        if LOCALE_RE.fullmatch(request.args.get("locale", "en"))
        else "en",
        "session": secrets.token_hex(16),
        "shop": shop.domain,
        "timestamp": str(int(time.time())),
    }
    extra = {
        k: v for k, v in request.args.items() if k not in params and k not in ("hmac", "staff")
    }
    params.update(extra)
    params["hmac"] = sign_query(params, app.api_secret)
    src = f"{app.application_url}/{subpath}?{urlencode(params)}"
    response = current_app.make_response(
        render_template("devstore/app_frame.html", shop=shop, app=app, src=src, staff=staff)
    )
    response.set_cookie(staff_cookie(shop), str(staff.id), httponly=True, samesite="Lax")
    return response


@bp.post("/store/<handle>/apps/<api_key>/install")
def managed_install(handle: str, api_key: str):
    """Shopify-managed installation: the merchant approves the TOML scopes; no app redirect."""
    shop = shop_or_404(handle)
    app = registered_app()
    state().install(shop.domain, app.scopes)
    return redirect(url_for("devstore_admin.app_frame", handle=shop.handle, api_key=app.api_key))


@bp.post("/store/<handle>/id-token")
def fresh_id_token(handle: str):
    """What App Bridge asks the admin for: a one-minute ID token for the logged-in staff."""
    shop = shop_or_404(handle)
    app = registered_app()
    if not shop.installed:
        abort(403)
    token = sign_id_token(
        shop=shop.domain,
        api_key=app.api_key,
        secret=app.api_secret,
        user_id=logged_in_staff(shop).id,
    )
    return jsonify({"id_token": token})


@bp.get("/store/<handle>/orders")
def orders(handle: str):
    """The shop's orders, newest first, with Refund and Cancel as in Shopify's admin."""
    shop = shop_or_404(handle)
    listed = sorted(data(state(), shop.domain).orders.values(), key=lambda o: -o.id)
    return render_template("devstore/orders.html", shop=shop, app=registered_app(), orders=listed)


@bp.get("/store/<handle>/discounts")
def discounts(handle: str):
    """The shop's discount codes, newest first, with their usage, as in Shopify's admin."""
    shop = shop_or_404(handle)
    shop_data = data(state(), shop.domain)
    listed = sorted(shop_data.discounts.values(), key=lambda d: (d.created_at, d.id), reverse=True)
    rows = [discount_row(d, shop_data.customers, shop.currency) for d in listed]
    return render_template(
        "devstore/discounts.html", shop=shop, app=registered_app(), discounts=rows
    )


def discount_row(discount, customers: dict, currency: str) -> dict:
    """What the Discounts page shows of one code."""
    if discount.percentage is not None:
        value = f"{Decimal(str(discount.percentage)) * 100:.2f}".rstrip("0").rstrip(".") + "% off"
    else:
        value = f"{discount.amount or 0:.2f} {currency} off"
    minimum = (
        f"minimum subtotal {discount.minimum_subtotal:.2f} {currency}"
        if discount.minimum_subtotal is not None
        else None
    )
    eligible = [
        (customers[cid].email if cid in customers else None) or f"Customer {cid}"
        for cid in discount.customer_ids
    ]
    return {
        "id": discount.id,
        "code": discount.code,
        "title": discount.title,
        "status": discount.status,
        "value": value,
        "minimum": minimum,
        "used": discount.usage_count,
        "limit": discount.usage_limit,
        "once_per_customer": discount.applies_once_per_customer,
        "eligible": eligible,
        "starts_at": discount.starts_at,
        "ends_at": discount.ends_at,
        "created_at": discount.created_at,
    }


@bp.get("/store/<handle>/products")
def products(handle: str):
    """The shop's products with their status and sales channels, and a switch to publish or
    unpublish each on the Online Store (so a product link the app refuses can be tried)."""
    shop = shop_or_404(handle)
    listed = sorted(data(state(), shop.domain).products.values(), key=lambda p: p.id)
    return render_template(
        "devstore/products.html",
        shop=shop,
        app=registered_app(),
        products=listed,
        publications=PUBLICATIONS,
        online_store=ONLINE_STORE_PUBLICATION_ID,
    )


@bp.post("/store/<handle>/products/<int:product_id>/online-store")
def toggle_online_store(handle: str, product_id: int):
    shop = shop_or_404(handle)
    product = data(state(), shop.domain).products.get(product_id) or abort(404)
    publish = request.form.get("publish") == "1"
    with state().lock:
        ids = [i for i in product.publication_ids if i != ONLINE_STORE_PUBLICATION_ID]
        product.publication_ids = [*ids, ONLINE_STORE_PUBLICATION_ID] if publish else ids
    return redirect(url_for("devstore_admin.products", handle=handle))


@bp.post("/store/<handle>/orders/<int:order_id>/<action>")
def order_action(handle: str, order_id: int, action: str):
    shop = shop_or_404(handle)
    order = data(state(), shop.domain).orders.get(order_id) or abort(404)
    if action == "cancel" and order.cancelled_at is None:
        cancel_order(state(), shop.domain, order.id)
    elif action == "fulfill":
        if order.cancelled_at is None and order.fulfillment_status != "fulfilled":
            fulfill_order(state(), shop.domain, order.id)
    elif action == "refund":
        try:
            amount = Decimal(request.form.get("amount") or str(order.total))
        except InvalidOperation:
            abort(400, "not an amount")
        refund_order(state(), shop.domain, order.id, amount, note=request.form.get("note"))
    elif action not in ("cancel", "refund", "fulfill"):
        abort(404)
    return redirect(url_for("devstore_admin.orders", handle=handle))


@bp.route("/store/<handle>/themes/current/editor", methods=["GET", "POST"])
def theme_editor(handle: str):
    """The theme editor's Theme settings > App embeds: the merchant switches the installed
    app's embeds on or off and sets their settings. `?context=apps&activateAppId=
    <api_key>/<block handle>` (the deep link apps offer) opens it with that embed switched on,
    not yet saved, as Shopify does: the merchant still presses Save."""
    shop = shop_or_404(handle)
    app = registered_app()
    embeds = theme.app_embeds() if shop.installed else {}
    if request.method == "POST":
        with state().lock:
            for block, embed in embeds.items():
                current = shop.app_embeds.get(block) or theme.AppEmbedState()
                fields = {
                    s["id"]: request.form.get(f"{block}.{s['id']}", "")
                    for s in embed.settings_schema
                }
                shop.app_embeds[block] = theme.AppEmbedState(
                    enabled=request.form.get(f"{block}.enabled") == "on",
                    settings={**current.settings, **embed.clean_settings(fields)},
                )
        state().changed()
        return redirect(url_for("devstore_admin.theme_editor", handle=handle, saved=1))
    app_id, _, activate = (request.args.get("activateAppId") or "").partition("/")
    activating = activate if app_id in (app.api_key, app.handle) and activate in embeds else None
    saved = {block: shop.app_embeds.get(block) or theme.AppEmbedState() for block in embeds}
    rows = [
        {
            "handle": block,
            "embed": embed,
            "enabled": saved[block].enabled or block == activating,
            "activating": block == activating,
            "values": embed.settings(saved[block].settings),
        }
        for block, embed in embeds.items()
    ]
    return render_template(
        "devstore/theme_editor.html",
        shop=shop,
        app=app,
        rows=rows,
        activating=activating,
        saved=request.args.get("saved") == "1",
    )


@bp.get("/store/<handle>/<path:resource>")
def admin_resource(handle: str, resource: str):
    """Where `shopify://admin/...` navigation lands (customers, orders, ...)."""
    shop = shop_or_404(handle)
    return render_template(
        "devstore/resource.html", shop=shop, app=registered_app(), resource=resource
    )


@bp.get("/mailbox")
def mailbox():
    box = current_app.extensions.get("devstore_mailbox")
    messages = list(reversed(box.messages)) if box is not None else []
    return render_template(
        "devstore/mailbox.html", messages=messages, replied=request.args.get("replied")
    )


@bp.post("/mailbox/<mail_id>/reply")
def mailbox_reply(mail_id: str):
    """Answer a received message as the shopper's mail client and mail provider would:
    the reply goes, signed, to the app's inbound endpoint."""
    box = current_app.extensions.get("devstore_mailbox")
    original = box.get(mail_id) if box is not None else None
    if original is None or original.direction != "received":
        abort(404)
    text = (request.form.get("body") or "").strip()
    if not text:
        abort(400, "Write a reply first.")
    app = registered_app()
    if not app.inbound_email_url:
        abort(409, "The app has no inbound email URL.")
    sent = send_mail_reply(
        box, original, text, inbound_url=app.inbound_email_url, secret=app.inbound_email_secret
    )
    return redirect(url_for("devstore_admin.mailbox", replied=sent.id) + f"#mail-{sent.id}")


@bp.post("/mailbox/<mail_id>/report")
def mailbox_report(mail_id: str):
    """Bounce a received message, or mark it as spam, as the recipient's mail system
    would: the delivery status notification goes, signed, to the app's delivery status
    endpoint."""
    box = current_app.extensions.get("devstore_mailbox")
    original = box.get(mail_id) if box is not None else None
    if original is None or original.direction != "received":
        abort(404)
    kind = request.form.get("kind", "")
    if kind not in (*REPORTS, "complaint"):
        abort(400, "Choose bounce, delay, delivered or complaint.")
    app = registered_app()
    if not app.inbound_email_url:
        abort(409, "The app has no inbound email URL.")
    sent = send_delivery_report(
        box,
        original,
        kind,
        report_url=app.inbound_email_url.rpartition("/inbound/")[0] + "/inbound/delivery-status",
        secret=app.inbound_email_secret,
    )
    return redirect(url_for("devstore_admin.mailbox", replied=sent.id) + f"#mail-{sent.id}")
