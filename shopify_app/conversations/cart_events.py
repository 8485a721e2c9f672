"""Cart events in a conversation (F2): what the web pixel (extensions/referral-pixel) sends
for a shopper in a chat, checked field by field, and stored as a staff-only "cart" message.

The pixel names its shop by the settings' `shopKey`, a key the app issues per shop:
`<shop id>.<HMAC-SHA256(API secret, "web-pixel:<shop id>:<domain>")[:32]>` (`shop_key`). It
needs no storage and cannot be made up for another shop; it is not a secret (every
storefront page carries the pixel's settings), so the chat token proves the rest: signed
by the app for that shop, naming the conversation (`chat_tokens`).

A cart message is staff only: never in the shopper's messages or realtime stream, never
emailed, not unread, and it neither moves the conversation in the list nor brings back an
archived one (`service`). Its `client_id` is the pixel event's id, so a retried event is
one message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.models import Conversation, ConversationMessage, Shop
from shopify_app.shopify.services import shopify

from . import service

EVENTS = {
    "product_added_to_cart": "added",
    "product_removed_from_cart": "removed",
    "cart_viewed": "viewed",
}
TITLE_SHOWN_BELOW = 41  # characters: a longer product title is left out (Shopify Inbox's rule)
MAX_TITLE = 255
MAX_LINES = 100
MAX_QUANTITY = 999
MAX_SUBTOTAL = Decimal("100000000")
MAX_BODY_BYTES = 16_384
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,60}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
AMOUNT_RE = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
CLOCK_SKEW = timedelta(days=1)
FIELDS = {
    "shop_key",
    "token",
    "id",
    "name",
    "timestamp",
    "title",
    "quantity",
    "currency",
    "subtotal",
    "lines",
}
CURRENCY_SIGNS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


class CartEventRefused(ValueError):
    """What is wrong with an event, as an HTTP status and a sentence."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class CartEvent:
    event_id: str
    name: str
    occurred_at: datetime
    title: str | None
    quantity: int
    currency: str
    subtotal: Decimal
    lines: tuple[tuple[str, int], ...]

    @property
    def kind(self) -> str:
        return EVENTS[self.name]


# ---- the shop key


def _key_mac(secret: str, shop: Shop) -> str:
    message = f"web-pixel:{shop.id}:{shop.domain}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def shop_key(shop: Shop) -> str:
    """The key the pixel's settings carry for this shop (made with the current secret)."""
    return f"{shop.id}.{_key_mac(shopify().secrets[0], shop)}"


def shop_id_of_key(key: Any) -> int | None:
    """The shop id a key claims (not yet checked: `key_matches`)."""
    if not isinstance(key, str) or len(key) > 64 or "." not in key:
        return None
    head = key.split(".", 1)[0]
    return int(head) if head.isdigit() and len(head) < 12 else None


def key_matches(key: str, shop: Shop) -> bool:
    """Made by this app for this shop, with the current or the previous secret."""
    return any(
        hmac.compare_digest(key.encode(), f"{shop.id}.{_key_mac(secret, shop)}".encode())
        for secret in shopify().secrets
    )


# ---- the event


def title_shown(title: str | None) -> str | None:
    """The product title as the thread shows it: only when under 41 characters."""
    if not title:
        return None
    return title if len(title) < TITLE_SHOWN_BELOW else None


def line_title(title: str) -> str:
    """A product in the cart's list of quantities: a title of 41 characters or more is
    shortened to 40 (with "…"), so the list stays within the same rule."""
    if len(title) < TITLE_SHOWN_BELOW:
        return title
    return title[: TITLE_SHOWN_BELOW - 2].rstrip() + "…"


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str):
        raise CartEventRefused(f"{name} must be text.")
    text = " ".join(value.replace("\x00", "").split())
    if len(text) > limit:
        raise CartEventRefused(f"{name} is longer than {limit} characters.")
    return text


def _quantity(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CartEventRefused(f"{name} must be a whole number.")
    if not 0 <= value <= MAX_QUANTITY:
        raise CartEventRefused(f"{name} must be from 0 to {MAX_QUANTITY}.")
    return value


def _amount(value: Any) -> Decimal:
    if not isinstance(value, str) or not AMOUNT_RE.match(value):
        raise CartEventRefused('subtotal must be a decimal amount as text, like "12.50".')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise CartEventRefused("subtotal is not an amount.") from None
    if amount >= MAX_SUBTOTAL:
        raise CartEventRefused("subtotal is out of range.")
    return amount.quantize(Decimal("0.01"))


def _timestamp(value: Any, now: datetime) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise CartEventRefused("timestamp must be an ISO 8601 time.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CartEventRefused("timestamp must be an ISO 8601 time.") from None
    if moment.tzinfo is None:
        raise CartEventRefused("timestamp must carry its time zone.")
    moment = moment.astimezone(UTC)
    if abs(moment - now) > CLOCK_SKEW:
        raise CartEventRefused("timestamp is too far from now.")
    return moment


def parse_event(data: Any, *, now: datetime | None = None) -> CartEvent:
    """The event's facts, every field checked (CartEventRefused, 422, says which)."""
    if not isinstance(data, dict):
        raise CartEventRefused("The body must be a JSON object.", 400)
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise CartEventRefused(f"Unknown field: {unknown[0][:40]}.")
    now = now or datetime.now(UTC)
    event_id = data.get("id")
    if not isinstance(event_id, str) or not EVENT_ID_RE.match(event_id):
        raise CartEventRefused("id must be the event's id (1-60 letters, digits, . _ : -).")
    name = data.get("name")
    if name not in EVENTS:
        raise CartEventRefused(f"name must be one of {', '.join(EVENTS)}.")
    title = data.get("title")
    if name == "cart_viewed":
        title = None if title is None else _text(title, "title", MAX_TITLE) or None
    else:
        title = _text(title, "title", MAX_TITLE) or None
    quantity = _quantity(data.get("quantity"), "quantity")
    if name != "cart_viewed" and quantity == 0:
        raise CartEventRefused("quantity of an added or removed line must be 1 or more.")
    currency = data.get("currency")
    if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
        raise CartEventRefused("currency must be a three-letter code, like EUR.")
    lines_in = data.get("lines")
    if not isinstance(lines_in, list) or len(lines_in) > MAX_LINES:
        raise CartEventRefused(f"lines must be a list of at most {MAX_LINES}.")
    lines = []
    for line in lines_in:
        if not isinstance(line, dict) or set(line) - {"title", "quantity"}:
            raise CartEventRefused("Each line must be {title, quantity}.")
        line_title = _text(line.get("title"), "A line's title", MAX_TITLE)
        line_quantity = _quantity(line.get("quantity"), "A line's quantity")
        if line_title and line_quantity:
            lines.append((line_title, line_quantity))
    return CartEvent(
        event_id=event_id,
        name=name,
        occurred_at=_timestamp(data.get("timestamp"), now),
        title=title,
        quantity=quantity,
        currency=currency,
        subtotal=_amount(data.get("subtotal")),
        lines=tuple(lines),
    )


def money_text(amount: Decimal, currency: str) -> str:
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{amount:.2f}" if sign else f"{amount:.2f} {currency}"


def body_text(event: CartEvent) -> str:
    """The message's sentence for previews, search and exports, e.g. "Added Teapot to the
    cart (2 items, €98.00)"; a product whose title is 41 characters or longer is "a product"."""
    items = sum(q for _, q in event.lines)
    state = (
        f"({items} item{'' if items == 1 else 's'}, {money_text(event.subtotal, event.currency)})"
    )
    shown = title_shown(event.title)
    product = shown or "a product"
    if event.kind == "added":
        return f"Added {product} to the cart {state}"
    if event.kind == "removed":
        return f"Removed {product} from the cart {state}"
    return f"Viewed the cart {state}"


def payload(event: CartEvent) -> dict[str, Any]:
    """The shared contract's cart payload (docs/architecture.md)."""
    return {
        "event": event.kind,
        "product_title": title_shown(event.title),
        "quantity": event.quantity,
        "currency": event.currency,
        "subtotal": f"{event.subtotal:.2f}",
        "lines": [{"title": line_title(t), "quantity": q} for t, q in event.lines],
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
    }


def _same_cart_viewed(before: dict[str, Any], now: dict[str, Any]) -> bool:
    keys = ("event", "currency", "subtotal", "lines")
    return all(before.get(k) == now.get(k) for k in keys)


def record(
    session: Session, shop: Shop, conversation: Conversation, event: CartEvent
) -> tuple[ConversationMessage, bool]:
    """Store the event as the conversation's "cart" message (author "system"), and whether
    it is new: the same event id again returns the message already stored."""
    client_id = f"px:{event.event_id}"
    stored = session.scalar(
        select(ConversationMessage).where(
            ConversationMessage.shop_id == shop.id,
            ConversationMessage.conversation_id == conversation.id,
            ConversationMessage.client_id == client_id,
        )
    )
    if stored is not None:
        return stored, False
    if event.kind == "viewed":
        last = session.scalar(
            select(ConversationMessage)
            .where(
                ConversationMessage.shop_id == shop.id,
                ConversationMessage.conversation_id == conversation.id,
                ConversationMessage.kind == "cart",
            )
            .order_by(ConversationMessage.id.desc())
            .limit(1)
        )
        if last is not None and _same_cart_viewed(last.payload or {}, payload(event)):
            return last, False  # the cart page reloaded: the thread already says so
    message = service.post_message(
        session,
        shop,
        conversation,
        author="system",
        body=body_text(event),
        channel="widget",
        client_id=client_id,
        kind="cart",
        payload=payload(event),
    )
    return message, True
