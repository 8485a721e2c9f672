"""Resolvers for the devstore's Admin API subset (graphql-core reads dict keys and attributes;
a callable value is called with `info` and the field's arguments)."""

from __future__ import annotations

import base64
import fnmatch
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import has_request_context, request, url_for
from graphql import GraphQLError

from . import bulk, pixels
from .commerce import (
    DevCustomer,
    DevDiscount,
    DevOrder,
    ShopData,
    data,
    discount_webhook_json,
    find_discount,
    iso,
    money,
    next_id,
    set_marketing_consent,
)
from .products import PUBLICATIONS, DevProduct, publication_gid
from .schema import schema
from .store import LOCALE_NAMES, DevShop, DevStoreState, now

MAX_PAGE = 250
IN_PROGRESS = "A bulk query operation for this app and shop is already in progress"
SEARCH_RE = re.compile(r"(\w+):(>=|<=|>|<)?'?([^'\s]+)'?")


def gid(kind: str, ident: int) -> str:
    return f"gid://shopify/{kind}/{ident}"


def gid_id(value: str | None, kind: str) -> int | None:
    prefix = f"gid://shopify/{kind}/"
    if not value or not value.startswith(prefix) or not value[len(prefix) :].isdigit():
        return None
    return int(value[len(prefix) :])


def parse_dt(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def matches(search: str | None, fields: dict[str, Any]) -> bool:
    """Shopify search syntax, the subset used here: `field:value`, `field:>'date'`, AND."""
    for name, op, raw in SEARCH_RE.findall(search or ""):
        have = fields.get(name)
        if isinstance(have, datetime):
            want = parse_dt(raw)
            if want is None:
                return False
            ok = {
                ">": have > want,
                ">=": have >= want,
                "<": have < want,
                "<=": have <= want,
                "": have == want,
            }[op]
        else:
            ok = str(have or "").lower() == raw.lower()
        if not ok:
            return False
    return True


def connection(items: list, to_node, first: int | None, after: str | None, bulk: bool) -> dict:
    start = 0
    if after:
        try:
            start = int(base64.b64decode(after).decode().split(":")[1]) + 1
        except (ValueError, IndexError):
            start = 0
    size = len(items) if bulk else min(first or 0, MAX_PAGE)
    page = items[start : start + size]
    nodes = [to_node(i) for i in page]
    cursors = [base64.b64encode(f"c:{start + n}".encode()).decode() for n in range(len(page))]
    return {
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": start + size < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def money_bag(amount: Decimal, currency: str) -> dict:
    return {"shopMoney": {"amount": money(amount), "currencyCode": currency}}


def customer_node(c: DevCustomer, shop: ShopData) -> dict:
    return {
        "id": gid("Customer", c.id),
        "legacyResourceId": str(c.id),
        "firstName": c.first_name,
        "lastName": c.last_name,
        "displayName": " ".join(p for p in (c.first_name, c.last_name) if p) or (c.email or ""),
        "email": c.email,
        "phone": c.phone,
        "defaultEmailAddress": (
            {"emailAddress": c.email, "marketingState": c.email_consent.upper()}
            if c.email
            else None
        ),
        "defaultPhoneNumber": {"phoneNumber": c.phone} if c.phone else None,
        "state": c.state.upper(),
        "tags": c.tags,
        "emailMarketingConsent": {
            "marketingState": c.email_consent.upper(),
            "marketingOptInLevel": (c.email_opt_in_level or "").upper() or None,
            "consentUpdatedAt": iso(c.email_consent_updated_at),
        },
        "smsMarketingConsent": {
            "marketingState": c.sms_consent.upper(),
            "marketingOptInLevel": (c.sms_opt_in_level or "").upper() or None,
            "consentUpdatedAt": iso(c.sms_consent_updated_at),
        },
        "numberOfOrders": str(sum(1 for o in shop.orders.values() if o.customer_id == c.id)),
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
    }


def order_node(o: DevOrder, shop: ShopData, bulk: bool = False, domain: str = "") -> dict:
    customer = shop.customers.get(o.customer_id) if o.customer_id else None
    refunded = sum((r.amount for r in o.refunds), Decimal("0"))

    def line_items(_info=None, first: int | None = None, after: str | None = None):
        return connection(
            o.line_items,
            lambda li: {
                "id": gid("LineItem", li.id),
                "title": li.title,
                "quantity": li.quantity,
                "sku": li.sku,
                "product": {"id": gid("Product", li.product_id)} if li.product_id else None,
                "variant": {"id": gid("ProductVariant", li.variant_id)} if li.variant_id else None,
                "originalUnitPriceSet": money_bag(li.price, o.currency),
            },
            first,
            after,
            bulk,
        )

    def refunds(_info=None, first: int | None = None):
        return [
            {
                "id": gid("Refund", r.id),
                "legacyResourceId": str(r.id),
                "note": r.note,
                "totalRefundedSet": money_bag(r.amount, o.currency),
                "createdAt": iso(r.created_at),
                "updatedAt": iso(r.created_at),
            }
            for r in (o.refunds if first is None else o.refunds[: max(first, 0)])
        ]

    return {
        "id": gid("Order", o.id),
        "legacyResourceId": str(o.id),
        "name": o.name,
        "email": o.email,
        "customer": customer_node(customer, shop) if customer else None,
        "currencyCode": o.currency,
        "totalPriceSet": money_bag(o.total, o.currency),
        "subtotalPriceSet": money_bag(o.subtotal, o.currency),
        "totalDiscountsSet": money_bag(o.discount_amount, o.currency),
        "totalRefundedSet": money_bag(refunded, o.currency),
        "discountCodes": [o.discount_code] if o.discount_code else [],
        "customAttributes": [{"key": a["name"], "value": a["value"]} for a in o.note_attributes],
        "displayFinancialStatus": o.financial_status.upper(),
        "displayFulfillmentStatus": (o.fulfillment_status or "unfulfilled").upper(),
        "cancelledAt": iso(o.cancelled_at),
        "cancelReason": o.cancel_reason,
        "clientIp": o.browser_ip,
        "customerLocale": o.customer_locale,
        "processedAt": iso(o.created_at),
        "createdAt": iso(o.created_at),
        "updatedAt": iso(o.updated_at),
        "lineItems": line_items,
        "refunds": refunds,
        "customerJourneySummary": journey(o, domain),
    }


def journey(o: DevOrder, domain: str) -> dict | None:
    """Shopify's journey summary: the first visit's full landing URL (webhooks carry only
    `landing_site`, the path and query)."""
    if not o.landing_site:
        return None
    landing = o.landing_site
    if landing.startswith("/"):
        landing = f"https://{domain}{landing}"
    visit = {"landingPage": landing, "referrerUrl": o.referring_site, "source": "direct"}
    return {"firstVisit": visit, "lastVisit": visit}


def discount_summary(d: DevDiscount, currency: str) -> str:
    """Shopify's `DiscountCodeBasic.summary`, the admin's one-line wording of the offer."""
    if d.percentage is not None:
        value = f"{Decimal(str(d.percentage)) * 100:.2f}".rstrip("0").rstrip(".") + "%"
    else:
        value = f"{money(Decimal(str(d.amount or 0)))} {currency}"
    parts = [f"{value} off entire order"]
    if d.minimum_subtotal is not None:
        parts.append(f"Minimum purchase of {money(d.minimum_subtotal)} {currency}")
    if d.applies_once_per_customer:
        parts.append("One use per customer")
    return " • ".join(parts)


def discount_node(d: DevDiscount, currency: str = "EUR") -> dict:
    return {
        "id": d.gid,
        "codeDiscount": {
            "title": d.title,
            "summary": discount_summary(d, currency),
            "status": d.status,
            "startsAt": iso(d.starts_at),
            "endsAt": iso(d.ends_at),
            "usageLimit": d.usage_limit,
            "appliesOncePerCustomer": d.applies_once_per_customer,
            "asyncUsageCount": d.usage_count,
            "codes": lambda _info=None, first=None: {
                "nodes": [{"code": d.code, "asyncUsageCount": d.usage_count}]
            },
            "createdAt": iso(d.created_at),
            "updatedAt": iso(d.updated_at),
        },
    }


PRODUCT_TOKEN_RE = re.compile(r"""(\w+):("[^"]*"|'[^']*'|\S+)|("[^"]*"|\S+)""")


def _wildcard(value: str) -> str:
    return value.strip("\"'").lower()


def product_matches(search: str | None, p: DevProduct) -> bool:
    """Shopify's product search, the subset the app uses, every term ANDed: `status:active`
    (a comma list allowed), `publication_ids:<numeric id>`, `published_status:published`
    (published to the Online Store) / `unpublished`, `title:<text>` with `*` wildcards,
    `handle:`, `product_type:`, and bare words matched in the title, handle, type or
    vendor. Unknown fields are ignored, as Shopify ignores them (with a warning)."""
    for field, value, word in PRODUCT_TOKEN_RE.findall(search or ""):
        if word:
            if word.upper() in ("AND",):
                continue
            text = _wildcard(word).replace("*", "")
            haystack = " ".join((p.title, p.handle, p.product_type, p.vendor)).lower()
            if text and text not in haystack:
                return False
            continue
        field, wanted = field.lower(), _wildcard(value)
        if field == "status":
            if p.status.lower() not in wanted.split(","):
                return False
        elif field == "publication_ids":
            ids = {int(i) for i in wanted.split(",") if i.isdigit()}
            if not ids & set(p.publication_ids):
                return False
        elif field == "published_status":
            if wanted == "published" and not p.on_online_store:
                return False
            if wanted == "unpublished" and p.on_online_store:
                return False
        elif field in ("title", "handle", "product_type"):
            have = {"title": p.title, "handle": p.handle, "product_type": p.product_type}[field]
            if not fnmatch.fnmatchcase(have.lower(), wanted):
                return False
    return True


def storefront_root(domain: str) -> str:
    """The shop's Online Store root, on the host the caller reached the devstore by (a bulk
    operation running after its request: the shop's own domain, as at Shopify)."""
    if not has_request_context():
        return f"https://{domain}"
    return url_for("devstore_storefront.store", shop=domain, _external=True).rstrip("/")


def product_node(p: DevProduct, domain: str, currency: str) -> dict:
    prices = [v.price for v in p.variants] or [Decimal("0")]
    root = storefront_root(domain)

    def published_on(_info=None, publicationId: str = "") -> bool:  # noqa: N803
        wanted = gid_id(publicationId, "Publication")
        return wanted is not None and p.published_on(wanted)

    return {
        "id": p.gid,
        "handle": p.handle,
        "title": p.title,
        "status": p.status,
        "productType": p.product_type,
        "vendor": p.vendor,
        "onlineStoreUrl": f"{root}/products/{p.handle}" if p.on_online_store else None,
        "featuredImage": (
            {
                "id": gid("ProductImage", p.id),
                "url": (
                    url_for("static", filename=p.image, _external=True)
                    if has_request_context()
                    else f"https://{domain}/cdn/{p.image}"
                ),
                "altText": p.title,
                "width": None,
                "height": None,
            }
            if p.image
            else None
        ),
        "priceRangeV2": {
            "minVariantPrice": {"amount": money(min(prices)), "currencyCode": currency},
            "maxVariantPrice": {"amount": money(max(prices)), "currencyCode": currency},
        },
        "publishedOnPublication": published_on,
    }


def publication_node(publication_id: int) -> dict:
    name = PUBLICATIONS[publication_id]
    return {
        "id": publication_gid(publication_id),
        "name": name,
        "catalog": {"id": gid("AppCatalog", publication_id), "title": name},
    }


def _error(field: list[str], message: str, code: str | None = None) -> dict:
    return {"field": field, "message": message, "code": code}


class Root:
    def __init__(self, shop: DevShop, state: DevStoreState, *, bulk: bool = False):
        self._shop = shop
        self._state = state
        self._data = data(state, shop.domain)
        self._bulk = bulk

    def shop(self, _info) -> dict:
        s = self._shop
        return {
            "id": f"gid://shopify/Shop/{s.shopify_id}",
            "name": s.name,
            "email": s.email,
            "myshopifyDomain": s.domain,
            "currencyCode": s.currency,
            "ianaTimezone": s.timezone,
            "primaryDomain": lambda _info=None: {
                "id": gid("Domain", s.shopify_id),
                "host": request.host,
                "url": storefront_root(s.domain),
                "sslEnabled": request.scheme == "https",
            },
        }

    def _require(self, scope: str, field: str) -> None:
        """Shopify's ACCESS_DENIED for a field whose scope the installation lacks (a write
        scope implies its read scope). Only the catalogue fields check, for now."""
        granted = set((self._shop.installed_scopes or "").split(","))
        if scope in granted or scope.replace("read_", "write_", 1) in granted:
            return
        raise GraphQLError(
            f"Access denied for {field} field. Required access: `{scope}` access scope.",
            extensions={
                "code": "ACCESS_DENIED",
                "documentation": "https://shopify.dev/api/usage/access-scopes",
                "requiredAccess": f"`{scope}` access scope.",
            },
        )

    # ---- queries
    def _sorted(self, items, sort_key, reverse):
        key = {
            "UPDATED_AT": lambda i: (i.updated_at, i.id),
            "CREATED_AT": lambda i: (i.created_at, i.id),
            "PROCESSED_AT": lambda i: (i.created_at, i.id),
        }.get(sort_key or "ID", lambda i: i.id)
        return sorted(items, key=key, reverse=bool(reverse))

    def customers(self, _info, first=None, after=None, query=None, sortKey=None, reverse=False):  # noqa: N803
        items = [
            c
            for c in self._data.customers.values()
            if matches(
                query,
                {
                    "updated_at": c.updated_at,
                    "created_at": c.created_at,
                    "email": c.email,
                    "state": c.state,
                },
            )
        ]
        return connection(
            self._sorted(items, sortKey, reverse),
            lambda c: customer_node(c, self._data),
            first,
            after,
            self._bulk,
        )

    def customer(self, _info, id):  # noqa: A002
        c = self._data.customers.get(gid_id(id, "Customer"))
        return customer_node(c, self._data) if c else None

    def orders(self, _info, first=None, after=None, query=None, sortKey=None, reverse=False):  # noqa: N803
        items = [
            o
            for o in self._data.orders.values()
            if matches(
                query,
                {
                    "updated_at": o.updated_at,
                    "created_at": o.created_at,
                    "financial_status": o.financial_status,
                    "discount_code": o.discount_code,
                },
            )
        ]
        return connection(
            self._sorted(items, sortKey, reverse),
            lambda o: order_node(o, self._data, self._bulk, self._shop.domain),
            first,
            after,
            self._bulk,
        )

    def order(self, _info, id):  # noqa: A002
        o = self._data.orders.get(gid_id(id, "Order"))
        return order_node(o, self._data, domain=self._shop.domain) if o else None

    def codeDiscountNodeByCode(self, _info, code):  # noqa: N802
        d = find_discount(self._data, code)
        return discount_node(d, self._shop.currency) if d else None

    def codeDiscountNode(self, _info, id):  # noqa: N802, A002
        d = self._data.discounts.get(gid_id(id, "DiscountCodeNode"))
        return discount_node(d, self._shop.currency) if d else None

    def codeDiscountNodes(self, _info, first=None, after=None, query=None):  # noqa: N802
        items = [
            d
            for d in sorted(self._data.discounts.values(), key=lambda d: d.id)
            if matches(query, {"status": d.status, "code": d.code, "title": d.title})
        ]
        return connection(
            items, lambda d: discount_node(d, self._shop.currency), first, after, self._bulk
        )

    def products(self, _info, first=None, after=None, query=None, sortKey=None, reverse=False):  # noqa: N803
        self._require("read_products", "products")
        items = [p for p in self._data.products.values() if product_matches(query, p)]
        if sortKey == "TITLE":
            items.sort(key=lambda p: (p.title.lower(), p.id), reverse=bool(reverse))
        else:
            items.sort(key=lambda p: p.id, reverse=bool(reverse))
        return connection(
            items,
            lambda p: product_node(p, self._shop.domain, self._shop.currency),
            first,
            after,
            self._bulk,
        )

    def product(self, _info, id):  # noqa: A002
        self._require("read_products", "product")
        p = self._data.products.get(gid_id(id, "Product"))
        return product_node(p, self._shop.domain, self._shop.currency) if p else None

    def publications(self, _info, first=None, after=None):
        self._require("read_publications", "publications")
        return connection(sorted(PUBLICATIONS), publication_node, first, after, self._bulk)

    def shopLocales(self, _info, published=False):  # noqa: N802
        self._require("read_locales", "shopLocales")
        return [
            {
                "locale": code,
                "name": LOCALE_NAMES.get(code, code),
                "primary": primary,
                "published": is_published,
            }
            for code, primary, is_published in self._shop.shop_locales()
            if is_published or not published
        ]

    # ---- discount mutations
    def _apply_input(self, d: DevDiscount, spec: dict, errors: list) -> None:
        if "title" in spec:
            d.title = spec["title"] or d.title
        if spec.get("startsAt"):
            d.starts_at = parse_dt(spec["startsAt"]) or d.starts_at
        if "endsAt" in spec:
            d.ends_at = parse_dt(spec["endsAt"]) if spec["endsAt"] else None
        value = ((spec.get("customerGets") or {}).get("value")) or {}
        if value.get("percentage") is not None:
            if not 0 < float(value["percentage"]) <= 1:
                errors.append(
                    _error(
                        ["basicCodeDiscount", "customerGets", "value", "percentage"],
                        "Value must be between 0.0 and 1.0",
                        "VALUE_OUTSIDE_RANGE",
                    )
                )
            d.percentage, d.amount = float(value["percentage"]), None
        elif (value.get("discountAmount") or {}).get("amount") is not None:
            try:
                d.amount, d.percentage = Decimal(str(value["discountAmount"]["amount"])), None
            except InvalidOperation:
                errors.append(
                    _error(["basicCodeDiscount", "customerGets"], "Amount is invalid", "INVALID")
                )
        minimum = (spec.get("minimumRequirement") or {}).get("subtotal") or {}
        if minimum.get("greaterThanOrEqualToSubtotal") is not None:
            d.minimum_subtotal = Decimal(str(minimum["greaterThanOrEqualToSubtotal"]))
        if "appliesOncePerCustomer" in spec:
            d.applies_once_per_customer = bool(spec["appliesOncePerCustomer"])
        if "usageLimit" in spec:
            d.usage_limit = spec["usageLimit"]
        customers = (spec.get("context") or {}).get("customers") or {}
        for ref in customers.get("add") or []:
            if (cid := gid_id(ref, "Customer")) is not None and cid not in d.customer_ids:
                d.customer_ids.append(cid)
        for ref in customers.get("remove") or []:
            if (cid := gid_id(ref, "Customer")) in d.customer_ids:
                d.customer_ids.remove(cid)

    def discountCodeBasicCreate(self, _info, basicCodeDiscount):  # noqa: N802, N803
        spec = basicCodeDiscount
        code = (spec.get("code") or "").strip()
        errors = []
        if not code:
            errors.append(_error(["basicCodeDiscount", "code"], "Code can't be blank", "BLANK"))
        elif len(code) > 255:
            errors.append(_error(["basicCodeDiscount", "code"], "Code is too long", "TOO_LONG"))
        elif find_discount(self._data, code):
            errors.append(
                _error(
                    ["basicCodeDiscount", "code"],
                    "Code must be unique. Please try a different code.",
                    "TAKEN",
                )
            )
        if not spec.get("title"):
            errors.append(_error(["basicCodeDiscount", "title"], "Title can't be blank", "BLANK"))
        if not spec.get("customerGets"):
            errors.append(
                _error(
                    ["basicCodeDiscount", "customerGets"], "Customer gets can't be blank", "BLANK"
                )
            )
        d = DevDiscount(
            id=next_id(),
            title=spec.get("title") or "",
            code=code,
            starts_at=parse_dt(spec.get("startsAt") or "") or now(),
        )
        if not errors:
            self._apply_input(d, spec, errors)
        if errors:
            return {"codeDiscountNode": None, "userErrors": errors}
        self._data.discounts[d.id] = d
        self._state.emit(self._shop.domain, "discounts/create", discount_webhook_json(d))
        return {
            "codeDiscountNode": discount_node(d, self._shop.currency),
            "userErrors": [],
        }

    def _find_for_update(self, ident):
        return self._data.discounts.get(gid_id(ident, "DiscountCodeNode"))

    def _changed(self, d: DevDiscount, payload_extra=None) -> dict:
        d.updated_at = now()
        self._state.emit(self._shop.domain, "discounts/update", discount_webhook_json(d))
        return {
            "codeDiscountNode": discount_node(d, self._shop.currency),
            "userErrors": [],
            **(payload_extra or {}),
        }

    def _missing(self, key: str = "codeDiscountNode") -> dict:
        return {key: None, "userErrors": [_error(["id"], "Discount does not exist", "INVALID")]}

    def discountCodeBasicUpdate(self, _info, id, basicCodeDiscount):  # noqa: N802, N803, A002
        d = self._find_for_update(id)
        if d is None:
            return self._missing()
        errors: list = []
        self._apply_input(d, basicCodeDiscount, errors)
        return {"codeDiscountNode": None, "userErrors": errors} if errors else self._changed(d)

    def discountCodeDeactivate(self, _info, id):  # noqa: N802, A002
        d = self._find_for_update(id)
        if d is None:
            return self._missing()
        d.active = False
        return self._changed(d)

    def discountCodeActivate(self, _info, id):  # noqa: N802, A002
        d = self._find_for_update(id)
        if d is None:
            return self._missing()
        d.active = True
        return self._changed(d)

    def discountCodeDelete(self, _info, id):  # noqa: N802, A002
        d = self._find_for_update(id)
        if d is None:
            return self._missing("deletedCodeDiscountId")
        del self._data.discounts[d.id]
        self._state.emit(
            self._shop.domain,
            "discounts/delete",
            {"admin_graphql_api_id": d.gid, "deleted_at": iso(now())},
        )
        return {"deletedCodeDiscountId": d.gid, "userErrors": []}

    # ---- consent mutations
    def _consent(self, input_: dict, key: str, channel: str) -> dict:
        """Shopify's consent mutations: the customer must exist, the state must be one a
        merchant may set, and SMS needs the customer's phone (email their address). Errors
        are `userErrors` with Shopify's field paths and codes."""

        def refused(field: list[str], message: str, code: str = "INVALID") -> dict:
            return {
                "customer": None,
                "userErrors": [{"field": field, "message": message, "code": code}],
            }

        c = self._data.customers.get(gid_id(input_.get("customerId"), "Customer"))
        if c is None:
            return refused(["customerId"], "Customer not found")
        state = str(input_[key]["marketingState"]).lower()
        if state not in ("subscribed", "unsubscribed", "pending"):
            return refused(
                [key, "marketingState"], "Marketing state is not included in the list", "INCLUSION"
            )
        if channel == "email" and not c.email:
            return refused(["customerId"], "An email address is required for email marketing")
        if channel == "sms" and not c.phone:
            return refused(["customerId"], "A phone number is required for SMS marketing")
        level = input_[key].get("marketingOptInLevel")
        set_marketing_consent(
            self._state,
            self._shop.domain,
            c.id,
            channel,
            state,
            opt_in_level=str(level).lower() if level else None,
            consent_updated_at=parse_dt(input_[key].get("consentUpdatedAt") or ""),
        )
        return {"customer": customer_node(c, self._data), "userErrors": []}

    def customerEmailMarketingConsentUpdate(self, _info, input):  # noqa: N802, A002
        return self._consent(input, "emailMarketingConsent", "email")

    def customerSmsMarketingConsentUpdate(self, _info, input):  # noqa: N802, A002
        return self._consent(input, "smsMarketingConsent", "sms")

    # ---- bulk operations
    def _base_url(self) -> str:
        return request.host_url.rstrip("/")

    def bulkOperationRunQuery(self, _info, query, groupObjects=False):  # noqa: N802, N803
        problem = bulk.validate(query)
        if problem:
            return {
                "bulkOperation": None,
                "userErrors": [{"field": ["query"], "message": problem, "code": "INVALID"}],
            }
        running = bulk.current(self._state, self._shop.domain)
        if running is not None and running.status in ("CREATED", "RUNNING"):
            return {
                "bulkOperation": None,
                "userErrors": [
                    {
                        "field": None,
                        "code": "OPERATION_IN_PROGRESS",
                        "message": IN_PROGRESS,
                    }
                ],
            }
        op = bulk.start(
            self._state,
            self._shop.domain,
            query,
            schema(),
            lambda: Root(self._shop, self._state, bulk=True),
        )
        return {"bulkOperation": op.node(self._base_url()), "userErrors": []}

    def currentBulkOperation(self, _info, type="QUERY"):  # noqa: N802, A002
        op = bulk.current(self._state, self._shop.domain)
        return op.node(self._base_url()) if op else None

    def bulkOperation(self, _info, id):  # noqa: N802, A002
        op = bulk.find(self._state, self._shop.domain, id)
        return op.node(self._base_url()) if op else None

    # ---- web pixels (pixels.py)
    def webPixel(self, _info, id=None):  # noqa: N802, A002
        return pixels.web_pixel(self._shop, id)

    def webPixelCreate(self, _info, webPixel):  # noqa: N802, N803
        return pixels.web_pixel_create(self._state, self._shop, webPixel)

    def webPixelUpdate(self, _info, id, webPixel):  # noqa: N802, N803, A002
        return pixels.web_pixel_update(self._state, self._shop, id, webPixel)

    def webPixelDelete(self, _info, id):  # noqa: N802, A002
        return pixels.web_pixel_delete(self._state, self._shop, id)
