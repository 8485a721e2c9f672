"""The devstore as Shopify: real signed webhooks over HTTP, faults, import and reconciliation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import Customer, Order, OrderLineItem, Shop, SyncRun, WebhookDelivery
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.errors import UserErrors
from shopify_app.shopify.services import shopify
from shopify_app.sync.importer import latest_run
from tests.conftest import SHOP_A
from tests.helpers import id_token
from tests.support import wait_until
from workers import sync_jobs

from .webhook_support import install, one, rows, run_jobs, shop_id

LINES = [{"title": "Green tea", "price": "24.95", "quantity": 2, "sku": "TEA-1", "product_id": 71}]


def settle(live, rounds: int = 3) -> None:
    """Let the devstore deliver everything and the worker process it (jobs may enqueue more)."""
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


def shop_row(live):
    from shopify_app.models import Shop

    return one(live.app, Shop, Shop.domain == SHOP_A)


def test_an_order_placed_in_the_devstore_reaches_the_app_signed_and_synced(live):
    install(live, SHOP_A)
    ada = commerce.create_customer(
        live.state, SHOP_A, email="ada@example.com", first_name="Ada", state="enabled"
    )
    order = commerce.place_order(
        live.state,
        SHOP_A,
        customer_id=ada.id,
        lines=LINES,
        landing_site="/?ref=ADA-1",
        note_attributes=[{"name": "referral_code", "value": "ADA-1"}],
        browser_ip="198.51.100.4",
        user_agent="Mozilla/5.0",
    )
    settle(live)
    synced = one(live.app, Order, Order.shopify_id == order.id)
    assert (synced.total_minor, synced.landing_site, synced.client_ip) == (
        4990,
        "/?ref=ADA-1",
        "198.51.100.4",
    )
    assert synced.note_attributes == [{"name": "referral_code", "value": "ADA-1"}]
    assert one(live.app, Customer, Customer.shopify_id == ada.id).first_name == "Ada"
    topics = sorted(d.topic for d in rows(live.app, WebhookDelivery))
    assert topics == ["customers/create", "orders/create", "orders/paid"]
    assert all(d.status == "done" for d in rows(live.app, WebhookDelivery))


def test_duplicated_and_reordered_deliveries_converge(live):
    install(live, SHOP_A)
    live.state.dispatcher.fault_rates = {"duplicate": 0.3, "reorder": 0.2}
    customers = [
        commerce.create_customer(live.state, SHOP_A, email=f"c{n}@example.com") for n in range(5)
    ]
    orders = [
        commerce.place_order(live.state, SHOP_A, customer_id=customers[n % 5].id, lines=LINES)
        for n in range(15)
    ]
    for o in orders[:5]:
        commerce.refund_order(live.state, SHOP_A, o.id, Decimal("10.00"))
    for o in orders[5:8]:
        commerce.cancel_order(live.state, SHOP_A, o.id)
    settle(live)
    log = live.state.dispatcher.log
    assert len({e["webhook_id"] for e in log}) < len(log)  # duplicates really were sent
    assert len(rows(live.app, Order)) == 15 and len(rows(live.app, Customer)) == 5
    by_id = {o.shopify_id: o for o in rows(live.app, Order)}
    assert all(by_id[o.id].refunded_minor == 1000 for o in orders[:5])
    assert all(by_id[o.id].cancelled_at is not None for o in orders[5:8])
    assert all(by_id[o.id].cancelled_at is None for o in orders[8:])
    assert {d.status for d in rows(live.app, WebhookDelivery)} == {"done"}


def test_a_failing_app_endpoint_is_retried_by_the_devstore(live):
    install(live, SHOP_A)
    original = live.app.view_functions["webhooks.receive"]
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] <= 2:
            return "down for maintenance", 503
        return original()

    live.app.view_functions["webhooks.receive"] = flaky
    try:
        customer = commerce.create_customer(live.state, SHOP_A, email="retry@example.com")
        settle(live)
    finally:
        live.app.view_functions["webhooks.receive"] = original
    outcomes = [e["outcome"] for e in live.state.dispatcher.log]
    assert outcomes == ["failed", "failed", "delivered"]
    assert one(live.app, Customer, Customer.shopify_id == customer.id).email == "retry@example.com"


def test_reconciliation_recovers_what_dropped_webhooks_missed_and_reports_it(live):
    install(live, SHOP_A)
    kept = commerce.create_customer(live.state, SHOP_A, email="kept@example.com")
    settle(live)
    live.state.dispatcher.next_faults = ["drop"] * 3
    lost_customer = commerce.create_customer(live.state, SHOP_A, email="lost@example.com")
    lost_order = commerce.place_order(
        live.state, SHOP_A, customer_id=kept.id, lines=LINES, financial_status="pending"
    )
    settle(live)
    assert rows(live.app, Order) == []
    with live.app.app_context():
        report = sync_jobs.reconcile_shop(shop_id(live.app, SHOP_A))
    assert report == {"customers_recovered": 1, "orders_recovered": 1}
    assert one(live.app, Order, Order.shopify_id == lost_order.id).total_minor == 4990
    assert (
        one(live.app, Customer, Customer.shopify_id == lost_customer.id).email == "lost@example.com"
    )
    page = live.http.get(
        f"{live.app_url}/",
        params={
            "shop": SHOP_A,
            "embedded": "1",
            "id_token": id_token(SHOP_A),
        },
    )
    text = " ".join(page.text.split())
    assert "Recovered 1 order and 1 customer that Shopify's notifications missed" in text
    with live.app.app_context():
        again = sync_jobs.reconcile_shop(shop_id(live.app, SHOP_A))
    assert again == {"customers_recovered": 0, "orders_recovered": 0}


def wait_for_import(live, *, poll: bool, timeout: float = 20.0) -> SyncRun:
    """Run jobs until the import ends; `poll` stands in for the scheduler's `poll_imports`."""

    def finished() -> SyncRun | None:
        settle(live, rounds=1)
        if poll:
            with live.app.app_context():
                sync_jobs.poll_imports()
        with live.app.app_context():
            session = get_session()
            shop = session.get(Shop, shop_id(live.app, SHOP_A))
            run = latest_run(session, shop, "import")
            return run if run is not None and run.status != "running" else None

    return wait_until(finished, timeout, "the import to finish", interval=0.1)


@pytest.mark.parametrize("lose_finish_webhook", [False, True])
def test_install_imports_existing_customers_and_orders_through_bulk_operations(
    live, lose_finish_webhook
):
    live.state.shops[SHOP_A].installed_scopes = None  # history from before the app existed
    existing = [
        commerce.create_customer(
            live.state,
            SHOP_A,
            email=f"old{n}@example.com",
            state="enabled" if n % 2 else "disabled",
        )
        for n in range(7)
    ]
    for n in range(4):
        commerce.place_order(live.state, SHOP_A, customer_id=existing[n].id, lines=LINES * 2)
    live.state.install(SHOP_A, live.devstore.extensions["devstore_app"].scopes)
    if lose_finish_webhook:
        live.state.dispatcher.fault_rates = {"drop": 1.0}
    live.app.config["INITIAL_IMPORT"] = True
    live.app.extensions["shopify"].initial_import = True
    try:
        install(live, SHOP_A)
        run = wait_for_import(live, poll=lose_finish_webhook)
    finally:
        live.app.config["INITIAL_IMPORT"] = False
        live.app.extensions["shopify"].initial_import = False
    assert run.status == "completed", run.error
    finished = [e for e in live.state.dispatcher.log if e["topic"] == "bulk_operations/finish"]
    assert {e["outcome"] for e in finished} == (
        {"dropped"} if lose_finish_webhook else {"delivered"}
    )
    assert (run.customers_synced, run.orders_synced) == (7, 4)
    assert len(rows(live.app, Customer)) == 7
    members = [c for c in rows(live.app, Customer) if c.shopify_status == "Member"]
    assert len(members) == 3
    assert len(rows(live.app, Order)) == 4
    assert len(rows(live.app, OrderLineItem)) == 8  # two lines each, from `__parentId` rows
    page = live.http.get(
        f"{live.app_url}/",
        params={
            "shop": SHOP_A,
            "embedded": "1",
            "id_token": id_token(SHOP_A),
        },
    )
    assert "Imported 7 customers and 4 orders" in " ".join(page.text.split())


def test_discount_code_taken_is_a_typed_user_error(live):
    install(live, SHOP_A)
    mutation = """
    mutation Create($input: DiscountCodeBasicInput!) {
      discountCodeBasicCreate(basicCodeDiscount: $input) {
        codeDiscountNode { id } userErrors { field message code } } }"""
    spec = {
        "title": "Friend 10%",
        "code": "ADA-FRIEND",
        "startsAt": "2026-11-01T00:00:00Z",
        "context": {"all": "ALL"},
        "appliesOncePerCustomer": True,
        "customerGets": {"value": {"percentage": 0.1}, "items": {"all": True}},
    }
    with live.app.app_context():
        session = get_session()
        from shopify_app.models import Shop

        api = admin_api(session, session.get(Shop, shop_id(live.app, SHOP_A)), shopify())
        created = api.mutate(mutation, {"input": spec}, "discountCodeBasicCreate")
        assert created["codeDiscountNode"]["id"].startswith("gid://shopify/DiscountCodeNode/")
        with pytest.raises(UserErrors) as exc:
            api.mutate(
                mutation, {"input": {**spec, "code": "ada-friend"}}, "discountCodeBasicCreate"
            )
    assert exc.value.codes == ["TAKEN"]
    settle(live)
    assert [d.topic for d in rows(live.app, WebhookDelivery)] == ["discounts/create"]
