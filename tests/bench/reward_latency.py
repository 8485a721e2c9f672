"""Order-to-reward latency: from the paid order's webhook reaching the app to the advocate's
reward code existing in the devstore (Shopify), over real HTTP, one forking worker.

    python -m tests.bench.reward_latency [--referrals 200] [--gap 0.25]

The program completes referrals on payment with no approval delay. Each friend checks out
with the advocate's code, one every `gap` seconds, so this measures latency, not a backlog.
Uses DATABASE_URL/REDIS_URL when set, else SQLite and an embedded Redis.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import tempfile
import time

from sqlalchemy import select

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import Customer, Reward, Shop, WebhookDelivery
from shopify_app.referrals import advocates
from shopify_app.referrals.program import update_program
from workers.worker import build_worker

from ..helpers import id_token
from ..support import SHOP_A, bench_backends, start_stack
from . import percentiles

LINES = [{"title": "Green tea", "price": "40.00", "quantity": 1}]


def _worker(app) -> None:
    build_worker(app).work(logging_level="WARNING")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--referrals", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.25)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-reward-")
    database_url, redis_url, redis_server = bench_backends(tmp)
    app, app_server, devstore, devstore_server = start_stack(
        database_url=database_url, redis_url=redis_url, instance_path=tmp
    )
    state = devstore.extensions["devstore_state"]
    state.dispatcher.time_scale = 1.0
    client = app.test_client()
    client.get("/", headers={"Authorization": f"Bearer {id_token(SHOP_A)}"})
    with app.app_context():
        from workers.queues import get_queue, redis_connection

        get_queue().empty()
        for key in redis_connection().scan_iter("referrals:inbox-drain:*"):
            redis_connection().delete(key)
    worker = multiprocessing.get_context("fork").Process(target=_worker, args=(app,), daemon=True)
    worker.start()

    ada = commerce.create_customer(state, SHOP_A, email="ada@example.com", first_name="Ada")
    state.dispatcher.drain(30)
    deadline = time.monotonic() + 30
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        while session.scalar(select(Customer).where(Customer.shopify_id == ada.id)) is None:
            if time.monotonic() > deadline:
                raise SystemExit("the advocate never synced")
            time.sleep(0.1)
            session.commit()
        update_program(
            session,
            shop,
            {"enabled": True, "friend_new_customers_only": False},
            actor="bench",
        )
        customer = session.scalar(select(Customer).where(Customer.shopify_id == ada.id))
        advocate, _ = advocates.join(session, shop, customer, via="staff", actor="bench")
        session.commit()
        code = advocate.code
    while commerce.find_discount(commerce.data(state, SHOP_A), code) is None:
        time.sleep(0.05)

    orders = []
    for n in range(args.referrals):
        friend = commerce.create_customer(state, SHOP_A, email=f"friend{n}@example.com")
        orders.append(
            commerce.place_order(
                state, SHOP_A, customer_id=friend.id, lines=LINES, discount_code=code
            ).id
        )
        time.sleep(args.gap)
    give_up = time.monotonic() + 120
    latencies = []
    with app.app_context():
        session = get_session()
        while time.monotonic() < give_up:
            session.commit()
            rewards = session.scalars(select(Reward)).all()
            if len(rewards) >= args.referrals and all(r.status == "issued" for r in rewards):
                break
            time.sleep(0.2)
        received = {}
        for delivery in session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.topic.in_(("orders/create", "orders/paid"))
            )
        ):
            body = json.loads(delivery.body)
            if body.get("financial_status") == "paid":
                oid = body["id"]
                received[oid] = min(received.get(oid, delivery.received_at), delivery.received_at)
        discounts = commerce.data(state, SHOP_A).discounts.values()
        created = {d.code: d.created_at for d in discounts}
        from shopify_app.models import Referral

        for referral in session.scalars(select(Referral)):
            reward = session.scalar(select(Reward).where(Reward.referral_id == referral.id))
            if reward is None or reward.code not in created:
                continue
            start = received[referral.order_shopify_id]
            latencies.append((created[reward.code] - start).total_seconds())
    worker.terminate()
    worker.join(10)
    app_server.stop()
    devstore_server.stop()
    if redis_server is not None:
        redis_server.shutdown()
    backend = (
        "PostgreSQL + Redis" if database_url.startswith("postgresql") else "SQLite + embedded Redis"
    )
    stats = percentiles(latencies)
    print(
        f"{backend} · {platform.machine()} · {len(latencies)}/{args.referrals} rewards · "
        f"one forking worker"
    )
    print(
        f"order webhook received -> reward code in Shopify: p50 {stats['p50']:.0f} ms, "
        f"p95 {stats['p95']:.0f} ms, p99 {stats['p99']:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
