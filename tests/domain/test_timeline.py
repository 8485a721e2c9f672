"""The customer timeline: its pages (order, keyset, filters, shop isolation), its sentences,
the events the sync now records, and third-party events with their validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from shopify_app.customers import detail as detail_cards
from shopify_app.models import Customer
from shopify_app.sync import order_flow
from shopify_app.sync.customers import upsert_customer
from shopify_app.timeline import entries, kinds, pages, third_party
from shopify_app.timeline.events import record_event
from shopify_app.timeline.labels import local_time

from .. import factories, payloads
from . import queries

T0 = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)


def add(session, shop, customer, kind, at, *, source="app", **payload):
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind=kind,
        occurred_at=at,
        source=source,
        payload=payload,
        dedupe_key=f"test:{factories.next_id()}",
    )


def page(session, shop, customer, size=pages.PAGE_SIZE, **args):
    query = pages.parse_query(MultiDict(args))
    return pages.timeline_page(session, shop, customer.id, query, page_size=size)


def kinds_of(result) -> list[str]:
    return [e.kind for e in result.events]


@pytest.fixture
def busy(session):
    """A customer with events from every source, one minute apart, and a second customer."""
    shop = factories.shop(session)
    customer = factories.customer(session, shop)
    other = factories.customer(session, shop)
    plan = [
        ("customer.created", "shopify"),
        ("consent.email", "shopify"),
        ("order.placed", "shopify"),
        ("program.joined", "app"),
        ("referral.created", "app"),
        ("email.reward.sent", "app"),
        ("staff.referral.voided", "app"),
        ("review.submitted", "api"),
    ]
    for n, (kind, source) in enumerate(plan):
        add(session, shop, customer, kind, T0 + timedelta(minutes=n), source=source)
    add(session, shop, other, "order.placed", T0, source="shopify")
    return shop, customer, other


def test_newest_first_and_only_the_customers_own(session, busy):
    shop, customer, other = busy
    result = page(session, shop, customer)
    assert kinds_of(result)[0] == "review.submitted"
    assert kinds_of(result)[-1] == "customer.created"
    assert len(result.events) == 8 and result.older is None
    assert kinds_of(page(session, shop, other)) == ["order.placed"]


def test_another_shops_customer_shows_nothing(session, busy):
    shop, customer, _ = busy
    elsewhere = factories.shop(session)
    assert page(session, elsewhere, customer).events == []


def test_keyset_pages_cover_every_event_once_even_within_one_instant(session):
    shop = factories.shop(session)
    customer = factories.customer(session, shop)
    for n in range(23):  # several events share each instant
        add(session, shop, customer, "order.placed", T0 + timedelta(seconds=n // 4))
    seen, args = [], {}
    while True:
        result = page(session, shop, customer, size=5, **args)
        seen += [e.id for e in result.events]
        if result.older is None:
            break
        args = {"before": result.older.encode()}
    assert len(seen) == len(set(seen)) == 23
    keys = [(e.occurred_at, e.id) for e in queries.events(session, shop)]
    assert [i for _, i in sorted(keys, reverse=True)] == seen


def test_filters_by_source_and_kind_combine(session, busy):
    shop, customer, _ = busy
    assert kinds_of(page(session, shop, customer, source="shopify")) == [
        "order.placed",
        "consent.email",
        "customer.created",
    ]
    both = MultiDict([("source", "app"), ("source", "api")])
    query = pages.parse_query(both)
    result = pages.timeline_page(session, shop, customer.id, query)
    assert {e.source for e in result.events} == {"app", "api"} and len(result.events) == 5
    kinds_filter = MultiDict([("kind", "referral"), ("kind", "email"), ("kind", "order")])
    result = pages.timeline_page(session, shop, customer.id, pages.parse_query(kinds_filter))
    assert kinds_of(result) == ["email.reward.sent", "referral.created", "order.placed"]
    # across the two filters: AND (Shopify's orders only)
    mixed = MultiDict([("source", "shopify"), ("kind", "order"), ("kind", "email")])
    assert kinds_of(pages.timeline_page(session, shop, customer.id, pages.parse_query(mixed))) == [
        "order.placed"
    ]


def test_a_filtered_page_pages_on(session):
    shop = factories.shop(session)
    customer = factories.customer(session, shop)
    for n in range(12):
        add(session, shop, customer, "order.placed", T0 + timedelta(minutes=n), source="shopify")
        add(session, shop, customer, "email.invitation.sent", T0 + timedelta(minutes=n, seconds=1))
    first = page(session, shop, customer, size=5, kind="order")
    assert kinds_of(first) == ["order.placed"] * 5
    second = page(session, shop, customer, size=5, kind="order", before=first.older.encode())
    assert kinds_of(second) == ["order.placed"] * 5
    assert second.events[0].occurred_at < first.events[-1].occurred_at
    assert second.query.params(before=second.older) == {
        "kind": ["order"],
        "before": second.older.encode(),
    }


def test_bad_filter_values_and_cursors_show_the_first_unfiltered_page(session, busy):
    shop, customer, _ = busy
    for args in ({"source": "nope"}, {"kind": "x" * 300}, {"before": "abc"}, {"before": "1.-5"}):
        assert len(page(session, shop, customer, **args).events) == 8


def test_every_family_belongs_to_one_source():
    for family in kinds.FAMILIES:
        assert family.source in kinds.SOURCES
    assert kinds.family_of("shopify", "order.paid") == "order"
    assert kinds.family_of("app", "staff.referral.voided") == "staff"
    assert kinds.family_of("api", "order.placed") == "api"  # a third party can't pose as Shopify
    assert kinds.family_of("app", "order.placed") == "other_app"


def test_times_show_in_the_shops_time_zone():
    from zoneinfo import ZoneInfo

    assert local_time(T0, ZoneInfo("Europe/Helsinki")) == "1 Dec 2026, 00:30"
    assert local_time(T0, ZoneInfo("America/New_York")) == "30 Nov 2026, 17:30"


def test_sentences_a_merchant_reads(session):
    shop = factories.shop(session)
    customer = factories.customer(session, shop)
    reason = "The friend's email normalises to x@example.com = the advocate's (x@example.com)."
    add(session, shop, customer, "referral.blocked", T0, reason=reason, referral_id=1)
    add(session, shop, customer, "order.placed", T0, source="shopify", order="#1001",
        total_minor=4990, currency="EUR")  # fmt: skip
    add(session, shop, customer, "consent.sms", T0, source="shopify", to="unsubscribed",
        **{"from": "subscribed"})  # fmt: skip
    third_party.add_event(
        session, shop, customer, event_type="review.submitted", source_name="Judge.me"
    )
    found = pages.timeline_page(session, shop, customer.id, pages.TimelineQuery()).events
    titles = {e.event.kind: e.title for e in entries.entries_for(session, shop, found)}
    assert titles["referral.blocked"] == (
        "Referral blocked: the friend's email normalises to x@example.com = the advocate's "
        "(x@example.com)."
    )
    assert titles["order.placed"] == "Order #1001 placed for 49.90 EUR"
    assert titles["consent.sms"] == "SMS marketing: unsubscribed (was subscribed)"
    assert titles["review.submitted"] == "Review submitted (from Judge.me)"


def test_order_details_open_to_the_lines_and_totals(session):
    shop = factories.shop(session)
    factories.program(session, shop)
    payload = factories.order_payload(financial_status="paid", fulfillment_status="fulfilled")
    order = order_flow.apply_order(session, shop, payload)
    assert order is not None and order.customer_id is not None
    found = pages.timeline_page(session, shop, order.customer_id, pages.TimelineQuery()).events
    assert {e.kind for e in found} >= {"order.placed", "order.paid", "order.fulfilled"}
    [placed] = [
        e for e in entries.entries_for(session, shop, found) if e.event.kind == "order.placed"
    ]
    assert placed.order is not None and placed.order.line_items
    summary = detail_cards.order_summary(session, shop, order.customer_id)
    assert summary.count == 1 and summary.latest == [order]
    assert summary.spent == [(order.total_minor - order.refunded_minor, order.currency)]


def test_order_events_are_recorded_once(session):
    shop = factories.shop(session)
    payload = factories.order_payload(financial_status="paid")
    for _ in range(2):
        order_flow.apply_order(session, shop, payload)
    assert queries.event_kinds(session, shop).count("order.paid") == 1


def test_an_account_update_is_on_the_timeline_once(session):
    shop = factories.shop(session)
    body = payloads.customer(factories.next_id())
    upsert_customer(session, shop, body)
    later = {**body, "updated_at": "2026-12-01T10:00:00Z", "first_name": "Changed"}
    upsert_customer(session, shop, later, account_updated=True)
    upsert_customer(session, shop, later, account_updated=True)
    upsert_customer(session, shop, {**later, "updated_at": "2026-12-02T10:00:00Z"})
    assert queries.event_kinds(session, shop).count("customer.updated") == 1


def test_third_party_events_are_validated(session):
    shop = factories.shop(session)
    customer = factories.customer(session, shop)

    def refused(**fields) -> str:
        values = {"event_type": "review.submitted", "source_name": "Judge.me", **fields}
        with pytest.raises(third_party.InvalidEvent) as caught:
            third_party.add_event(session, shop, customer, **values)
        return str(caught.value)

    assert "lowercase words" in refused(event_type="Order Placed")
    assert "source name is required" in refused(source_name=" ")
    assert "At most 30 properties" in refused(properties={f"k{n}": n for n in range(31)})
    assert "longer than 500" in refused(properties={"text": "x" * 501})
    assert "no lists or objects" in refused(properties={"items": [1, 2]})
    assert "property name" in refused(properties={"bad key": 1})
    assert "JSON object" in refused(properties=[1])
    assert "in the future" in refused(occurred_at=datetime.now(UTC) + timedelta(days=1))
    assert "time zone" in refused(occurred_at=datetime(2026, 1, 1))
    assert "bytes" in refused(properties={f"k{n}": "y" * 300 for n in range(20)})
    other_shop = factories.shop(session)
    with pytest.raises(third_party.InvalidEvent, match="No such customer"):
        third_party.add_event(session, other_shop, customer, event_type="a.b", source_name="X")
    customer.redacted_at = datetime.now(UTC)
    assert "erased" in refused()


def test_a_third_party_event_is_stored_once_per_idempotency_key(session):
    shop = factories.shop(session)
    customer = factories.customer(session, shop)
    fields = {
        "event_type": "loyalty.points_earned",
        "source_name": "Smile",
        "properties": {"points": 50, "reason": "Birthday"},
        "idempotency_key": "evt-1",
        "occurred_at": T0,
    }
    first = third_party.add_event(session, shop, customer, **fields)
    again = third_party.add_event(session, shop, customer, **fields)
    assert first.id == again.id
    assert (first.source, first.family, first.source_name) == ("api", "api", "Smile")
    assert first.payload == {"properties": {"points": 50, "reason": "Birthday"}}
    assert kinds_of(page(session, shop, customer, source="api")) == ["loyalty.points_earned"]


def test_a_share_names_its_recipient_on_the_advocates_timeline(session):
    from flask import current_app

    from shopify_app.storefront.share import ShareLimits, share_offer

    shop = factories.shop(session)
    factories.program(session, shop)
    advocate = factories.advocate(session, shop)
    owner = session.get(Customer, advocate.customer_id)
    limits = ShareLimits.from_config(current_app.config)
    result = share_offer(
        session, shop, advocate, owner, ["friend@example.com"], ip=None, limits=limits
    )
    assert result.sent == ["friend@example.com"]
    [shared] = queries.events(session, shop, "program.shared")
    assert "friend@example.com" not in str(shared.payload)  # kept on the email, not the event
    [entry] = entries.entries_for(session, shop, [shared])
    assert entry.title == "Shared their referral offer with friend@example.com"
    assert entry.email is not None and entry.email.status == "queued"


def test_a_failed_send_is_on_the_timeline_with_its_delivery_log(session, monkeypatch):
    import smtplib

    from shopify_app import emails
    from shopify_app.emails import delivery

    shop = factories.shop(session)
    customer = factories.customer(session, shop)
    message, _ = emails.queue_email(
        session,
        shop,
        kind="reward",
        to=customer.email,
        subject="Your reward",
        body="Thanks",
        dedupe_key=f"test:{factories.next_id()}",
        customer_id=customer.id,
    )
    session.commit()

    def refuse(*_args, **_kwargs):
        raise smtplib.SMTPRecipientsRefused({customer.email: (550, b"no such user")})

    monkeypatch.setattr(delivery, "send_smtp", refuse)
    with pytest.raises(delivery.EmailNotDelivered):
        delivery.deliver(session, message.id, invitation_refusal=lambda *_: None)
    [failed] = queries.events(session, shop, "email.reward.failed")
    [entry] = entries.entries_for(session, shop, [failed])
    assert entry.title == "Reward email not delivered: “Your reward”"
    assert entry.email is not None and "SMTPRecipientsRefused" in (entry.email.error or "")


def test_a_staff_action_says_who_and_why_and_offers_its_undo(session):
    from shopify_app.referrals import staff_actions

    shop = factories.shop(session)
    factories.program(session, shop)
    advocate = factories.advocate(session, shop)
    friend = factories.customer(session, shop)
    referral = factories.referral(
        session, shop, advocate, factories.order(session, shop, friend), status="completed"
    )
    staff_actions.staff_void(
        session, shop, referral, actor="staff:501", reason="The friend is the advocate's alias"
    )
    found = pages.timeline_page(
        session, shop, advocate.customer_id, pages.parse_query(MultiDict({"kind": "staff"}))
    ).events
    [entry] = entries.entries_for(session, shop, found, name_of=lambda actor: "Ada Admin")
    assert entry.title == "Ada Admin voided a referral"
    assert entry.audit is not None and entry.audit.reason == "The friend is the advocate's alias"
    assert (entry.undo, entry.referral) == ("unvoid", referral)
    # the referral's own event on the friend's timeline says why, and offers the same undo
    voided = pages.timeline_page(
        session, shop, friend.id, pages.parse_query(MultiDict({"kind": "referral"}))
    ).events
    by_kind = {e.event.kind: e for e in entries.entries_for(session, shop, voided)}
    assert by_kind["referral.voided"].title == (
        "Referral voided: the friend is the advocate's alias"
    )
    assert by_kind["referral.voided"].undo == "unvoid"
    staff_actions.staff_unvoid(session, shop, referral, actor="staff:501", reason="Checked")
    again = entries.entries_for(session, shop, found)
    assert again[0].undo is None  # no longer voided: nothing to undo


def test_the_customer_actions_read_as_sentences(session):
    """The unsubscribe and export actions and a refused write-back, as the timeline says them."""
    shop = factories.shop(session)
    customer = factories.customer(session, shop)
    add(session, shop, customer, "staff.customer.unsubscribed_sms", T0, source="app")
    add(session, shop, customer, "staff.customer.exported", T0, source="app")
    add(session, shop, customer, "consent.email.writeback_failed", T0, source="app",
        channel="email", errors=[{"field": ["email"], "message": "Email is invalid"}])  # fmt: skip
    found = pages.timeline_page(session, shop, customer.id, pages.TimelineQuery()).events
    titles = {e.event.kind: e.title for e in entries.entries_for(session, shop, found)}
    assert titles["staff.customer.unsubscribed_sms"].endswith(
        "unsubscribed the customer from SMS marketing"
    )
    assert titles["staff.customer.exported"].endswith("exported the customer's data")
    assert titles["consent.email.writeback_failed"] == (
        "Shopify refused the email unsubscribe: email is invalid"
    )


def test_storefront_signups_read_as_sentences(session):
    shop = factories.shop(session)
    customer = factories.customer(session, shop)
    add(session, shop, customer, "storefront.signup", T0, channel="email", applied=False)
    add(session, shop, customer, "storefront.signup_confirmed", T0, channel="email")
    add(session, shop, customer, "customer.matched", T0, shopify_id=1, matched_by="phone")
    add(session, shop, customer, "email.signup_confirmation.queued", T0, subject="Confirm")
    found = pages.timeline_page(session, shop, customer.id, pages.TimelineQuery()).events
    titles = {e.event.kind: e.title for e in entries.entries_for(session, shop, found)}
    assert titles["storefront.signup"] == (
        "Signed up on the storefront for email news and offers "
        "(subscribed only once they confirm from the emailed link)"
    )
    assert titles["storefront.signup_confirmed"].startswith("Confirmed their email signup")
    assert (
        titles["customer.matched"] == "Matched to the Shopify customer with the same phone number"
    )
    assert (
        titles["email.signup_confirmation.queued"] == "Signup confirmation email queued: “Confirm”"
    )
