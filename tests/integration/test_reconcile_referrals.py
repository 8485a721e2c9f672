"""Reconciliation feeds the referral engine: orders and refunds whose webhooks the devstore
dropped are recovered through the same code as the webhooks (attribution, completion, the
reward and its code, reward use, the refund's void and clawback), and a late webhook for the
same order afterwards changes nothing."""

from __future__ import annotations

from devstore import commerce
from shopify_app.models import Referral, Reward
from tests.conftest import SHOP_A
from workers import sync_jobs

from . import test_referral_flow
from .test_referral_flow import LINES, ada_and_bob, settle, shop_data
from .webhook_support import one, rows, run_jobs, shop_id

LOST = ("orders/create", "orders/paid", "orders/updated", "refunds/create")

program = test_referral_flow.program  # the fixture: an installed shop, program on


def reconcile(live) -> dict[str, int]:
    with live.app.app_context():
        report = sync_jobs.reconcile_shop(shop_id(live.app, SHOP_A))
    run_jobs(live.app)  # the reward code, the clawback, the email: enqueued after its commit
    run_jobs(live.app)
    return report


def reward_codes(live) -> list:
    return [d for d in shop_data(live).discounts.values() if d.title.startswith("Referral reward")]


def test_a_lost_paid_webhook_and_a_lost_refund_are_recovered_by_reconciliation(program):
    live = program
    ada, advocate, bob = ada_and_bob(live)
    order = commerce.place_order(
        live.state,
        SHOP_A,
        customer_id=bob.id,
        lines=LINES,
        discount_code=advocate.code,
        financial_status="pending",
    )
    settle(live)
    assert one(live.app, Referral).status == "pending"  # ordered, not paid yet

    live.state.dispatcher.topic_faults = {"orders/paid": "drop", "orders/updated": "drop"}
    commerce.pay_order(live.state, SHOP_A, order.id)
    settle(live)
    assert one(live.app, Referral).status == "pending" and rows(live.app, Reward) == []

    assert reconcile(live)["orders_recovered"] == 1
    referral = one(live.app, Referral)
    assert referral.status == "completed"
    reward = one(live.app, Reward)
    assert reward.status == "issued" and reward.discount_gid
    code = commerce.find_discount(shop_data(live), reward.code)
    assert code is not None and code.active and code.customer_ids == [ada.id]

    live.state.dispatcher.topic_faults = {"refunds/create": "drop", "orders/updated": "drop"}
    commerce.refund_order(live.state, SHOP_A, order.id, order.total, note="damaged")
    settle(live)
    assert one(live.app, Referral).status == "completed"

    assert reconcile(live)["orders_recovered"] == 1
    voided = one(live.app, Referral)
    assert voided.status == "voided" and "refunded" in voided.status_reason
    assert one(live.app, Reward).status == "voided"
    assert commerce.find_discount(shop_data(live), reward.code).active is False
    assert reconcile(live)["orders_recovered"] == 0
    assert len(rows(live.app, Referral)) == 1 and len(reward_codes(live)) == 1


def test_a_recovered_order_is_attributed_redeems_its_reward_and_a_late_webhook_is_a_no_op(program):
    live = program
    ada, advocate, bob = ada_and_bob(live)
    settle(live)
    live.state.dispatcher.topic_faults = dict.fromkeys(LOST, "drop")
    referred = commerce.place_order(
        live.state,
        SHOP_A,
        customer_id=bob.id,
        lines=LINES,
        discount_code=None,
        landing_site=f"/?ref={advocate.code}",
    )
    settle(live)
    assert rows(live.app, Referral) == []

    assert reconcile(live)["orders_recovered"] == 1
    referral = one(live.app, Referral)
    assert (referral.status, referral.attribution) == ("completed", "landing_site")
    reward = one(live.app, Reward)
    assert reward.status == "issued"

    redeeming = commerce.place_order(
        live.state, SHOP_A, customer_id=ada.id, lines=LINES, discount_code=reward.code
    )
    assert redeeming.discount_code == reward.code
    settle(live)
    assert one(live.app, Reward).status == "issued"  # its webhooks were lost
    assert reconcile(live)["orders_recovered"] == 1
    used = one(live.app, Reward)
    assert (used.status, used.used_order_shopify_id) == ("used", redeeming.id)

    live.state.dispatcher.topic_faults = {}
    for order in (referred, redeeming):  # Shopify's own late retries of the same orders
        live.state.emit(SHOP_A, "orders/paid", commerce.order_json(order, shop_data(live)))
    settle(live)
    assert len(rows(live.app, Referral)) == 1 and len(rows(live.app, Reward)) == 1
    assert one(live.app, Reward).status == "used" and len(reward_codes(live)) == 1
    assert reconcile(live)["orders_recovered"] == 0
