"""The referral engine end to end, against the devstore over real HTTP with real workers:
join, friend code in Shopify, a friend's order with the code (duplicated and reordered
deliveries), completion, the reward code in Shopify with the right terms, the email, the
reward used, a refund voiding a referral with the code clawed back, a self-referral through an
email alias blocked with its evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner

from devstore import commerce
from shopify_app.cli import main
from shopify_app.db import get_session
from shopify_app.models import (
    Advocate,
    Customer,
    FraudCheck,
    Referral,
    ReferralTransition,
    Reward,
    Shop,
    TimelineEvent,
)
from shopify_app.referrals import advocates, revenue
from shopify_app.referrals.program import get_program, update_program
from tests import payloads
from tests.conftest import SHOP_A
from workers import referral_jobs

from .webhook_support import cli_env, deliver, install, one, rows, run_jobs

LINES = [{"title": "Green tea", "price": "40.00", "quantity": 2, "sku": "TEA-1", "product_id": 71}]


def settle(live, rounds: int = 4) -> None:
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


def shop_data(live):
    return commerce.data(live.state, SHOP_A)


@pytest.fixture
def program(live):
    install(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        assert shop.currency == "EUR"  # read from the Admin API when the app opened
        update_program(
            session,
            shop,
            {
                "enabled": True,
                "friend_kind": "percentage",
                "friend_value": 15,
                "reward_kind": "fixed_amount",
                "reward_value": 1000,
                "reward_expiry_days": 30,
            },
            actor="staff:501",
        )
        session.commit()
    return live


def join(live, dev_customer) -> Advocate:
    settle(live)
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        customer = session.query(Customer).filter_by(shopify_id=dev_customer.id).one()
        advocate, created = advocates.join(session, shop, customer, via="staff", actor="staff:501")
        assert created
        session.commit()
    run_jobs(live.app)
    return one(live.app, Advocate, Advocate.id == advocate.id)


def test_a_referral_from_link_to_reward_used_and_a_refund_clawed_back(program):
    live = program
    ada = commerce.create_customer(
        live.state, SHOP_A, email="ada.lovelace@gmail.com", first_name="Ada", state="enabled"
    )
    advocate = join(live, ada)
    assert advocate.friend_discount_status == "active", advocate.friend_discount_error
    friend_code = commerce.find_discount(shop_data(live), advocate.code)
    assert friend_code is not None and friend_code.percentage == pytest.approx(0.15)
    assert friend_code.applies_once_per_customer and friend_code.customer_ids == []

    live.state.dispatcher.fault_rates = {"duplicate": 0.3, "reorder": 0.3}
    bob = commerce.create_customer(live.state, SHOP_A, email="bob@example.com", first_name="Bob")
    order = commerce.place_order(
        live.state, SHOP_A, customer_id=bob.id, lines=LINES, discount_code=advocate.code
    )
    assert order.discount_code == advocate.code  # the devstore's checkout applied it
    settle(live)
    live.state.dispatcher.fault_rates = {}

    referral = one(live.app, Referral)
    assert (referral.status, referral.attribution, referral.order_shopify_id) == (
        "completed",
        "discount_code",
        order.id,
    )
    assert {c.outcome for c in rows(live.app, FraudCheck)} == {"pass"}
    reward = one(live.app, Reward)
    assert reward.status == "issued" and reward.discount_gid
    code = commerce.find_discount(shop_data(live), reward.code)
    assert code is not None
    assert (code.amount, code.usage_limit, code.customer_ids) == (Decimal("10.00"), 1, [ada.id])
    assert code.ends_at is not None
    mail = live.devstore.extensions["devstore_mailbox"].to("ada.lovelace@gmail.com")
    assert len(mail) == 1 and reward.code in mail[0].text

    commerce.place_order(
        live.state, SHOP_A, customer_id=ada.id, lines=LINES, discount_code=reward.code
    )
    settle(live)
    reward = one(live.app, Reward)
    assert reward.status == "used" and reward.used_order_shopify_id is not None

    cy = commerce.create_customer(live.state, SHOP_A, email="cy@example.com", first_name="Cy")
    second = commerce.place_order(
        live.state, SHOP_A, customer_id=cy.id, lines=LINES, discount_code=advocate.code
    )
    settle(live)
    second_reward = one(live.app, Reward, Reward.status == "issued")
    commerce.refund_order(live.state, SHOP_A, second.id, second.total)
    settle(live)
    voided = one(live.app, Referral, Referral.order_shopify_id == second.id)
    assert voided.status == "voided" and "refunded" in voided.status_reason
    clawed = one(live.app, Reward, Reward.id == second_reward.id)
    assert clawed.status == "voided"
    assert commerce.find_discount(shop_data(live), clawed.code).active is False
    assert len(rows(live.app, Referral)) == 2 and len(rows(live.app, Reward)) == 2
    kinds = {e.kind for e in rows(live.app, TimelineEvent)}
    assert {"program.joined", "referral.created", "referral.completed", "reward.issued"} <= kinds
    assert {"reward.used", "referral.voided", "reward.voided"} <= kinds


def test_a_self_referral_through_an_email_alias_is_blocked_with_its_evidence(program):
    live = program
    ada = commerce.create_customer(
        live.state, SHOP_A, email="ada.lovelace@gmail.com", first_name="Ada", state="enabled"
    )
    advocate = join(live, ada)
    alias = commerce.create_customer(live.state, SHOP_A, email="AdaLovelace+deals@gmail.com")
    commerce.place_order(
        live.state, SHOP_A, customer_id=alias.id, lines=LINES, discount_code=advocate.code
    )
    settle(live)
    referral = one(live.app, Referral)
    assert referral.status == "blocked"
    assert "adalovelace@gmail.com" in referral.status_reason
    check = one(live.app, FraudCheck, FraudCheck.rule_id == "self_referral.email")
    assert check.outcome == "block" and check.rule_version == 1
    assert check.evidence["friend_normalised"] == check.evidence["advocate_normalised"]
    assert rows(live.app, Reward) == []
    transition = one(live.app, ReferralTransition, ReferralTransition.to_status == "blocked")
    assert transition.cause == "rule:self_referral.email" and transition.actor == "system"


def test_an_order_with_a_code_while_the_program_is_off_says_why(program):
    live = program
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    advocate = join(live, ada)
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        update_program(session, shop, {"enabled": False}, actor="staff:501")
        session.commit()
        assert get_program(session, shop).enabled is False
    dan = commerce.create_customer(live.state, SHOP_A, email="dan@example.com")
    commerce.place_order(
        live.state, SHOP_A, customer_id=dan.id, lines=LINES, discount_code=advocate.code
    )
    settle(live)
    assert rows(live.app, Referral) == []
    event = one(live.app, TimelineEvent, TimelineEvent.kind == "referral.not_created")
    assert event.payload["reason"] == "the referral program is switched off"


def ada_and_bob(live) -> tuple[commerce.DevCustomer, Advocate, commerce.DevCustomer]:
    """Ada (an enabled account), joined as an advocate, and Bob, a customer she may refer."""
    ada = commerce.create_customer(
        live.state, SHOP_A, email="ada@example.com", first_name="Ada", state="enabled"
    )
    advocate = join(live, ada)
    bob = commerce.create_customer(live.state, SHOP_A, email="bob@example.com", first_name="Bob")
    return ada, advocate, bob


def stats(live, dev_customer):
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        customer = session.query(Customer).filter_by(shopify_id=dev_customer.id).one()
        return revenue.stats_for(session, shop, customer.id)


def test_revenue_follows_orders_partial_refunds_and_reward_use_and_recomputes(program):
    live = program
    ada, advocate, bob = ada_and_bob(live)
    order = commerce.place_order(
        live.state, SHOP_A, customer_id=bob.id, lines=LINES, discount_code=advocate.code
    )
    cy = commerce.create_customer(live.state, SHOP_A, email="cy@example.com", first_name="Cy")
    lost = commerce.place_order(
        live.state, SHOP_A, customer_id=cy.id, lines=LINES, discount_code=advocate.code
    )
    settle(live)
    assert order.total == Decimal("68.00")  # 80.00 less the friend's 15 %
    assert stats(live, ada) == revenue.Stats(
        successful_referrals=2, total_referees=2, referral_revenue_minor=13600
    )
    assert stats(live, bob).referee_revenue_minor == 6800

    commerce.refund_order(live.state, SHOP_A, order.id, Decimal("8.00"))  # partial
    commerce.refund_order(live.state, SHOP_A, lost.id, lost.total)  # full: voided
    reward = rows(live.app, Reward)[0]
    commerce.place_order(
        live.state, SHOP_A, customer_id=ada.id, lines=LINES, discount_code=reward.code
    )
    settle(live)
    assert stats(live, ada) == revenue.Stats(
        successful_referrals=1,
        total_referees=2,
        referral_revenue_minor=6000,
        referrer_revenue_minor=7000,  # 80.00 less the 10.00 reward
    )
    assert stats(live, bob).referee_revenue_minor == 6000
    assert stats(live, cy).referee_revenue_minor == 0

    env = cli_env(live.app)

    def cli(*args):
        return CliRunner().invoke(main, ["revenue", "recompute", *args], env=env)

    clean = cli()
    assert clean.exit_code == 0 and "0 customer(s) differ" in clean.output
    with live.app.app_context():
        session = get_session()
        session.query(Customer).filter(Customer.stats_updated_at.is_not(None)).update(
            {"referral_revenue_minor": 1}
        )
        session.commit()
    drift = cli("--shop", SHOP_A)
    assert drift.exit_code == 1
    assert "referral_revenue_minor 1 -> 6000" in drift.output
    repaired = cli("--repair")
    assert "(repaired)" in repaired.output
    assert cli().exit_code == 0


def delete_in_shopify(live, code: str) -> None:
    """What a merchant deleting the discount in the Shopify admin does."""
    shop = shop_data(live)
    discount = commerce.find_discount(shop, code)
    del shop.discounts[discount.id]
    live.state.emit(
        SHOP_A,
        "discounts/delete",
        {"admin_graphql_api_id": discount.gid, "deleted_at": "2026-12-01T12:00:00Z"},
    )


def test_codes_deleted_in_shopify_are_reflected_and_rewards_expire(program):
    live = program
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    advocate = join(live, ada)
    bob = commerce.create_customer(live.state, SHOP_A, email="bob@example.com")
    commerce.place_order(
        live.state, SHOP_A, customer_id=bob.id, lines=LINES, discount_code=advocate.code
    )
    settle(live)
    reward = one(live.app, Reward)
    delete_in_shopify(live, reward.code)
    delete_in_shopify(live, advocate.code)
    settle(live)
    gone = one(live.app, Advocate)
    assert gone.friend_discount_status == "deleted" and "deleted in Shopify" in (
        gone.friend_discount_error
    )
    voided = one(live.app, Reward)
    assert voided.status == "voided" and voided.void_reason == "The code was deleted in Shopify."

    with live.app.app_context():
        assert referral_jobs.sync_friend_code(gone.id) == "active"  # made anew
    again = one(live.app, Advocate)
    assert again.friend_discount_gid != gone.friend_discount_gid
    assert commerce.find_discount(shop_data(live), again.code) is not None

    cy = commerce.create_customer(live.state, SHOP_A, email="cy@example.com")
    commerce.place_order(
        live.state, SHOP_A, customer_id=cy.id, lines=LINES, discount_code=again.code
    )
    settle(live)
    fresh = one(live.app, Reward, Reward.status == "issued")
    with live.app.app_context():
        session = get_session()
        session.get(Reward, fresh.id).expires_at = datetime.now(UTC) - timedelta(minutes=1)
        session.commit()
        assert referral_jobs.expire_rewards() == 1
    assert one(live.app, Reward, Reward.id == fresh.id).status == "unused"


def test_referral_work_whose_jobs_were_lost_is_picked_up_by_the_sweeper(program):
    """Redis restarted empty after the referral completed: nothing is lost."""
    live = program
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    advocate = join(live, ada)
    bob = commerce.create_customer(live.state, SHOP_A, email="bob@example.com")
    commerce.place_order(
        live.state, SHOP_A, customer_id=bob.id, lines=LINES, discount_code=advocate.code
    )
    assert live.state.dispatcher.drain(15)
    with live.app.app_context():
        from shopify_app.jobs import get_queue

        get_queue().empty()
    run_jobs(live.app)  # the drain was lost too: the inbox sweeper's job; run it by hand
    with live.app.app_context():
        from workers.webhook_jobs import drain_inbox

        drain_inbox(one(live.app, Shop, Shop.domain == SHOP_A).id)
        get_queue().empty()  # the reward-code job is lost as well
    assert one(live.app, Reward).status == "pending"
    with live.app.app_context():
        assert referral_jobs.sweep_referral_work() == 0  # too fresh: its job may be on its way
        session = get_session()
        session.query(Reward).update({"updated_at": datetime.now(UTC) - timedelta(minutes=10)})
        session.commit()
        assert referral_jobs.sweep_referral_work() == 1
    run_jobs(live.app)
    assert one(live.app, Reward).status == "issued"
    assert len(live.devstore.extensions["devstore_mailbox"].to("ada@example.com")) == 1
    with live.app.app_context():
        assert referral_jobs.sweep_referral_work() == 0  # nothing left behind


def test_redacting_a_friend_scrubs_the_evidence_and_erasing_the_shop_removes_the_program(program):
    live = program
    ada = commerce.create_customer(
        live.state, SHOP_A, email="ada.lovelace@gmail.com", first_name="Ada", state="enabled"
    )
    advocate = join(live, ada)
    alias = commerce.create_customer(live.state, SHOP_A, email="AdaLovelace+deals@gmail.com")
    order = commerce.place_order(
        live.state, SHOP_A, customer_id=alias.id, lines=LINES, discount_code=advocate.code
    )
    settle(live)
    assert one(live.app, Referral).status == "blocked"
    deliver(
        live,
        SHOP_A,
        "customers/redact",
        payloads.customers_redact(SHOP_A, cid=alias.id, orders=(order.id,))
        | {"customer": {"id": alias.id, "email": "AdaLovelace+deals@gmail.com"}},
    )
    run_jobs(live.app)
    referral = one(live.app, Referral)
    assert referral.status == "blocked" and referral.status_reason == "(redacted)"
    for check in rows(live.app, FraudCheck):
        assert "adalovelace" not in repr(check.evidence).lower() + check.explanation.lower()
    for event in rows(live.app, TimelineEvent):
        assert "adalovelace+deals" not in repr(event.payload).lower()

    deliver(live, SHOP_A, "shop/redact", payloads.shop_redact(SHOP_A))
    run_jobs(live.app)
    for model in (Advocate, Referral, Reward, FraudCheck, ReferralTransition, Customer):
        assert rows(live.app, model) == [], model.__name__
