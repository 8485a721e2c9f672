"""The friend offer is for new customers: the code in Shopify holds what checkout can hold
(one use per customer, tracked by email, so guests too), a brand-new guest is never refused,
and what checkout lets through, an existing customer using a friend code (logged in, as a
guest, or under a second customer record with the same email), makes no referral and is
listed for the merchant."""

from __future__ import annotations

from datetime import UTC, datetime

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import FraudCheck, Referral, Reward, Shop
from shopify_app.referrals import queries
from shopify_app.referrals.program import update_program
from tests import payloads
from tests.conftest import SHOP_A, SHOP_B
from workers import referral_jobs

from . import test_referral_flow
from .test_program_pages import get
from .test_referral_flow import LINES, join, settle, shop_data
from .webhook_support import deliver, install, one, rows, shop_id

program = test_referral_flow.program  # the fixture: an installed shop, program on


def set_program(live, **values) -> None:
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        update_program(session, shop, values, actor="staff:501")
        session.commit()


def test_new_customers_only_makes_the_code_once_per_customer_and_checkout_holds_guests(program):
    live = program
    set_program(live, friend_once_per_customer=False, friend_new_customers_only=True)
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", state="enabled")
    advocate = join(live, ada)
    code = commerce.find_discount(shop_data(live), advocate.code)
    assert code.applies_once_per_customer is True
    assert code.customer_ids == []  # open to every buyer: no eligibility list, no segment

    first = commerce.place_order(
        live.state, SHOP_A, customer_id=None, email="New.Guest@example.com", lines=LINES,
        discount_code=advocate.code,
    )  # fmt: skip
    assert first.discount_code == advocate.code  # a brand-new guest gets the offer
    again = commerce.place_order(
        live.state, SHOP_A, customer_id=None, email="new.guest@example.com", lines=LINES,
        discount_code=advocate.code,
    )  # fmt: skip
    assert again.discount_code is None  # once per customer, tracked by the buyer's email
    settle(live)
    referral = one(live.app, Referral)
    assert (referral.order_shopify_id, referral.status) == (first.id, "completed")

    set_program(live, friend_new_customers_only=False)
    with live.app.app_context():  # what the Settings page enqueues after such a change
        referral_jobs.update_friend_codes(shop_id(live.app, SHOP_A))
    assert commerce.find_discount(shop_data(live), advocate.code).applies_once_per_customer is False


def test_an_existing_customer_checking_out_as_a_guest_makes_no_referral_and_is_listed(program):
    live = program
    ada = commerce.create_customer(
        live.state, SHOP_A, email="ada@example.com", first_name="Ada", state="enabled"
    )
    advocate = join(live, ada)
    cy = commerce.create_customer(
        live.state, SHOP_A, email="cy@example.com", first_name="Cy", last_name="Young"
    )
    earlier = commerce.place_order(live.state, SHOP_A, customer_id=cy.id, lines=LINES)
    settle(live)

    store = f"{live.devstore_url}/shops/{SHOP_A}"
    live.http.post(f"{store}/cart/add.js", data={"id": "8001", "quantity": "2"})
    checkout = live.http.post(
        f"{store}/checkout",
        data={"email": "CY@example.com", "discount_code": advocate.code},
    )
    assert checkout.status_code == 200
    guest_order = max(shop_data(live).orders.values(), key=lambda o: o.id)
    assert guest_order.customer_id == cy.id and guest_order.discount_code == advocate.code
    settle(live)

    referral = one(live.app, Referral)
    assert referral.status == "blocked" and rows(live.app, Reward) == []
    check = one(live.app, FraudCheck, FraudCheck.rule_id == "existing_customer")
    assert check.outcome == "block" and check.rule_version == 2
    assert check.evidence["prior_orders"] == [earlier.name]

    page = get(live, "/referrals/existing-customers")
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "Existing customers who used a friend code" in text
    row = text.split(f'id="use-{referral.id}"', 1)[1].split("</tr>", 1)[0]
    for expected in ("Cy Young", "cy@example.com", guest_order.name, advocate.code, "Ada"):
        assert expected in row
    assert guest_order.created_at.strftime("%Y-%m-%d") in row
    assert "already ordered" in row
    listing = get(live, "/referrals")
    assert "Existing customers who used a friend code (1)" in " ".join(listing.text.split())

    install(live, SHOP_B)
    other = get(live, "/referrals/existing-customers", shop=SHOP_B)
    assert other.status_code == 200 and "cy@example.com" not in other.text
    assert "No existing customer has used a friend code." in other.text


def test_an_email_that_already_ordered_under_another_record_is_an_existing_customer(program):
    """Shopify names a different customer record (or none) on the order; the email gives the
    friend away, and the list pages by keyset, newest first."""
    live = program
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    advocate = join(live, ada)
    cy = commerce.create_customer(live.state, SHOP_A, email="cy@example.com", first_name="Cy")
    earlier = commerce.place_order(live.state, SHOP_A, customer_id=cy.id, lines=LINES)
    settle(live)
    used = [{"code": advocate.code.lower(), "amount": "8.00", "type": "percentage"}]
    now = datetime.now(UTC).isoformat()
    later = {"created_at": now, "processed_at": now, "updated_at": now}
    second_record = payloads.order(
        9101,
        cid=777001,
        email="Cy@Example.com",
        discount_codes=used,
        financial_status="paid",
        customer=payloads.customer(777001, email="Cy@Example.com", state="disabled"),
        **later,
    )
    no_record = payloads.order(
        9102,
        cid=None,
        email="cy@example.com",
        discount_codes=used,
        financial_status="paid",
        **later,
    )
    no_record["customer"] = None
    for order in (second_record, no_record):
        deliver(live, SHOP_A, "orders/create", order)
    settle(live)

    referrals = rows(live.app, Referral)
    assert [r.status for r in referrals] == ["blocked", "blocked"]
    assert rows(live.app, Reward) == []
    checks = rows(live.app, FraudCheck, FraudCheck.rule_id == "existing_customer")
    assert {c.outcome for c in checks} == {"block"}
    assert all(c.evidence["prior_orders_by_email"] == [earlier.name] for c in checks)
    assert "belongs to a customer who had already ordered" in referrals[0].status_reason

    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        page, before = queries.list_existing_customer_uses(session, shop, limit=1)
        assert [u.referral.order_shopify_id for u in page] == [9102] and before is not None
        rest, end = queries.list_existing_customer_uses(session, shop, before_id=before, limit=1)
        assert [u.referral.order_shopify_id for u in rest] == [9101] and end is None
        assert rest[0].code == advocate.code and rest[0].order_email == "Cy@Example.com"
        assert queries.count_existing_customer_uses(session, shop) == 2
