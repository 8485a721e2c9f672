"""The storefront of a devstore shop: `/discount/<CODE>` (as Shopify's shareable discount
links: the code is kept for checkout, then the shopper is sent on to `redirect`), a cart and a
checkout that places the order through `commerce.place_order`, with the discount code, the
landing site, the `ref` note attribute, the shopper's IP and user agent, as Shopify would.
Every storefront page ends with the app embeds the merchant has switched on (`theme.py`), in
the page's language: the primary one (English) at `/shops/<shop>/`, Finnish at
`/shops/<shop>/fi/`, as Shopify's language folders."""

from __future__ import annotations

import time
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from markupsafe import Markup

from . import commerce, theme
from .signing import sign_app_proxy
from .store import DevShop

bp = Blueprint("devstore_storefront", __name__)

CATALOGUE = [
    {"title": "Green tea 100 g", "price": "24.95", "sku": "TEA-GREEN", "product_id": 7001},
    {"title": "Teapot", "price": "49.00", "sku": "POT-1", "product_id": 7002},
    {"title": "Oolong 50 g", "price": "18.50", "sku": "TEA-OOLONG", "product_id": 7003},
]
COOKIE_CODE, COOKIE_LANDING = "ds_discount", "ds_landing"
COOKIE_CUSTOMER = "ds_customer"
# The shop's published languages: the primary first (served at the root, the others in their
# folder), with their names in the language itself, for the switcher.
LOCALES = {"en": "English", "fi": "Suomi"}
PRIMARY_LOCALE = "en"


def _state():
    return current_app.extensions["devstore_state"]


def _shop_or_404(shop: str):
    return _state().shop(shop) or abort(404)


def _safe_path(target: str | None) -> str:
    parts = urlsplit(target or "/")
    if parts.scheme or parts.netloc or not (parts.path or "/").startswith("/"):
        return "/"
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@bp.get("/shops/<shop>/discount/<code>")
def discount_link(shop: str, code: str):
    _shop_or_404(shop)
    landing = _safe_path(request.args.get("redirect"))
    response = redirect(url_for("devstore_storefront.store", shop=shop) + landing.lstrip("/"))
    response.set_cookie(COOKIE_CODE, code[:64], httponly=True, samesite="Lax")
    response.set_cookie(COOKIE_LANDING, landing[:500], httponly=True, samesite="Lax")
    return response


def _logged_in_customer(shop: str) -> commerce.DevCustomer | None:
    raw = request.cookies.get(COOKIE_CUSTOMER, "")
    customer = commerce.data(_state(), shop).customers.get(int(raw)) if raw.isdigit() else None
    return customer if customer is not None and not customer.deleted else None


def root_url(shop: DevShop, locale: str) -> str:
    """Liquid's `routes.root_url`: the store's root, in the language's folder unless primary."""
    base = url_for("devstore_storefront.store", shop=shop.domain)
    return base if locale == PRIMARY_LOCALE else base + locale


def app_embeds_html(shop: DevShop, locale: str) -> Markup:
    """The enabled app embeds of the shop's theme, rendered for this shopper and language."""
    if not shop.installed or not any(state.enabled for state in shop.app_embeds.values()):
        return Markup("")
    customer = _logged_in_customer(shop.domain)
    store_url = url_for("devstore_storefront.store", shop=shop.domain)
    return theme.render_embeds(
        shop.app_embeds,
        shop={
            "name": shop.name,
            "permanent_domain": shop.domain,
            "domain": shop.domain,
            "email": shop.email,
            "currency": shop.currency,
            "url": request.host_url.rstrip("/") + store_url,
        },
        customer=(
            {
                "id": customer.id,
                "email": customer.email,
                "first_name": customer.first_name,
                "last_name": customer.last_name,
                "name": " ".join(p for p in (customer.first_name, customer.last_name) if p),
            }
            if customer
            else None
        ),
        locale={
            "iso_code": locale,
            "primary": locale == PRIMARY_LOCALE,
            "name": LOCALES[locale],
            "endonym_name": LOCALES[locale],
            "root_url": root_url(shop, locale),
        },
        root_url=root_url(shop, locale),
        cdn=request.script_root + "/cdn",
    )


def _storefront_page(shop: DevShop, locale: str, **context):
    return render_template(
        "devstore/storefront.html",
        shop=shop,
        catalogue=CATALOGUE,
        locale=locale,
        locales=[(code, name, root_url(shop, code)) for code, name in LOCALES.items()],
        app_embeds=app_embeds_html(shop, locale),
        **context,
    )


@bp.get("/shops/<shop>/")
@bp.get("/shops/<shop>/<locale>/")
def store(shop: str, locale: str = PRIMARY_LOCALE):
    dev_shop = _shop_or_404(shop)
    if locale not in LOCALES or (locale == PRIMARY_LOCALE and request.view_args.get("locale")):
        abort(404)
    response = current_app.make_response(
        _storefront_page(
            dev_shop,
            locale,
            code=request.cookies.get(COOKIE_CODE),
            ref=request.args.get("ref", ""),
            placed=None,
        )
    )
    if not request.cookies.get(COOKIE_LANDING):
        landing = request.full_path.split(f"/shops/{shop}", 1)[-1].rstrip("?") or "/"
        response.set_cookie(COOKIE_LANDING, landing[:500], httponly=True, samesite="Lax")
    return response


@bp.get("/cdn/extensions/<extension>/assets/<filename>")
def extension_asset(extension: str, filename: str):
    """The devstore's stand-in for Shopify's CDN: a theme app extension's asset."""
    found = theme.load_extensions().get(extension) or abort(404)
    response = send_from_directory(found.directory / "assets", filename, max_age=0)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.post("/shops/<shop>/checkout")
def checkout(shop: str):
    dev_shop = _shop_or_404(shop)
    state = _state()
    email = (request.form.get("email") or "").strip().lower()
    customer = (
        commerce.checkout_customer(state, shop, email, request.form.get("first_name") or None)
        if email
        else None
    )
    lines = []
    for n, item in enumerate(CATALOGUE):
        quantity = request.form.get(f"qty-{n}", "0")
        if quantity.isdigit() and int(quantity) > 0:
            lines.append({**item, "quantity": min(int(quantity), 99)})
    if not lines:
        abort(400, "the cart is empty")
    if (
        customer is not None
        and request.form.get("accepts_marketing")
        and (customer.email_consent != "subscribed")
    ):  # "Email me with news and offers", as Shopify's checkout offers it
        commerce.set_marketing_consent(state, shop, customer.id, "email", "subscribed")
    code = (request.form.get("discount_code") or request.cookies.get(COOKIE_CODE) or "").strip()
    ref = (request.form.get("ref") or "").strip()
    order = commerce.place_order(
        state,
        shop,
        customer_id=customer.id if customer else None,
        lines=lines,
        discount_code=code or None,
        note_attributes=[{"name": "referral_code", "value": ref}] if ref else None,
        landing_site=request.cookies.get(COOKIE_LANDING) or "/",
        referring_site=request.referrer,
        browser_ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )
    response = current_app.make_response(
        _storefront_page(
            dev_shop,
            PRIMARY_LOCALE,
            code=None,
            ref="",
            placed=order,
            discount=order.discount_amount if order.discount_code else Decimal("0"),
        )
    )
    response.delete_cookie(COOKIE_CODE)
    response.delete_cookie(COOKIE_LANDING)
    return response


@bp.get("/shops/<shop>/account/login")
def login_form(shop: str):
    """The store's login page (Shopify's `/account/login`), with the `return_url` it sends
    the shopper back to once logged in."""
    dev_shop = _shop_or_404(shop)
    return render_template(
        "devstore/login.html",
        shop=dev_shop,
        return_url=_safe_path(request.args.get("return_url") or f"/shops/{shop}/"),
    )


@bp.post("/shops/<shop>/account/login")
def login(shop: str):
    """A stand-in for the store's customer accounts: log in as an existing customer."""
    _shop_or_404(shop)
    email = (request.form.get("email") or "").strip().lower()
    customer = next(
        (
            c
            for c in commerce.data(_state(), shop).customers.values()
            if (c.email or "").lower() == email
        ),
        None,
    )
    response = redirect(
        _safe_path(request.form.get("next") or request.form.get("return_url"))
        if customer
        else request.referrer or "/"
    )
    if customer is not None:
        response.set_cookie(COOKIE_CUSTOMER, str(customer.id), httponly=True, samesite="Lax")
    return response


@bp.route("/shops/<shop>/apps/<subpath>", methods=["GET", "POST"])
@bp.route("/shops/<shop>/apps/<subpath>/<path:rest>", methods=["GET", "POST"])
@bp.route("/shops/<shop>/<locale>/apps/<subpath>", methods=["GET", "POST"])
@bp.route("/shops/<shop>/<locale>/apps/<subpath>/<path:rest>", methods=["GET", "POST"])
def app_proxy(shop: str, subpath: str, rest: str = "", locale: str = PRIMARY_LOCALE):
    """Shopify's app proxy: forward to the app's proxy URL with the signed query Shopify adds
    (shop, logged_in_customer_id, path_prefix, timestamp, signature). On a language folder
    (`/fi/apps/...`) the signed path_prefix carries it, and the browser's Accept-Language
    goes along, as Shopify forwards the shopper's headers."""
    _shop_or_404(shop)
    registered = current_app.extensions["devstore_app"]
    if not registered.app_proxy_url or subpath != registered.app_proxy_subpath:
        abort(404)
    if locale not in LOCALES or (locale == PRIMARY_LOCALE and request.view_args.get("locale")):
        abort(404)
    folder = "" if locale == PRIMARY_LOCALE else f"/{locale}"
    params = [(k, v) for k, v in request.args.items(multi=True)]
    params += [
        ("shop", shop),
        ("logged_in_customer_id", request.cookies.get(COOKIE_CUSTOMER, "")),
        ("path_prefix", f"/shops/{shop}{folder}/apps/{subpath}"),
        ("timestamp", str(int(time.time()))),
    ]
    params.append(("signature", sign_app_proxy(params, registered.api_secret)))
    target = registered.app_proxy_url.rstrip("/") + (f"/{rest}" if rest else "")
    upstream = httpx.request(
        request.method,
        target,
        params=params,
        content=request.get_data(),
        headers={
            "Content-Type": request.headers.get("Content-Type", ""),
            "User-Agent": request.headers.get("User-Agent", ""),
            "Accept-Language": request.headers.get("Accept-Language", ""),
            "X-Forwarded-For": request.remote_addr or "",
        },
        timeout=10,
    )
    return current_app.response_class(
        upstream.content,
        status=upstream.status_code,
        mimetype=upstream.headers.get("content-type", "text/html").split(";")[0],
    )
