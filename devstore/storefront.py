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
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from markupsafe import Markup

from . import cart, commerce, pixels, theme
from .products import DevProduct
from .signing import sign_app_proxy
from .store import DevShop

bp = Blueprint("devstore_storefront", __name__)

COOKIE_CODE, COOKIE_LANDING = "ds_discount", "ds_landing"
COOKIE_CUSTOMER = "ds_customer"
# The languages a storefront can show, with their names in the language itself, for the
# switcher. A shop's primary one (`DevShop.primary_locale`) is served at the root, the others
# in their folder (`/fi/`, `/en/`), as Shopify's language folders.
LOCALES = {"en": "English", "fi": "Suomi"}


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
    return base if locale == shop.primary_locale else base + locale


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
            "primary": locale == shop.primary_locale,
            "name": LOCALES[locale],
            "endonym_name": LOCALES[locale],
            "root_url": root_url(shop, locale),
        },
        root_url=root_url(shop, locale),
        cdn=request.script_root + "/cdn",
    )


def _language(shop: DevShop, folder: str | None) -> str:
    """The page's language: the shop's primary one at the root, else its folder's; a folder
    that is not one of the shop's other languages (the primary's own included) is a 404."""
    if folder is None:
        return shop.primary_locale
    others = [code for code, primary, _ in shop.shop_locales() if not primary]
    if folder not in LOCALES or folder not in others:
        abort(404)
    return folder


def _cart(shop: str) -> cart.DevCart | None:
    return cart.find_cart(_state(), shop, request.cookies.get(cart.COOKIE_CART))


def _store_root(shop: DevShop) -> str:
    return url_for("devstore_storefront.store", shop=shop.domain).rstrip("/")


def _on_sale(shop: DevShop) -> list[DevProduct]:
    """What the online store sells: ACTIVE products published to the Online Store."""
    products = commerce.data(_state(), shop.domain).products.values()
    return sorted((p for p in products if p.on_online_store), key=lambda p: p.id)


def _cart_view(shop: DevShop) -> dict:
    """The shopper's cart for the templates, with the `ds_discount` code as checkout would
    apply it (commerce's rules, on a would-be order of these lines)."""
    state = _state()
    lines = cart.priced_lines(state, _cart(shop.domain))
    subtotal = cart.subtotal(lines)
    code = (request.cookies.get(COOKIE_CODE) or "").strip()
    customer = _logged_in_customer(shop.domain)
    discount = (
        commerce.cart_discount(
            state,
            shop.domain,
            code,
            lines=cart.order_lines(lines),
            customer_id=customer.id if customer else None,
            email=customer.email if customer else None,
        )
        if code and lines
        else None
    )
    amount = discount[1] if discount else Decimal("0")
    return {
        "lines": lines,
        "count": sum(li["quantity"] for li in lines),
        "quantities": {li["variant"].id: li["quantity"] for li in lines},
        "subtotal": subtotal,
        "code": code or None,
        "discount_code": discount[0].code if discount else None,
        "discount": amount,
        "total": max(subtotal - amount, Decimal("0")),
    }


def pixel_runtime(shop: DevShop, page: str) -> dict | None:
    """What `static/pixels/host.js` needs to run the app's pixel on this page: None when
    the shop has no active app pixel."""
    settings = pixels.active_settings(shop)
    if settings is None:
        return None
    state = _state()
    customer = _logged_in_customer(shop.domain)
    store_root = _store_root(shop)
    base = request.script_root + "/cdn/pixels/referral-pixel"
    return {
        "worker": base + "/worker.js",
        "page": page,
        "settings": settings,
        "cart_url": store_root + "/cart.js",
        "init": {
            "context": {},  # filled in by the host from the page
            "data": {
                "cart": cart.pixel_cart(state, _cart(shop.domain), shop.currency, store_root),
                "customer": (
                    {
                        "id": str(customer.id),
                        "email": customer.email,
                        "firstName": customer.first_name,
                        "lastName": customer.last_name,
                        "phone": customer.phone,
                        "ordersCount": sum(
                            1
                            for o in commerce.data(state, shop.domain).orders.values()
                            if o.customer_id == customer.id
                        ),
                    }
                    if customer
                    else None
                ),
                "shop": {
                    "name": shop.name,
                    "myshopifyDomain": shop.domain,
                    "storefrontUrl": request.host_url.rstrip("/") + store_root,
                    "paymentSettings": {"currencyCode": shop.currency},
                    "countryCode": "FI",
                },
                "purchasingCompany": None,
            },
            "customerPrivacy": {
                "analyticsProcessingAllowed": True,
                "marketingAllowed": True,
                "preferencesProcessingAllowed": True,
                "saleOfDataAllowed": True,
            },
        },
    }


def _storefront_page(shop: DevShop, locale: str, view: str = "home", **context):
    return render_template(
        "devstore/storefront.html",
        shop=shop,
        view=view,
        products=_on_sale(shop),
        cart=_cart_view(shop),
        store_root=root_url(shop, locale).rstrip("/"),
        ajax_root=_store_root(shop),
        locale=locale,
        locales=[
            (code, LOCALES[code], root_url(shop, code))
            for code, _primary, _published in shop.shop_locales()
            if code in LOCALES
        ],
        app_embeds=app_embeds_html(shop, locale),
        pixel=pixel_runtime(shop, view),
        **context,
    )


@bp.get("/shops/<shop>/")
@bp.get("/shops/<shop>/<locale>/")
def store(shop: str, locale: str | None = None):
    dev_shop = _shop_or_404(shop)
    locale = _language(dev_shop, locale)
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


@bp.get("/shops/<shop>/products/<handle>")
@bp.get("/shops/<shop>/<locale>/products/<handle>")
def product_page(shop: str, handle: str, locale: str | None = None):
    """A product's page on the online store: only one that is ACTIVE and on the Online Store
    (any other is Shopify's 404)."""
    dev_shop = _shop_or_404(shop)
    locale = _language(dev_shop, locale)
    product = next((p for p in _on_sale(dev_shop) if p.handle == handle), None) or abort(404)
    return _storefront_page(
        dev_shop, locale, "product", product=product, code=None, ref="", placed=None
    )


@bp.get("/shops/<shop>/cart")
@bp.get("/shops/<shop>/<locale>/cart")
def cart_page(shop: str, locale: str | None = None):
    """The cart page: its lines, the discount code the shopper's link applied (the
    `ds_discount` cookie) with the discounted subtotal, and the checkout."""
    dev_shop = _shop_or_404(shop)
    locale = _language(dev_shop, locale)
    return _storefront_page(dev_shop, locale, "cart", code=None, ref="", placed=None)


# ---- Shopify's Ajax cart API (JSON; prices in minor units)


def _cart_error(error: cart.CartError):
    response = jsonify(error.json())
    response.status_code = error.status
    return response


def _ajax_input() -> dict:
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise cart.CartError(400, "The body must be a JSON object.")
        return body
    return request.form.to_dict()


def _with_cart_cookie(response, shop: str, token: str):
    response.set_cookie(
        cart.COOKIE_CART, token, samesite="Lax", path=f"/shops/{shop}/", max_age=14 * 86400
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/shops/<shop>/cart.js")
@bp.get("/shops/<shop>/<locale>/cart.js")
def cart_js(shop: str, locale: str | None = None):
    dev_shop = _shop_or_404(shop)
    locale = _language(dev_shop, locale)
    response = jsonify(
        cart.cart_json(_state(), _cart(shop), dev_shop.currency, _store_root(dev_shop))
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/shops/<shop>/cart/add.js")
@bp.post("/shops/<shop>/<locale>/cart/add.js")
def cart_add(shop: str, locale: str | None = None):
    """`{id, quantity}` (form or JSON) or `{items: [{id, quantity}]}`: the added line item,
    or `{items: [...]}` for several, as Shopify answers."""
    dev_shop = _shop_or_404(shop)
    locale = _language(dev_shop, locale)
    state = _state()
    try:
        body = _ajax_input()
        items = body.get("items")
        many = isinstance(items, list)
        wanted = items if many else [body]
        if (
            not wanted
            or len(wanted) > cart.MAX_LINES
            or not all(isinstance(i, dict) for i in wanted)
        ):
            raise cart.CartError(422, "Name the variant to add (id).")
        target = _cart(shop) or cart.new_cart(state, shop)
        added = [cart.add(state, target, item.get("id"), item.get("quantity")) for item in wanted]
    except cart.CartError as error:
        return _cart_error(error)
    root = _store_root(dev_shop)
    lines = {li["variant"].id: li for li in cart.priced_lines(state, target)}
    found = [cart.line_json(lines[a.variant_id], root) for a in added if a.variant_id in lines]
    body_json = {"items": found} if many else (found[0] if found else {})
    return _with_cart_cookie(jsonify(body_json), shop, target.token)


@bp.post("/shops/<shop>/cart/change.js")
@bp.post("/shops/<shop>/<locale>/cart/change.js")
def cart_change(shop: str, locale: str | None = None):
    """`{line | id, quantity}`: the whole cart after the change."""
    dev_shop = _shop_or_404(shop)
    locale = _language(dev_shop, locale)
    state = _state()
    target = _cart(shop)
    try:
        body = _ajax_input()
        if target is None:
            raise cart.CartError(400, "There is no such line in the cart.")
        cart.change(
            state,
            target,
            line=body.get("line"),
            variant_id=body.get("id"),
            quantity=body.get("quantity"),
        )
    except cart.CartError as error:
        return _cart_error(error)
    return _with_cart_cookie(
        jsonify(cart.cart_json(state, target, dev_shop.currency, _store_root(dev_shop))),
        shop,
        target.token,
    )


# ---- the app's web pixel (pixels.py)


@bp.get("/cdn/pixels/referral-pixel/<filename>")
def pixel_asset(filename: str):
    """The devstore's stand-in for the CLI's pixel build: the worker's entry, the
    extension's `src/index.js` (its package import pointed at the runtime) and the
    runtime module standing in for `@shopify/web-pixels-extension`."""
    if filename == "index.js":
        response = current_app.response_class(pixels.bundle_source(), mimetype="text/javascript")
    elif filename in ("worker.js", "web-pixels-extension.js"):
        static = f"{current_app.static_folder}/pixels"
        response = send_from_directory(static, filename, max_age=0)
        response.mimetype = "text/javascript"
    else:
        abort(404)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/cdn/extensions/<extension>/assets/<filename>")
def extension_asset(extension: str, filename: str):
    """The devstore's stand-in for Shopify's CDN: a theme app extension's asset."""
    found = theme.load_extensions().get(extension) or abort(404)
    response = send_from_directory(found.directory / "assets", filename, max_age=0)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.post("/shops/<shop>/checkout")
@bp.post("/shops/<shop>/<locale>/checkout")
def checkout(shop: str, locale: str | None = None):
    """Place the shopper's cart as the order (400 when it is empty), then empty the cart.
    The order's `customer_locale` is the storefront language the shopper checked out in
    (the checkout form of `/shops/<shop>/fi/...` posts here under /fi/), as Shopify's."""
    dev_shop = _shop_or_404(shop)
    locale = _language(dev_shop, locale)
    state = _state()
    shopper_cart = _cart(shop)
    lines = cart.order_lines(cart.priced_lines(state, shopper_cart))
    if not lines:
        abort(400, "the cart is empty")
    email = (request.form.get("email") or "").strip().lower()
    customer = (
        commerce.checkout_customer(state, shop, email, request.form.get("first_name") or None)
        if email
        else None
    )
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
        customer_locale=locale,
    )
    if shopper_cart is not None:
        cart.drop_cart(state, shopper_cart.token)
    response = current_app.make_response(
        _storefront_page(
            dev_shop,
            locale,
            code=None,
            ref="",
            placed=order,
            discount=order.discount_amount if order.discount_code else Decimal("0"),
        )
    )
    response.delete_cookie(COOKIE_CODE)
    response.delete_cookie(COOKIE_LANDING)
    response.delete_cookie(cart.COOKIE_CART, path=f"/shops/{shop}/")
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
def app_proxy(shop: str, subpath: str, rest: str = "", locale: str | None = None):
    """Shopify's app proxy: forward to the app's proxy URL with the signed query Shopify adds
    (shop, logged_in_customer_id, path_prefix, timestamp, signature). On a language folder
    (`/fi/apps/...`) the signed path_prefix carries it, and the browser's Accept-Language
    goes along, as Shopify forwards the shopper's headers."""
    dev_shop = _shop_or_404(shop)
    registered = current_app.extensions["devstore_app"]
    if not registered.app_proxy_url or subpath != registered.app_proxy_subpath:
        abort(404)
    locale = _language(dev_shop, locale)
    folder = "" if locale == dev_shop.primary_locale else f"/{locale}"
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
