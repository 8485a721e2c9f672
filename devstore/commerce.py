"""The devstore's shop data: customers, orders, refunds and code discounts.

Every change goes through a function here, which also emits the webhook Shopify would send
(through `state.emit`), so the app sees the devstore exactly as it sees Shopify.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .products import DevProduct, default_products
from .store import DevStoreState, Sequence, now

_ids = Sequence(1_000_001)  # Shopify's ids are unique across resources; so are these


def next_id() -> int:
    return next(_ids)


@dataclass
class DevCustomer:
    id: int
    email: str | None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    state: str = "disabled"  # disabled | invited | enabled | declined
    tags: list[str] = field(default_factory=list)
    email_consent: str = "not_subscribed"
    email_consent_updated_at: datetime | None = None
    email_opt_in_level: str | None = "single_opt_in"
    sms_consent: str = "not_subscribed"
    sms_consent_updated_at: datetime | None = None
    sms_opt_in_level: str | None = "single_opt_in"
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    deleted: bool = False


@dataclass
class DevLineItem:
    id: int
    title: str
    quantity: int
    price: Decimal
    sku: str | None = None
    product_id: int | None = None
    variant_id: int | None = None


@dataclass
class DevRefund:
    id: int
    order_id: int
    amount: Decimal
    note: str | None
    created_at: datetime = field(default_factory=now)


@dataclass
class DevOrder:
    id: int
    number: int
    customer_id: int | None
    email: str | None
    currency: str
    line_items: list[DevLineItem]
    discount_code: str | None = None
    discount_amount: Decimal = Decimal("0")
    note_attributes: list[dict[str, str]] = field(default_factory=list)
    landing_site: str | None = None
    referring_site: str | None = None
    browser_ip: str | None = None
    user_agent: str | None = None
    customer_locale: str | None = None  # the storefront language the order was placed in
    financial_status: str = "paid"
    fulfillment_status: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    refunds: list[DevRefund] = field(default_factory=list)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def subtotal(self) -> Decimal:
        return sum((li.price * li.quantity for li in self.line_items), Decimal("0"))

    @property
    def total(self) -> Decimal:
        return max(self.subtotal - self.discount_amount, Decimal("0"))


@dataclass
class DevDiscount:
    id: int
    title: str
    code: str
    starts_at: datetime
    ends_at: datetime | None = None
    percentage: float | None = None
    amount: Decimal | None = None
    minimum_subtotal: Decimal | None = None
    applies_once_per_customer: bool = False
    usage_limit: int | None = None
    customer_ids: list[int] = field(default_factory=list)
    active: bool = True
    usage_count: int = 0
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)

    @property
    def status(self) -> str:
        moment = now()
        if not self.active or (self.ends_at is not None and self.ends_at <= moment):
            return "EXPIRED"
        if self.starts_at > moment:
            return "SCHEDULED"
        return "ACTIVE"

    @property
    def gid(self) -> str:
        return f"gid://shopify/DiscountCodeNode/{self.id}"


@dataclass
class ShopData:
    customers: dict[int, DevCustomer] = field(default_factory=dict)
    orders: dict[int, DevOrder] = field(default_factory=dict)
    discounts: dict[int, DevDiscount] = field(default_factory=dict)
    products: dict[int, DevProduct] = field(default_factory=default_products)
    order_numbers: Sequence = field(default_factory=lambda: Sequence(1001))


def data(state: DevStoreState, domain: str) -> ShopData:
    with state.lock:
        return state.shop_data.setdefault(domain, ShopData())


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# ---- REST-shaped JSON, as webhooks carry it -------------------------------------------


def customer_json(c: DevCustomer, *, with_consent: bool = True) -> dict[str, Any]:
    """The REST Customer. `customers/*` webhooks (API 2025-01+) carry no marketing consent:
    it has its own topics (`email_consent_json`, `sms_consent_json`)."""
    body = {
        "id": c.id,
        "admin_graphql_api_id": f"gid://shopify/Customer/{c.id}",
        "email": c.email,
        "phone": c.phone,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "state": c.state,
        "verified_email": c.state == "enabled",
        "tags": ", ".join(c.tags),
        "currency": "EUR",
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }
    if with_consent:
        body["email_marketing_consent"] = email_consent_json(c)["email_marketing_consent"]
        body["sms_marketing_consent"] = sms_consent_json(c)["sms_marketing_consent"]
    return body


def email_consent_json(c: DevCustomer) -> dict[str, Any]:
    """`customers_email_marketing_consent/update`, as Shopify sends it."""
    return {
        "customer_id": c.id,
        "email_address": c.email,
        "email_marketing_consent": {
            "state": c.email_consent,
            "opt_in_level": c.email_opt_in_level,
            "consent_updated_at": iso(c.email_consent_updated_at),
        },
    }


def sms_consent_json(c: DevCustomer) -> dict[str, Any]:
    """`customers_marketing_consent/update` (SMS), as Shopify sends it."""
    return {
        "id": c.id,
        "phone": c.phone,
        "sms_marketing_consent": {
            "state": c.sms_consent,
            "opt_in_level": c.sms_opt_in_level,
            "consent_updated_at": iso(c.sms_consent_updated_at),
            "consent_collected_from": "OTHER",
        },
    }


CONSENT_TOPICS = {
    "email": ("customers_email_marketing_consent/update", email_consent_json),
    "sms": ("customers_marketing_consent/update", sms_consent_json),
}


def refund_json(r: DevRefund, currency: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{r.id}",
        "order_id": r.order_id,
        "created_at": iso(r.created_at),
        "processed_at": iso(r.created_at),
        "note": r.note,
        "restock": False,
        "refund_line_items": [],
        "order_adjustments": [],
        "transactions": [
            {
                "id": next_id(),
                "kind": "refund",
                "status": "success",
                "amount": money(r.amount),
                "currency": currency,
            }
        ],
    }


def order_json(o: DevOrder, shop: ShopData) -> dict[str, Any]:
    customer = shop.customers.get(o.customer_id) if o.customer_id else None
    return {
        "id": o.id,
        "admin_graphql_api_id": f"gid://shopify/Order/{o.id}",
        "name": o.name,
        "order_number": o.number,
        "number": o.number - 1000,
        "email": o.email,
        "currency": o.currency,
        "presentment_currency": o.currency,
        "total_price": money(o.total),
        "subtotal_price": money(o.subtotal),
        "total_discounts": money(o.discount_amount),
        "total_tax": "0.00",
        "financial_status": o.financial_status,
        "fulfillment_status": o.fulfillment_status,
        "cancelled_at": iso(o.cancelled_at),
        "cancel_reason": o.cancel_reason,
        "discount_codes": (
            [{"code": o.discount_code, "amount": money(o.discount_amount), "type": "fixed_amount"}]
            if o.discount_code
            else []
        ),
        "note_attributes": o.note_attributes,
        "landing_site": o.landing_site,
        "referring_site": o.referring_site,
        "browser_ip": o.browser_ip,
        "client_details": {"browser_ip": o.browser_ip, "user_agent": o.user_agent},
        "customer_locale": o.customer_locale,
        "line_items": [
            {
                "id": li.id,
                "product_id": li.product_id,
                "variant_id": li.variant_id,
                "sku": li.sku,
                "title": li.title,
                "quantity": li.quantity,
                "price": money(li.price),
            }
            for li in o.line_items
        ],
        "refunds": [refund_json(r, o.currency) for r in o.refunds],
        "processed_at": iso(o.created_at),
        "created_at": iso(o.created_at),
        "updated_at": iso(o.updated_at),
        "customer": customer_json(customer) if customer else None,
    }


def discount_webhook_json(d: DevDiscount) -> dict[str, Any]:
    return {
        "admin_graphql_api_id": d.gid,
        "title": d.title,
        "status": d.status,
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
    }


# ---- changes, each with its webhook ----------------------------------------------------


def create_customer(state: DevStoreState, domain: str, /, **fields: Any) -> DevCustomer:
    """A new customer: `customers/create`, then a consent topic for each channel it was
    created with consent on (a sign-up that subscribes, an import with consent)."""
    customer = DevCustomer(id=next_id(), email=fields.pop("email", None), **fields)
    data(state, domain).customers[customer.id] = customer
    state.emit(domain, "customers/create", customer_json(customer, with_consent=False))
    for channel, (topic, body) in CONSENT_TOPICS.items():
        if getattr(customer, f"{channel}_consent") != "not_subscribed":
            if getattr(customer, f"{channel}_consent_updated_at") is None:
                setattr(customer, f"{channel}_consent_updated_at", customer.created_at)
            state.emit(domain, topic, body(customer))
    return customer


def update_customer(
    state: DevStoreState, domain: str, customer_id: int, /, **fields: Any
) -> DevCustomer:
    customer = data(state, domain).customers[customer_id]
    for key, value in fields.items():
        setattr(customer, key, value)
    customer.updated_at = now()
    state.emit(domain, "customers/update", customer_json(customer, with_consent=False))
    return customer


def set_marketing_consent(
    state: DevStoreState,
    domain: str,
    customer_id: int,
    channel: str,
    marketing_state: str,
    *,
    opt_in_level: str | None = "single_opt_in",
    consent_updated_at: datetime | None = None,
) -> DevCustomer:
    """A consent change (the Admin API's consent mutations, a checkout's "email me with news
    and offers"): the consent topic with its date, and `customers/update` without consent."""
    customer = data(state, domain).customers[customer_id]
    setattr(customer, f"{channel}_consent", marketing_state)
    setattr(customer, f"{channel}_opt_in_level", opt_in_level)
    setattr(customer, f"{channel}_consent_updated_at", consent_updated_at or now())
    customer.updated_at = now()
    topic, body = CONSENT_TOPICS[channel]
    state.emit(domain, topic, body(customer))
    state.emit(domain, "customers/update", customer_json(customer, with_consent=False))
    return customer


def delete_customer(state: DevStoreState, domain: str, customer_id: int) -> None:
    customer = data(state, domain).customers.pop(customer_id)
    customer.deleted = True
    state.emit(
        domain,
        "customers/delete",
        {
            "id": customer.id,
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer.id}",
            "email": None,
            "phone": None,
            "first_name": None,
            "last_name": None,
            "addresses": [],
        },
    )


def find_discount(shop: ShopData, code: str) -> DevDiscount | None:
    wanted = code.strip().upper()
    return next((d for d in shop.discounts.values() if d.code.upper() == wanted), None)


def customer_by_email(shop: ShopData, email: str | None) -> DevCustomer | None:
    wanted = (email or "").strip().lower()
    if not wanted:
        return None
    return next((c for c in shop.customers.values() if (c.email or "").lower() == wanted), None)


def checkout_customer(
    state: DevStoreState, domain: str, email: str, first_name: str | None = None
) -> DevCustomer:
    """The customer a guest checkout belongs to, as Shopify's checkout decides it: the store's
    customer with that email (emails are unique per store), else a new one (no account)."""
    found = customer_by_email(data(state, domain), email)
    if found is not None:
        return found
    return create_customer(state, domain, email=email.strip().lower(), first_name=first_name)


def place_order(
    state: DevStoreState,
    domain: str,
    *,
    customer_id: int | None,
    lines: list[dict[str, Any]],
    email: str | None = None,
    discount_code: str | None = None,
    note_attributes: list[dict[str, str]] | None = None,
    landing_site: str | None = None,
    referring_site: str | None = None,
    browser_ip: str | None = None,
    user_agent: str | None = None,
    financial_status: str = "paid",
    customer_locale: str | None = None,
) -> DevOrder:
    """Check out: apply the discount code if it is usable, then create (and pay) the order.

    `customer_id` is a logged-in customer; `email` alone is a guest, matched to the store's
    customer with that email or made one (`checkout_customer`)."""
    shop = data(state, domain)
    dev_shop = state.shop(domain)
    customer = shop.customers.get(customer_id) if customer_id else None
    if customer is None and email and email.strip():
        customer = checkout_customer(state, domain, email)
    items = [
        DevLineItem(
            id=next_id(),
            title=str(line["title"]),
            quantity=int(line.get("quantity", 1)),
            price=Decimal(str(line["price"])),
            sku=line.get("sku"),
            product_id=line.get("product_id"),
            variant_id=line.get("variant_id"),
        )
        for line in lines
    ]
    order = DevOrder(
        id=next_id(),
        number=next(shop.order_numbers),
        customer_id=customer.id if customer else None,
        email=(email or "").strip().lower() or (customer.email if customer else None),
        currency=dev_shop.currency if dev_shop else "EUR",
        line_items=items,
        note_attributes=note_attributes or [],
        landing_site=landing_site,
        referring_site=referring_site,
        browser_ip=browser_ip,
        user_agent=user_agent,
        customer_locale=customer_locale,
        financial_status=financial_status,
    )
    discount = find_discount(shop, discount_code) if discount_code else None
    if discount is not None and discount_applies(discount, order, shop):
        order.discount_code = discount.code
        order.discount_amount = discount_amount(discount, order.subtotal)
        discount.usage_count += 1
    shop.orders[order.id] = order
    body = order_json(order, shop)
    state.emit(domain, "orders/create", body)
    if financial_status == "paid":
        state.emit(domain, "orders/paid", body)
    return order


def discount_amount(discount: DevDiscount, subtotal: Decimal) -> Decimal:
    """What the code takes off a subtotal: a percentage (a fraction) or a fixed amount."""
    if discount.percentage is not None:
        return (subtotal * Decimal(str(discount.percentage))).quantize(Decimal("0.01"))
    return min(discount.amount or Decimal("0"), subtotal)


def cart_discount(
    state: DevStoreState,
    domain: str,
    code: str,
    *,
    lines: list[dict[str, Any]],
    customer_id: int | None = None,
    email: str | None = None,
) -> tuple[DevDiscount, Decimal] | None:
    """The code and its amount if checkout would apply it to these lines now (the cart
    page's "Discount code X applied"); None when it would not."""
    shop = data(state, domain)
    discount = find_discount(shop, code) if code else None
    if discount is None:
        return None
    would_be = DevOrder(
        id=0,
        number=0,
        customer_id=customer_id,
        email=(email or "").strip().lower() or None,
        currency="",
        line_items=[
            DevLineItem(0, str(li["title"]), int(li["quantity"]), Decimal(str(li["price"])))
            for li in lines
        ],
    )
    if not discount_applies(discount, would_be, shop):
        return None
    return discount, discount_amount(discount, would_be.subtotal)


def discount_applies(discount: DevDiscount, order: DevOrder, shop: ShopData) -> bool:
    """Shopify's checkout rules for a code: active, within its usage limit, the buyer eligible
    (`context.customers`), the minimum subtotal met, and, with `appliesOncePerCustomer`, not
    used before by this customer or this email (Shopify tracks one use per customer by the
    buyer's email, so a guest is held too)."""
    if discount.status != "ACTIVE":
        return False
    if discount.usage_limit is not None and discount.usage_count >= discount.usage_limit:
        return False
    if discount.customer_ids and order.customer_id not in discount.customer_ids:
        return False
    if discount.minimum_subtotal is not None and order.subtotal < discount.minimum_subtotal:
        return False
    if discount.applies_once_per_customer:
        email = (order.email or "").lower()
        used = any(
            o.discount_code == discount.code
            and (
                (order.customer_id is not None and o.customer_id == order.customer_id)
                or (email and (o.email or "").lower() == email)
            )
            for o in shop.orders.values()
        )
        if used:
            return False
    return True


def pay_order(state: DevStoreState, domain: str, order_id: int) -> DevOrder:
    """Capture a pending order's payment: Shopify sends `orders/paid` and `orders/updated`."""
    return _order_changed(state, domain, order_id, "orders/paid", financial_status="paid")


def fulfill_order(state: DevStoreState, domain: str, order_id: int) -> DevOrder:
    """Fulfil every line: Shopify sends `orders/fulfilled` and `orders/updated`."""
    return _order_changed(
        state, domain, order_id, "orders/fulfilled", fulfillment_status="fulfilled"
    )


def _order_changed(
    state: DevStoreState, domain: str, order_id: int, topic: str, **fields
) -> DevOrder:
    shop = data(state, domain)
    order = shop.orders[order_id]
    for name, value in fields.items():
        setattr(order, name, value)
    order.updated_at = now()
    body = order_json(order, shop)
    state.emit(domain, topic, body)
    state.emit(domain, "orders/updated", body)
    return order


def cancel_order(
    state: DevStoreState, domain: str, order_id: int, reason: str = "customer"
) -> DevOrder:
    shop = data(state, domain)
    order = shop.orders[order_id]
    order.cancelled_at = order.updated_at = now()
    order.cancel_reason = reason
    order.financial_status = "voided" if order.financial_status != "paid" else "refunded"
    body = order_json(order, shop)
    state.emit(domain, "orders/cancelled", body)
    state.emit(domain, "orders/updated", body)
    return order


def refund_order(
    state: DevStoreState, domain: str, order_id: int, amount: Decimal, note: str | None = None
) -> DevRefund:
    shop = data(state, domain)
    order = shop.orders[order_id]
    refund = DevRefund(id=next_id(), order_id=order.id, amount=amount, note=note)
    order.refunds.append(refund)
    refunded = sum((r.amount for r in order.refunds), Decimal("0"))
    order.financial_status = "refunded" if refunded >= order.total else "partially_refunded"
    order.updated_at = now()
    state.emit(domain, "refunds/create", refund_json(refund, order.currency))
    state.emit(domain, "orders/updated", order_json(order, shop))
    return refund


def seed_demo(state: DevStoreState, domain: str, *, customers: int = 12, orders: int = 9) -> None:
    """History a store has before the app is installed: the initial import brings it in."""
    names = [
        ("Ada", "Lovelace"),
        ("Grace", "Hopper"),
        ("Alan", "Turing"),
        ("Katherine", "Johnson"),
        ("Edsger", "Dijkstra"),
        ("Barbara", "Liskov"),
        ("Donald", "Knuth"),
        ("Margaret", "Hamilton"),
        ("Linus", "Torvalds"),
        ("Frances", "Allen"),
        ("Ken", "Thompson"),
        ("Radia", "Perlman"),
    ]
    made = []
    for n in range(customers):
        first, last = names[n % len(names)]
        customer = DevCustomer(
            id=next_id(),
            email=f"{first.lower()}.{last.lower()}@example.com",
            phone=f"+35840{1000000 + n}",
            first_name=first,
            last_name=last,
            state="enabled" if n % 3 else "disabled",
            email_consent="subscribed" if n % 2 else "not_subscribed",
        )
        data(state, domain).customers[customer.id] = customer
        made.append(customer)
    catalogue = [
        ("Green tea 100 g", "24.95", "TEA-GREEN"),
        ("Teapot", "49.00", "POT-1"),
        ("Oolong 50 g", "18.50", "TEA-OOLONG"),
    ]
    shop = data(state, domain)
    for n in range(orders):
        title, price, sku = catalogue[n % len(catalogue)]
        order = DevOrder(
            id=next_id(),
            number=next(shop.order_numbers),
            customer_id=made[n % len(made)].id,
            email=made[n % len(made)].email,
            currency=state.shops[domain].currency,
            line_items=[
                DevLineItem(
                    id=next_id(), title=title, quantity=1 + n % 2, price=Decimal(price), sku=sku
                )
            ],
        )
        shop.orders[order.id] = order
