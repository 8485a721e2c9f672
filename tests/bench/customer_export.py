"""One customer's export (E5) at the issue's size: a customer with 20,000 timeline events.

    python -m tests.bench.customer_export                       # SQLite, 20,000 events
    DATABASE_URL=postgresql://…/bench REDIS_URL=… python -m tests.bench.customer_export
    python -m tests.bench.customer_export --events 5000 --customers 1000   # quicker

Seeds a shop with `--customers` customers (`referrals seed`'s code) and gives one of them
`--events` timeline events (with payloads like the app's), `--orders` orders of three lines,
referrals as advocate, rewards and emails. Then times the authenticated download through the
app in process (ID-token check, the reads, building the JSON or the zip, the audit entry and
its commit: the server's whole time, no network), and prints Markdown for
docs/performance.md. The target: under 1 s.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from sqlalchemy import select

from shopify_app.customers.seed import seed_shop
from shopify_app.db import get_session
from shopify_app.models import (
    Advocate,
    Customer,
    EmailMessage,
    Order,
    OrderLineItem,
    Referral,
    Reward,
    Shop,
    utcnow,
)
from shopify_app.timeline.events import write_events
from shopify_app.timeline.kinds import family_of

from ..helpers import id_token
from ..support import SHOP_A
from . import machine_line, machine_speed, percentiles, start_bench, timed


def give_history(session, shop: Shop, customer: Customer, events: int, orders: int) -> None:
    now = utcnow()
    advocate = session.scalar(select(Advocate).where(Advocate.customer_id == customer.id))
    if advocate is None:
        advocate = Advocate(
            shop_id=shop.id,
            customer_id=customer.id,
            code=f"BENCH-{customer.id}",
            joined_via="staff",
        )
        session.add(advocate)
        session.flush()
    for n in range(orders):
        order = Order(
            shop_id=shop.id,
            shopify_id=9_000_000_000 + n,
            name=f"#B{n}",
            customer_id=customer.id,
            currency="EUR",
            total_minor=4500,
            subtotal_minor=4500,
            discount_codes=[],
            note_attributes=[],
            processed_at=now - timedelta(days=n),
        )
        session.add(order)
        session.flush()
        session.add_all(
            OrderLineItem(
                shop_id=shop.id,
                order_id=order.id,
                position=p,
                title=f"Product {p}",
                quantity=1,
                price_minor=1500,
            )
            for p in range(3)
        )
        referral = Referral(
            shop_id=shop.id,
            advocate_id=advocate.id,
            order_shopify_id=order.shopify_id,
            attribution="discount_code",
            status="completed",
            terms={},
            program_version=1,
            order_total_minor=4500,
            currency="EUR",
        )
        session.add(referral)
        session.flush()
        session.add(
            Reward(
                shop_id=shop.id,
                referral_id=referral.id,
                advocate_id=advocate.id,
                code=f"BR-{referral.id}",
                kind="fixed_amount",
                value=1000,
                currency="EUR",
                status="issued",
            )
        )
        session.add(
            EmailMessage(
                shop_id=shop.id,
                customer_id=customer.id,
                kind="reward",
                to_address=customer.email or "bench@example.com",
                subject="Your reward",
                body_text="…",
                status="sent",
                dedupe_key=f"bench-email-{referral.id}",
            )
        )
    kinds = ["order.placed", "order.paid", "email.reward.sent", "consent.email", "referral.created"]
    rows = [
        {
            "shop_id": shop.id,
            "customer_id": customer.id,
            "kind": kinds[n % len(kinds)],
            "family": family_of("shopify" if n % 2 else "app", kinds[n % len(kinds)]),
            "occurred_at": now - timedelta(minutes=n),
            "recorded_at": now,
            "source": "shopify" if n % 2 else "app",
            "source_name": None,
            "actor": None,
            "payload": {"order_id": 9_000_000_000 + n, "total": "45.00", "note": f"event {n}"},
            "dedupe_key": f"bench-export:{customer.id}:{n}",
        }
        for n in range(events)
    ]
    for start in range(0, len(rows), 5000):
        write_events(session, rows[start : start + 5000])
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()

    stack = start_bench("bench-export-")
    app, database_url, backend = stack.app, stack.database_url, stack.backend
    client = app.test_client()

    def get(path: str):
        response = client.get(path, headers={"Authorization": f"Bearer {id_token(SHOP_A)}"})
        assert response.status_code == 200, (path, response.status_code)
        return response

    get("/")  # installs the shop (token exchange with the devstore)
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        seed_shop(session, shop, args.customers)
        customer = session.scalar(
            select(Customer).where(Customer.shop_id == shop.id).order_by(Customer.id).limit(1)
        )
        give_history(session, shop, customer, args.events, args.orders)
        customer_id = customer.id
        session.close()

    sizes = {}
    rows = []
    for fmt in ("json", "zip"):
        path = f"/customers/{customer_id}/export.{fmt}"
        sizes[fmt] = len(get(path).data)
        timed(lambda path=path: get(path), 2)
        rows.append((fmt, percentiles(timed(lambda path=path: get(path), args.requests))))

    stack.stop()
    print(
        f"\n{backend} · one customer with {args.events:,} timeline events, {args.orders} orders "
        f"(3 lines each), {args.orders} referrals, rewards and emails, in a shop of "
        f"{args.customers:,} customers · {machine_line()}"
    )
    print(f"\nmachine speed: {machine_speed(database_url)}")
    print("\n| export (server time, in process) | size | n | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for fmt, p in rows:
        print(
            f"| {fmt} | {sizes[fmt] / 1e6:.1f} MB | {p['n']} | {p['p50']:.0f} | "
            f"{p['p95']:.0f} | {p['p99']:.0f} |"
        )


if __name__ == "__main__":
    main()
