"""The customer detail's hub header and timeline over live HTTP (signed ID tokens), the
Shopify events arriving as signed webhooks, and `referrals timeline add-event`."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from click.testing import CliRunner
from sqlalchemy import select

from shopify_app.cli import main
from shopify_app.db import get_session
from shopify_app.models import Customer, Shop
from tests import payloads
from tests.conftest import SHOP_A, SHOP_B

from .test_program_pages import get
from .webhook_support import cli_env, deliver, install, run_jobs

EVENT = re.compile(r'<li class="event (\w+)" id="event-(\d+)" data-kind="([\w.]+)">')


def customer_id(app, shop: str, shopify_id: int) -> int:
    with app.app_context():
        session = get_session()
        return session.scalar(
            select(Customer.id)
            .join(Shop, Shop.id == Customer.shop_id)
            .where(Shop.domain == shop, Customer.shopify_id == shopify_id)
        )


def kinds_on(page) -> list[str]:
    return [kind for _, _, kind in EVENT.findall(page.text)]


def older_link(page) -> dict[str, list[str]] | None:
    found = re.search(r'id="timeline-older" rel="next" href="([^"]+)"', page.text)
    if not found:
        return None
    query = parse_qs(urlsplit(html.unescape(found.group(1))).query)
    return {k: v for k, v in query.items() if k not in ("shop", "embedded", "host")}


def add_event(app, *args: str):
    return CliRunner().invoke(main, ["timeline", "add-event", *args], env=cli_env(app))


def test_the_hub_and_the_timeline_of_a_customer(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/create", payloads.customer(1001))
    paid = payloads.order(5001, updated=5, financial_status="paid", note_attributes=[])
    deliver(live, SHOP_A, "orders/create", paid)
    fulfilled = {**paid, "updated_at": payloads.ts(20), "fulfillment_status": "fulfilled"}
    deliver(live, SHOP_A, "orders/fulfilled", fulfilled)
    run_jobs(live.app)
    cid = customer_id(live.app, SHOP_A, 1001)
    added = add_event(
        live.app,
        *("--shop", SHOP_A, "--customer", str(cid), "--type", "review.submitted"),
        *("--source-name", "Judge.me", "--properties", '{"rating": 5, "title": "Lovely tea"}'),
        *("--occurred-at", "2026-01-05T12:00:00Z"),
    )
    assert added.exit_code == 0, added.output

    page = get(live, f"/customers/{cid}")
    assert page.status_code == 200
    hub = page.text.split('id="hub"')[1].split("</dl>")[0]
    assert "1 order<" in hub and "89.90 EUR" in hub
    assert "Subscribed since" in page.text.split('id="email-consent"')[1][:60]
    assert 'href="shopify://admin/orders/5001" target="_top">View in Shopify' in page.text
    kinds = kinds_on(page)
    assert kinds[:1] == ["order.fulfilled"]
    assert {"order.placed", "order.paid", "customer.created", "consent.email"} <= set(kinds)
    assert kinds[-1] == "review.submitted"  # January: the oldest
    assert "Review submitted (from Judge.me)" in page.text and "Lovely tea" in page.text
    assert "Green tea 100 g" in page.text  # the order's lines, under its event
    # Europe/Helsinki (the devstore shop's zone), stored on the first view: 12:00Z is 14:00
    assert "5 Jan 2026, 14:00" in page.text and "Times in Europe/Helsinki" in page.text
    with live.app.app_context():
        session = get_session()
        zone = session.scalar(select(Shop.iana_timezone).where(Shop.domain == SHOP_A))
    assert zone == "Europe/Helsinki"

    shopify_only = get(live, f"/customers/{cid}", source="shopify")
    assert set(kinds_on(shopify_only)) <= {
        "order.fulfilled",
        "order.placed",
        "order.paid",
        "customer.created",
        "consent.email",
    }
    assert 'value="shopify" checked' in shopify_only.text
    third = get(live, f"/customers/{cid}", kind=["api", "order"])
    assert kinds_on(third)[-1] == "review.submitted" and "customer.created" not in kinds_on(third)
    nothing = get(live, f"/customers/{cid}", kind="reward")
    assert (
        'id="timeline-empty"' in nothing.text and "No events match these filters." in nothing.text
    )


def test_older_pages_keep_the_filter(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/create", payloads.customer(1001))
    run_jobs(live.app)
    cid = customer_id(live.app, SHOP_A, 1001)
    for n in range(30):
        done = add_event(
            live.app,
            *("--shop", SHOP_A, "--customer", str(cid), "--type", "loyalty.points_earned"),
            *("--source-name", "Smile", "--occurred-at", f"2026-02-01T10:{n:02d}:00Z"),
        )
        assert done.exit_code == 0, done.output
    first = get(live, f"/customers/{cid}", source="api")
    assert len(kinds_on(first)) == 25
    params = older_link(first)
    assert params is not None and params["source"] == ["api"]
    second = get(live, f"/customers/{cid}", source="api", before=params["before"][0])
    assert len(kinds_on(second)) == 5 and older_link(second) is None
    ids = [i for _, i, _ in EVENT.findall(first.text) + EVENT.findall(second.text)]
    assert len(set(ids)) == 30


def test_another_shops_customer_is_not_found_and_an_erased_one_offers_nothing(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    deliver(live, SHOP_B, "customers/create", payloads.customer(2002))
    deliver(live, SHOP_A, "customers/create", payloads.customer(1001))
    run_jobs(live.app)
    theirs = customer_id(live.app, SHOP_B, 2002)
    assert get(live, f"/customers/{theirs}").status_code == 404
    assert get(live, f"/customers/{theirs}", shop=SHOP_B).status_code == 200
    ours = customer_id(live.app, SHOP_A, 1001)
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A, 1001, ()))
    run_jobs(live.app)
    page = get(live, f"/customers/{ours}")
    assert page.status_code == 200 and "Personal data erased" in page.text
    assert "View in Shopify" not in page.text and "Join the program" not in page.text
    assert "support portal" not in page.text and '<form method="post"' not in page.text
    assert "privacy.redacted" in kinds_on(page)


def test_the_command_refuses_bad_input_with_the_reason(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/create", payloads.customer(1001))
    run_jobs(live.app)
    base = ("--shop", SHOP_A, "--customer", "ada.lovelace+1001@example.com")
    bad_json = add_event(
        live.app, *base, "--type", "a.b", "--source-name", "X", "--properties", "{"
    )
    assert bad_json.exit_code == 1 and "--properties is not JSON" in bad_json.output
    nested = add_event(
        live.app, *base, "--type", "a.b", "--source-name", "X", "--properties", '{"a": [1]}'
    )
    assert nested.exit_code == 1 and "no lists or objects" in nested.output
    unknown = add_event(
        live.app, "--shop", SHOP_A, "--customer", "999999", "--type", "a.b", "--source-name", "X"
    )
    assert unknown.exit_code == 1 and "no customer 999999" in unknown.output
    ok = add_event(live.app, *base, "--type", "a.b", "--source-name", "X")
    assert ok.exit_code == 0 and "a.b from X" in ok.output
