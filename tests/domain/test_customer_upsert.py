"""Create or update by email or phone (E1) and custom attributes (G8): one record per
address, exactly as a storefront signup; Shopify's customers keep their names."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shopify_app.customers import attributes, signups, upsert
from shopify_app.models import AuditEntry, Customer
from shopify_app.sync import signup_merge

from .. import factories

ACTOR = "api:Zapier"


def customers(session, shop) -> list[Customer]:
    return list(session.scalars(select(Customer).where(Customer.shop_id == shop.id)))


def test_a_signup_record_and_the_api_share_one_record_per_address(session, shop):
    signup = signups.sign_up(
        session, shop, signups.parse_contact("ada@example.com", None), confirm_url="u"
    )
    done = upsert.upsert_customer(
        session, shop, {"email": "ADA@example.com", "first_name": "Ada"}, actor=ACTOR
    )
    assert (done.customer.id, done.created) == (signup.customer_id, False)
    assert done.customer.first_name == "Ada"
    assert len(customers(session, shop)) == 1


def test_a_shopify_customer_keeps_its_names_and_gets_attributes(session, shop):
    ada = factories.customer(session, shop, email="ada@example.com", first_name="Ada")
    done = upsert.upsert_customer(
        session,
        shop,
        {"email": "ada@example.com", "first_name": "Eve", "custom_attributes": {"tier": "gold"}},
        actor=ACTOR,
    )
    assert done.customer.id == ada.id and not done.created
    assert ada.first_name == "Ada" and ada.custom_attributes == {"tier": "gold"}
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.shop_id == shop.id))
    assert (entry.actor, entry.action, entry.customer_id) == (ACTOR, "customer.api_updated", ada.id)


def test_nothing_changed_is_not_audited(session, shop):
    upsert.upsert_customer(session, shop, {"email": "a@example.com"}, actor=ACTOR)
    upsert.upsert_customer(session, shop, {"email": "a@example.com"}, actor=ACTOR)
    audits = session.scalars(select(AuditEntry).where(AuditEntry.shop_id == shop.id)).all()
    assert [a.action for a in audits] == ["customer.api_created"]


def test_a_bad_address_is_refused_with_its_field(session, shop):
    with pytest.raises(upsert.InvalidCustomer) as caught:
        upsert.upsert_customer(session, shop, {"phone": "555"}, actor=ACTOR)
    assert caught.value.path == "phone"
    assert customers(session, shop) == []


def test_attributes_merge_remove_and_stay_bounded():
    merged = attributes.merged({"a": 1, "b": "x"}, {"b": None, "c": True, "d": "2027-01-31"})
    assert merged == {"a": 1, "c": True, "d": "2027-01-31"}
    assert [(s.name, s.kind, s.text) for s in attributes.shown(merged)] == [
        ("a", "number", "1"),
        ("c", "boolean", "Yes"),
        ("d", "date", "2027-01-31"),
    ]
    assert attributes.kind_of("2027-02-30") == "text"
    full = {f"k{i}": i for i in range(attributes.MAX_ATTRIBUTES)}
    with pytest.raises(attributes.InvalidAttributes):
        attributes.merged(full, {"one_more": 1})
    with pytest.raises(attributes.InvalidAttributes):
        attributes.merged(None, {f"t{i}": "x" * 500 for i in range(20)})  # over 8 KB
    with pytest.raises(attributes.InvalidAttributes):
        attributes.merged(None, {"9starts_with_digit": 1})
    with pytest.raises(attributes.InvalidAttributes):
        attributes.merged(None, {"n": float("inf")})


def test_an_api_record_folded_into_the_shopify_customer_keeps_its_attributes(session, shop):
    made = upsert.upsert_customer(
        session,
        shop,
        {"email": "sam@example.com", "custom_attributes": {"plan": "pro", "seats": 3}},
        actor=ACTOR,
    ).customer
    sam = factories.customer(session, shop, email="other@example.com")
    sam.custom_attributes = {"plan": "free"}
    session.flush()
    assert signup_merge.fold_into(session, shop, sam, made, by="email")
    assert sam.custom_attributes == {"plan": "free", "seats": 3}  # the customer's value stays
    assert [c.id for c in customers(session, shop)] == [sam.id]
