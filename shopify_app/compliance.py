"""GDPR/CPRA compliance: erase a shop, redact a customer, answer a data request; and screen
deliveries that arrive after an erasure."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, literal, or_, select, tuple_, update
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.conversations import images as chat_images
from shopify_app.conversations import staff_alerts
from shopify_app.customers import bulk
from shopify_app.db import flush_sqlite_log, insert_ignore
from shopify_app.emails.suppression import forget_customer as forget_suppressed
from shopify_app.models import (
    ApiKey,
    AuditEntry,
    BulkJob,
    ConsentRequest,
    Conversation,
    ConversationMessage,
    Conversion,
    Customer,
    CustomerCount,
    DataRequest,
    DiscountCode,
    IdempotentRequest,
    OAuthState,
    Order,
    OrderLineItem,
    OutgoingDelivery,
    OutgoingEndpoint,
    OutgoingEvent,
    Redaction,
    Refund,
    SavedReply,
    Shop,
    StaffMember,
    SyncRun,
    TimelineEvent,
    WebhookDelivery,
    utcnow,
)
from shopify_app.redis_erasure import forget
from shopify_app.referrals import personal_data
from shopify_app.referrals.identity import canonical_phone
from shopify_app.scrub import (
    REDACTED,
    mentions,
    mentions_text,
    needles_of,
    replace_text,
    scrub_columns,
    without_personal_data,
)
from shopify_app.shopify.offline_tokens import clear_tokens
from shopify_app.storage import storage
from shopify_app.sync import signup_merge
from shopify_app.sync.customers import customer_by_shopify_id
from shopify_app.timeline.events import record_event
from shopify_app.values import normalize_email, parse_id

log = logging.getLogger(__name__)

# What stays of a redacted customer's timeline: anonymous aggregates only.
AGGREGATE_KEYS = ("order_id", "total_minor", "amount_minor", "currency", "refund_id")
REDACTED_BODY = b'{"redacted":true}'
ERASED_NOTE = "about data erased at the merchant's or a customer's request: not applied"


def redact_shop(session: Session, shop: Shop, *, keep_delivery_id: int | None = None) -> None:
    """Erase everything the app holds for the shop but the bare row that records the
    erasure (its domain and `redacted_at`) and the shop/redact delivery itself."""
    needles = needles_of(shop.domain, shop.name)
    personal_data.erase_shop(session, shop)
    storage().delete_shop(session, shop.id)
    for model in (
        OutgoingDelivery,
        OutgoingEvent,
        OutgoingEndpoint,
        TimelineEvent,
        ConversationMessage,
        Conversation,
        SavedReply,
        Conversion,
        IdempotentRequest,  # the API's stored answers (customers' data in them)
        ApiKey,
        OrderLineItem,
        Refund,
        DataRequest,
        DiscountCode,
        BulkJob,
        SyncRun,
        StaffMember,
        Redaction,
    ):
        session.execute(delete(model).where(model.shop_id == shop.id))
    session.execute(delete(Order).where(Order.shop_id == shop.id))
    session.execute(delete(Customer).where(Customer.shop_id == shop.id))
    session.execute(delete(CustomerCount).where(CustomerCount.shop_id == shop.id))  # all 0 now
    session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.shop_id == shop.id, WebhookDelivery.id != (keep_delivery_id or -1)
        )
    )
    session.execute(delete(OAuthState).where(OAuthState.shop_domain == shop.domain))
    clear_tokens(shop)
    shop.name = None
    shop.scopes = ""
    now = utcnow()
    if shop.uninstalled_at is None:
        shop.uninstalled_at = now
    shop.redacted_at = now
    _after_erasure(session, needles)


def drop_for_erased_shop(session: Session, shop: Shop, delivery: WebhookDelivery) -> bool:
    """A delivery for a shop that shop/redact erased (and that has not been installed again
    since) is not applied and keeps no body: True if so. Shopify may still retry one sent
    before the uninstall. The shop/redact delivery itself is kept: it is the record."""
    if shop.redacted_at is None or shop.is_installed or delivery.topic == "shop/redact":
        return False
    delivery.body = REDACTED_BODY
    _after_erasure(session, set())
    return True


def redact_order(order: Order, now: datetime) -> None:
    """Drop an order's personal fields; its totals, items and statuses stay, anonymous."""
    order.email = order.client_ip = order.user_agent = None
    order.shipping_address = None
    order.note_attributes = []
    order.landing_site = order.referring_site = None
    order.redacted_at = now


def redact_customer(
    session: Session,
    shop: Shop,
    payload: dict[str, Any],
    *,
    current_delivery_id: int | None = None,
) -> Customer | None:
    """Remove the customer's personal data wherever the app holds it: the customer, their
    orders (and refund notes), timeline payloads, data-request answers, the referral
    program's rows (emails sent to their address, also before they were a customer; an
    advocate's code, which starts with their first name), exports that list them, the
    filters of bulk jobs and audit entries that name them, stored webhook bodies and error
    texts that mention them (the redaction request's own included, `current_delivery_id`)
    and RQ's records in Redis. Totals stay, anonymous.

    The customer, their orders and their friend discount are remembered by Shopify id
    (`redactions`) so that a delivery arriving later is screened (`screen_delivery`); a
    customer the app never saw gets an empty, redacted row, so later orders of theirs are
    stored redacted too."""
    customer_data = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    shopify_id = parse_id(customer_data.get("id"))
    order_ids = {i for i in (parse_id(o) for o in payload.get("orders_to_redact") or []) if i}
    bulk.lock_exports(session, shop)  # before any export is looked at: see lock_exports
    customer = customer_by_shopify_id(session, shop.id, shopify_id) if shopify_id else None
    now = utcnow()
    first = customer.first_name if customer else None
    last = customer.last_name if customer else None
    addresses = needles_of(
        normalize_email(customer_data.get("email")),
        customer.email if customer else None,
        customer.email_normalized if customer else None,
    )
    # What can only be theirs (matched in any webhook body), and their names alone (matched
    # in the few rows staff write: bulk-job filters, audit entries).
    strong = addresses | needles_of(
        customer_data.get("phone"),
        customer.phone if customer else None,
        f"{first} {last}" if first and last else None,
    )
    needles = strong | needles_of(first, last)
    conditions = [Order.shopify_id.in_(order_ids)] if order_ids else []
    if customer is not None:
        conditions.append(Order.customer_id == customer.id)
    if conditions:
        for order in session.scalars(
            select(Order).where(Order.shop_id == shop.id, or_(*conditions))
        ):
            redact_order(order, now)
            order_ids.add(order.shopify_id)
    if order_ids:
        for refund in session.scalars(
            select(Refund).where(Refund.shop_id == shop.id, Refund.order_shopify_id.in_(order_ids))
        ):
            refund.note = None
    if shopify_id is not None:
        for request in session.scalars(
            select(DataRequest).where(
                DataRequest.shop_id == shop.id, DataRequest.customer_shopify_id == shopify_id
            )
        ):
            request.content = {"redacted": True}
            request.customer_email = None
    if customer is None and shopify_id is not None:
        customer = Customer(shop_id=shop.id, shopify_id=shopify_id, tags="", redacted_at=now)
        session.add(customer)
        session.flush()
    if customer is not None:
        _fold_signups(session, shop, customer, customer_data)
    retired = None
    if customer is not None:
        retired = personal_data.redact_customer(session, shop, customer.id, addresses)
    _erase_conversations(session, shop, customer.id if customer else None, addresses)
    if shopify_id is not None:
        bulk.erase_exports_of(session, shop, storage(), {shopify_id})
    _remember(session, shop, "customer", {shopify_id} if shopify_id else set(), now)
    _remember(session, shop, "order", order_ids, now)
    if retired is not None and retired.discount_id:
        _remember(session, shop, "discount", {retired.discount_id}, now)
    scrub_columns(
        session, BulkJob, ("params", "outcome", "error"), needles, BulkJob.shop_id == shop.id
    )
    scrub_columns(
        session, AuditEntry, ("reason", "before", "after"), needles, AuditEntry.shop_id == shop.id
    )
    scrub_columns(
        session,
        ConsentRequest,
        ("reason", "user_errors", "error"),
        needles,
        ConsentRequest.shop_id == shop.id,
    )
    # Outgoing webhook events name the customer (and their code), and an endpoint's answer
    # may quote them.
    event_needles = needles | ({retired.old} if retired is not None else set())
    scrub_columns(
        session, OutgoingEvent, ("data",), event_needles, OutgoingEvent.shop_id == shop.id
    )
    scrub_columns(
        session,
        OutgoingDelivery,
        ("response_excerpt", "error"),
        needles,
        OutgoingDelivery.shop_id == shop.id,
    )
    forget_suppressed(
        session, shop, [customer_data.get("email"), customer.email if customer else None]
    )
    codes = {retired.old.lower(): retired.new} if retired is not None else {}
    ids = set(order_ids) | ({shopify_id} if shopify_id else set())
    _scrub_deliveries(session, shop, ids, strong, needles, codes, current_delivery_id)
    _forget_api_answers(session, shop, needles | set(codes))
    _after_erasure(session, strong | set(codes))
    if customer is None:
        return None
    customer.email = customer.email_normalized = customer.phone = None
    customer.first_name = customer.last_name = None
    customer.locale = None
    customer.tags = ""
    customer.custom_attributes = None
    customer.redacted_at = customer.redacted_at or now
    for event in session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.shop_id == shop.id, TimelineEvent.customer_id == customer.id
        )
    ):
        event.payload = {k: v for k, v in (event.payload or {}).items() if k in AGGREGATE_KEYS}
        event.actor = None
    # A third party's conversion events: their properties go, and so does the sender's event
    # id (it may name the person; each becomes unique by the row's own id, so no two collide,
    # in a form no sender's id can take: '/' is outside the API's event id pattern, so an id
    # sent ahead of time cannot collide with it and make the erasure fail).
    # A retry of such an event then meets an erased customer and is refused.
    session.execute(
        update(Conversion)
        .where(Conversion.shop_id == shop.id, Conversion.customer_id == customer.id)
        .values(
            properties={},
            event_id=literal("erased/") + cast(Conversion.id, String),
        )
    )
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind="privacy.redacted",
        occurred_at=now,
        source="shopify",
        payload={},
        dedupe_key=f"customer:{shopify_id}:redacted",
    )
    return customer


def _conversations_of(customer_id: int | None, addresses: set[str]):
    """Their conversations: linked to them, or started with one of their addresses."""
    mine = [Conversation.email.in_(sorted(addresses))] if addresses else []
    if customer_id is not None:
        mine.append(Conversation.customer_id == customer_id)
    return or_(*mine) if mine else None


def _erase_conversations(
    session: Session, shop: Shop, customer_id: int | None, addresses: set[str]
) -> None:
    """The customer's conversations go whole, messages, staff notes and the images staff
    sent with them: a chat is the person's words (the shop keeps no anonymous remainder)."""
    theirs = _conversations_of(customer_id, addresses)
    if theirs is None:
        return
    ids = select(Conversation.id).where(Conversation.shop_id == shop.id, theirs)
    erased = list(session.scalars(ids))
    chat_images.delete_conversation_images(session, storage(), shop.id, erased)
    staff_alerts.erase_emails_about(session, shop, erased)
    session.execute(
        delete(ConversationMessage).where(
            ConversationMessage.shop_id == shop.id, ConversationMessage.conversation_id.in_(ids)
        )
    )
    session.execute(delete(Conversation).where(Conversation.shop_id == shop.id, theirs))


def conversation_data(
    session: Session, shop: Shop, customer_id: int | None, emails: set[str]
) -> list[dict[str, Any]]:
    """Their conversations with every message, staff notes included (notes about a person
    are their data too; the merchant decides what to hand over)."""
    theirs = _conversations_of(customer_id, {e.lower() for e in emails if e})
    if theirs is None:
        return []
    conversations = session.scalars(
        select(Conversation)
        .where(Conversation.shop_id == shop.id, theirs)
        .order_by(Conversation.created_at, Conversation.id)
    ).all()
    messages: dict[int, list[ConversationMessage]] = {}
    if conversations:
        for message in session.scalars(
            select(ConversationMessage)
            .where(
                ConversationMessage.shop_id == shop.id,
                ConversationMessage.conversation_id.in_([c.id for c in conversations]),
            )
            .order_by(ConversationMessage.id)
        ):
            messages.setdefault(message.conversation_id, []).append(message)
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return [
        {
            "id": c.id,
            "email": c.email,
            "name": c.name,
            "locale": c.locale,
            "status": c.status,
            "created_at": iso(c.created_at),
            "archived_at": iso(c.archived_at),
            "messages": [
                {
                    "id": m.id,
                    "author": m.author,
                    "channel": m.channel,
                    "body": m.body,
                    "kind": m.kind or "text",
                    "payload": m.payload,  # an image: its size and type, not its bytes
                    "created_at": iso(m.created_at),
                }
                for m in messages.get(c.id, [])
            ],
        }
        for c in conversations
    ]


def _forget_api_answers(session: Session, shop: Shop, needles: set[str]) -> None:
    """The public API's stored answers (kept 24 h for `Idempotency-Key` replays) that name
    the person go: a repeat of such a request then runs again, as a new one would."""
    # As written in the body: UTF-8, or escaped as JSON does by default (`\u00eb`).
    lowered = {form.lower().encode() for n in needles if n for form in (n, json.dumps(n)[1:-1])}
    if not lowered:
        return
    doomed = [
        row_id
        for row_id, body in session.execute(
            select(IdempotentRequest.id, IdempotentRequest.response_body).where(
                IdempotentRequest.shop_id == shop.id,
                IdempotentRequest.response_body.is_not(None),
            )
        )
        if any(n in bytes(body).lower() for n in lowered)
    ]
    if doomed:
        session.execute(delete(IdempotentRequest).where(IdempotentRequest.id.in_(doomed)))


def _fold_signups(
    session: Session, shop: Shop, customer: Customer, customer_data: dict[str, Any]
) -> None:
    """A storefront signup record with the erased customer's email or phone that was never
    matched to them is theirs too: it is folded into the customer, then erased with them."""
    email = normalize_email(customer_data.get("email")) or customer.email_normalized
    phone = canonical_phone(customer_data.get("phone") or customer.phone)
    for record in signup_merge.signup_records(session, shop, email, phone):
        by = signup_merge.matched_by(record, email, phone)
        signup_merge.fold_into(session, shop, customer, record, by=by)


def _remember(session: Session, shop: Shop, resource: str, ids: set[int], now: datetime) -> None:
    for shopify_id in sorted(ids):
        insert_ignore(
            session,
            Redaction,
            {
                "shop_id": shop.id,
                "resource": resource,
                "shopify_id": shopify_id,
                "redacted_at": now,
            },
            ["shop_id", "resource", "shopify_id"],
        )


def _scrub_deliveries(
    session: Session,
    shop: Shop,
    ids: set[int],
    strong: set[str],
    needles: set[str],
    codes: dict[str, str],
    current_delivery_id: int | None,
) -> None:
    """Stored webhook bodies that mention the customer (their Shopify id or an order's,
    their email, phone or full name, their retired code) lose it: a finished row's body is
    replaced whole; a row still to be applied (pending, or failed and retrying) keeps what
    can still be applied, without personal fields and with the retired code replaced by
    the new one. An error text that names them goes too. Reads the shop's rows a few
    hundred at a time."""
    found = strong | set(codes)
    rewritten: dict[int, dict[str, Any]] = {}
    rows = session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.status,
            WebhookDelivery.body,
            WebhookDelivery.last_error,
        )
        .where(WebhookDelivery.shop_id == shop.id)
        .execution_options(yield_per=200)
    )
    for delivery_id, status, body, last_error in rows:
        values: dict[str, Any] = {}
        if last_error and mentions_text(last_error, needles | set(codes)):
            values["last_error"] = REDACTED
        try:
            document = json.loads(body)
        except ValueError:
            document = body.decode("utf-8", "replace")
        if delivery_id == current_delivery_id or mentions(document, ids, found):
            if status in ("pending", "failed", "processing") and isinstance(document, dict):
                kept = without_personal_data(document, needles)
                for old, new in codes.items():
                    kept = replace_text(kept, {old}, new)
                values["body"] = json.dumps(kept).encode()
            else:
                values["body"] = REDACTED_BODY
        if values:
            rewritten[delivery_id] = values
    for delivery_id, values in rewritten.items():
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
        )


def _after_erasure(session: Session, needles: set[str]) -> None:
    """Once the erasure is committed: RQ's records that mention it leave Redis, and SQLite's
    write-ahead log lets go of the pages as they were."""
    engine = session.get_bind()

    def follow_up() -> None:
        try:
            if needles:
                forget(needles)
            flush_sqlite_log(engine)
        except Exception:  # noqa: BLE001 - the erasure itself is committed; say what is left
            log.exception("erasure committed, but Redis or the SQLite log was not cleaned")

    jobs.after_commit(session, follow_up)


def _subjects(topic: str, payload: dict[str, Any]) -> set[tuple[str, int]]:
    """The (resource, Shopify id) pairs a sync delivery is about."""
    found: set[tuple[str, int | None]] = set()
    if topic.startswith("customers/"):
        found.add(("customer", parse_id(payload.get("id"))))
    elif topic.startswith("orders/"):
        found.add(("order", parse_id(payload.get("id"))))
        nested = payload.get("customer")
        if isinstance(nested, dict):
            found.add(("customer", parse_id(nested.get("id"))))
    elif topic == "refunds/create":
        found.add(("order", parse_id(payload.get("order_id"))))
    elif topic.startswith("discounts/"):
        found.add(("discount", parse_id(payload.get("admin_graphql_api_id"))))
    return {(r, i) for r, i in found if i is not None}


def screen_unapplied(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    """A sync delivery that is not applied (the shop is not installed) is still screened:
    kept for inspection, it must not keep an erased customer's data either."""
    try:
        payload = json.loads(delivery.body)
    except ValueError:
        return
    if isinstance(payload, dict):
        screen_delivery(session, shop, delivery, payload)


def screen_delivery(
    session: Session, shop: Shop, delivery: WebhookDelivery, payload: dict[str, Any]
) -> dict[str, Any] | None:
    """What of a sync delivery may be applied, given what customers/redact erased. Shopify
    retries a delivery for up to 48 hours, so one sent before an erasure can arrive after
    it: if it is about an erased customer, order or friend discount, its stored body goes
    and it brings nothing back. An order's (or refund's) facts, totals and statuses, are
    applied without its personal fields; anything else is not applied (None). Compliance
    topics are not screened: their handlers erase what they must."""
    subjects = _subjects(delivery.topic, payload)
    if not subjects:
        return payload
    erased = session.execute(
        select(Redaction.id).where(
            Redaction.shop_id == shop.id,
            tuple_(Redaction.resource, Redaction.shopify_id).in_(sorted(subjects)),
        )
    ).first()
    if erased is None:
        return payload
    delivery.body = REDACTED_BODY
    _after_erasure(session, set())  # the body was in SQLite's log until a checkpoint
    if delivery.topic.startswith(("orders/", "refunds/")):
        return without_personal_data(payload, set())
    return None


def customer_data(session: Session, shop: Shop, customer: Customer) -> dict[str, Any]:
    """Everything the app holds about one customer, as plain JSON values."""
    orders = session.scalars(
        select(Order).where(Order.shop_id == shop.id, Order.customer_id == customer.id)
    ).all()
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.shop_id == shop.id, TimelineEvent.customer_id == customer.id)
        .order_by(TimelineEvent.occurred_at)
    ).all()
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {
        "customer": {
            "shopify_id": customer.shopify_id,
            "email": customer.email,
            "phone": customer.phone,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "locale": customer.locale,
            "account_state": customer.account_state,
            "tags": customer.tags,
            "custom_attributes": customer.custom_attributes or {},
            "email_marketing_state": customer.email_marketing_state,
            "sms_marketing_state": customer.sms_marketing_state,
            "created_at": iso(customer.shopify_created_at),
        },
        "orders": [
            {
                "shopify_id": o.shopify_id,
                "name": o.name,
                "currency": o.currency,
                "total_minor": o.total_minor,
                "refunded_minor": o.refunded_minor,
                "discount_codes": o.discount_codes,
                "note_attributes": o.note_attributes,
                "landing_site": o.landing_site,
                "referring_site": o.referring_site,
                "client_ip": o.client_ip,
                "user_agent": o.user_agent,
                "shipping_address": o.shipping_address,
                "processed_at": iso(o.processed_at),
                "line_items": [
                    {
                        "title": li.title,
                        "sku": li.sku,
                        "quantity": li.quantity,
                        "price_minor": li.price_minor,
                    }
                    for li in o.line_items
                ],
            }
            for o in orders
        ],
        "timeline": [
            {
                "occurred_at": iso(e.occurred_at),
                "source": e.source,
                "kind": e.kind,
                "payload": e.payload,
            }
            for e in events
        ],
        "referral_program": personal_data.customer_referral_data(session, shop, customer.id),
        "conversions": [
            {
                "event_type": c.event_type,
                "event_id": c.event_id,
                "source_name": c.source_name,
                "occurred_at": iso(c.occurred_at),
                "properties": c.properties,
                "outcome": c.outcome,
            }
            for c in session.scalars(
                select(Conversion)
                .where(Conversion.shop_id == shop.id, Conversion.customer_id == customer.id)
                .order_by(Conversion.occurred_at)
            )
        ],
        "conversations": conversation_data(
            session, shop, customer.id, {customer.email_normalized or ""}
        ),
    }


def answer_data_request(
    session: Session,
    shop: Shop,
    payload: dict[str, Any],
    *,
    current_delivery_id: int | None = None,
) -> DataRequest:
    """Record the request and keep the customer's data for the merchant to download. For a
    customer already erased there is nothing to keep, not even the address the request
    names: the answer says so and the request's body goes. Storefront signup records with
    the request's email or phone that Shopify never matched to a customer are the same
    person's data too: they are listed under `storefront_signups`."""
    customer_info = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    shopify_id = parse_id(customer_info.get("id"))
    request_id = (
        parse_id((payload.get("data_request") or {}).get("id"))
        if isinstance(payload.get("data_request"), dict)
        else None
    )
    if request_id is not None:
        existing = session.scalar(
            select(DataRequest).where(
                DataRequest.shop_id == shop.id, DataRequest.shopify_request_id == request_id
            )
        )
        if existing is not None:
            return existing
    customer = customer_by_shopify_id(session, shop.id, shopify_id) if shopify_id else None
    erased = customer is not None and customer.redacted_at is not None
    if erased:
        content: dict[str, Any] = {
            "customer": None,
            "orders": [],
            "timeline": [],
            "note": "The customer's personal data was erased at their request.",
        }
        if current_delivery_id is not None:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == current_delivery_id)
                .values(body=REDACTED_BODY)
            )
    elif customer is not None:
        content = customer_data(session, shop, customer)
    else:
        content = {
            "customer": None,
            "orders": [],
            "timeline": [],
            "note": "The app holds no data about this customer.",
        }
        chats = conversation_data(
            session, shop, None, {normalize_email(customer_info.get("email")) or ""}
        )
        if chats:
            content["conversations"] = chats
            content["note"] = (
                "The app holds no Shopify customer with this id; it holds conversations "
                "started with the same email (conversations)."
            )
    if not erased:
        email, phone = signup_merge.addresses_of(customer_info)
        records = signup_merge.signup_records(session, shop, email, phone)
        if records:
            content["storefront_signups"] = [customer_data(session, shop, r) for r in records]
            if customer is None:
                content["note"] = (
                    "The app holds no Shopify customer with this id; it holds storefront "
                    "signups with the same email or phone (storefront_signups)."
                )
    request = DataRequest(
        shop_id=shop.id,
        shopify_request_id=request_id,
        customer_shopify_id=shopify_id,
        customer_email=None if erased else str(customer_info.get("email") or "")[:320] or None,
        requested_at=utcnow(),
        content=content,
    )
    session.add(request)
    session.flush()
    if customer is not None:
        record_event(
            session,
            shop_id=shop.id,
            customer_id=customer.id,
            kind="privacy.data_requested",
            occurred_at=request.requested_at,
            source="shopify",
            payload={"data_request_id": request.id},
            dedupe_key=f"data_request:{request_id or request.id}",
        )
    return request
