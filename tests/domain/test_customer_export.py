"""One customer's export (E5): every section, the same values as JSON and as CSV files in a
zip, the formula guard, an erased customer and another shop's."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest

from shopify_app.customers import data_export
from shopify_app.emails import queue_email
from shopify_app.models import OrderLineItem, utcnow
from shopify_app.timeline.events import record_event

from .. import factories


@pytest.fixture
def shop(session):
    shop = factories.shop(session)
    factories.program(session, shop)
    return shop


@pytest.fixture
def data(session, shop):
    """A customer with an order of two lines, a referral as advocate (with a reward) and
    one as friend, and three timeline events."""
    person = factories.customer(
        session,
        shop,
        first_name="=HYPERLINK(1)",
        phone="+15550002222",
        email_marketing_state="unsubscribed",
    )
    order = factories.order(session, shop, person)
    for position, (title, price) in enumerate([("Tea", 500), ("-Cup", 1200)]):
        session.add(
            OrderLineItem(
                shop_id=shop.id,
                order_id=order.id,
                position=position,
                title=title,
                sku=f"SKU{position}",
                quantity=position + 1,
                price_minor=price,
            )
        )
    advocate = factories.advocate(session, shop, person)
    friend_order = factories.order(session, shop, factories.customer(session, shop))
    as_advocate = factories.referral(session, shop, advocate, friend_order, status="completed")
    reward = factories.reward(session, shop, as_advocate)
    other = factories.advocate(session, shop)
    as_friend = factories.referral(session, shop, other, order)
    base = utcnow() - timedelta(days=3)
    for n in range(3):
        record_event(
            session,
            shop_id=shop.id,
            customer_id=person.id,
            kind=f"test.kind{n}",
            occurred_at=base + timedelta(hours=n),
            source="app",
            payload={"n": n, "note": "@SUM(A1)"},
            dedupe_key=f"test-export:{person.id}:{n}",
        )
    session.flush()
    return {
        "person": person,
        "order": order,
        "as_advocate": as_advocate,
        "as_friend": as_friend,
        "reward": reward,
    }


def _zip_sections(blob: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {
            name.removesuffix(".csv"): list(
                csv.DictReader(io.StringIO(archive.read(name).decode()))
            )
            for name in archive.namelist()
        }


def test_every_section_as_json(session, shop, data):
    export = data_export.customer_export(session, shop, data["person"].id)
    document = json.loads(export.to_json())
    person = data["person"]
    assert document["profile"]["email"] == person.email
    assert document["profile"]["first_name"] == "=HYPERLINK(1)"  # JSON is not guarded
    assert document["profile"]["program_status"] == "Joined"
    assert {c["channel"]: c["state"] for c in document["consent"]} == {
        "email": "unsubscribed",
        "sms": None,
    }
    [order] = document["orders"]
    assert order["shopify_id"] == data["order"].shopify_id
    assert [(li["title"], li["quantity"], li["price_minor"]) for li in order["lines"]] == [
        ("Tea", 1, 500),
        ("-Cup", 2, 1200),
    ]
    assert {(r["id"], r["role"]) for r in document["referrals"]} == {
        (data["as_advocate"].id, "advocate"),
        (data["as_friend"].id, "friend"),
    }
    assert [r["code"] for r in document["rewards"]] == [data["reward"].code]
    assert [e["kind"] for e in document["timeline"]] == ["test.kind2", "test.kind1", "test.kind0"]
    assert document["timeline"][0]["payload"] == {"n": 2, "note": "@SUM(A1)"}


def test_the_zip_holds_one_csv_per_section_with_the_same_values(session, shop, data):
    export = data_export.customer_export(session, shop, data["person"].id)
    sections = _zip_sections(export.to_zip())
    assert set(sections) == set(data_export.COLUMNS)
    [profile] = sections["profile"]
    assert profile["email"] == data["person"].email
    assert profile["first_name"] == "'=HYPERLINK(1)"  # the list export's guard
    assert profile["phone"] == "'+15550002222"
    assert [li["title"] for li in sections["order_lines"]] == ["Tea", "'-Cup"]
    assert [li["order_name"] for li in sections["order_lines"]] == [data["order"].name] * 2
    assert len(sections["timeline"]) == 3
    assert json.loads(sections["timeline"][0]["payload"]) == {"n": 2, "note": "@SUM(A1)"}
    assert sections["rewards"][0]["code"] == data["reward"].code
    assert {r["role"] for r in sections["referrals"]} == {"advocate", "friend"}
    assert sections["emails"] == []


def test_emails_to_the_customer_and_to_their_address(session, shop):
    person = factories.customer(session, shop, email="Mixed@Example.com")
    for key, customer_id in (("by-id", person.id), ("by-address", None)):
        queue_email(
            session,
            shop,
            kind="reward",
            to="Mixed@Example.com",
            subject=f"Subject {key}",
            body="…",
            dedupe_key=key,
            customer_id=customer_id,
        )
    export = data_export.customer_export(session, shop, person.id)
    assert sorted(e["subject"] for e in export.sections["emails"]) == [
        "Subject by-address",
        "Subject by-id",
    ]


def test_an_erased_customer_offers_nothing(session, shop):
    person = factories.customer(session, shop, redacted_at=utcnow())
    with pytest.raises(data_export.NothingToExport):
        data_export.customer_export(session, shop, person.id)


def test_another_shops_customer_is_not_found(session, shop):
    person = factories.customer(session, factories.shop(session))
    assert data_export.customer_export(session, shop, person.id) is None


def test_conversations_linked_or_started_with_their_address_with_every_message(
    session, shop, monkeypatch
):
    from shopify_app.conversations import notify, service

    monkeypatch.setattr(notify, "publish_message", lambda *a, **k: None)
    person = factories.customer(session, shop, email="Chatty@Example.com")
    linked = service.start_conversation(session, shop, email=None, customer=person)
    by_address = service.start_conversation(session, shop, email="chatty@example.com")
    stranger = service.start_conversation(session, shop, email="someone@example.com")
    other_shop = factories.shop(session)
    elsewhere = service.start_conversation(session, other_shop, email="chatty@example.com")
    service.post_message(session, shop, linked, author="shopper", body="=1+1", channel="widget")
    service.post_message(session, shop, linked, author="note", body="VIP", channel="admin")
    service.post_message(session, shop, by_address, author="shopper", body="hi", channel="email")
    for conversation in (stranger,):
        service.post_message(
            session, shop, conversation, author="shopper", body="x", channel="widget"
        )
    service.post_message(
        session, other_shop, elsewhere, author="shopper", body="y", channel="widget"
    )
    export = data_export.customer_export(session, shop, person.id)
    assert [c["id"] for c in export.sections["conversations"]] == [linked.id, by_address.id]
    assert [
        (m["conversation_id"], m["author"], m["body"]) for m in export.sections["messages"]
    ] == [
        (linked.id, "shopper", "=1+1"),
        (linked.id, "note", "VIP"),
        (by_address.id, "shopper", "hi"),
    ]
    document = json.loads(export.to_json())
    assert [len(c["messages"]) for c in document["conversations"]] == [2, 1]
    assert document["conversations"][0]["email"] == "chatty@example.com"
    with zipfile.ZipFile(io.BytesIO(export.to_zip())) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("messages.csv").decode())))
    assert rows[0]["body"] == "'=1+1"  # the formula guard
