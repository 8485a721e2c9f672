"""The public API over real HTTP on localhost: GET one customer (p50/p95/p99) and the batch
upsert in customers per second (target 1,000/s on PostgreSQL).

    python -m tests.bench.api                          # SQLite + embedded Redis
    DATABASE_URL=postgresql://… REDIS_URL=… python -m tests.bench.api
    python -m tests.bench.api --gets 2000 --batches 100

Every request is the whole server path: key lookup and HMAC, rate limits in Redis, request
and response validated against the OpenAPI document, the queries, JSON. The batches make new
customers (each one a lookup by address, an insert-or-ignore, its audit entry and timeline
event), then the same batches again update them. Prints Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import time

import httpx
from limits import parse_many
from sqlalchemy import select

from shopify_app.api import keys
from shopify_app.db import get_session
from shopify_app.models import Shop

from ..helpers import id_token
from ..support import SHOP_A
from . import machine_line, percentiles, start_bench, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()

    stack = start_bench("bench-api-")
    app = stack.app
    base = stack._servers[0].url
    limiter = app.extensions["rate_limits"]
    limiter.limits["api-key"] = parse_many("10000000 per minute")
    limiter.limits["api-shop"] = parse_many("10000000 per minute")
    rows: list[str] = []
    with httpx.Client(timeout=60) as http:
        http.get(f"{base}/", headers={"Authorization": f"Bearer {id_token(SHOP_A)}"})  # install
        with app.app_context():
            session = get_session()
            shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
            secret = keys.create_key(
                session, shop, name="bench", access="write", actor="staff:1"
            ).secret
            session.commit()
        auth = {"Authorization": f"Bearer {secret}"}

        def batch(n: int) -> dict:
            return {
                "customers": [
                    {
                        "email": f"bench-{n}-{i}@example.com",
                        "first_name": "Bench",
                        "custom_attributes": {"batch": n, "vip": i % 2 == 0},
                    }
                    for i in range(100)
                ]
            }

        def run_batches(label: str) -> None:
            start = time.perf_counter()
            for n in range(args.batches):
                answer = http.post(f"{base}/api/v1/customers/batch", json=batch(n), headers=auth)
                answer.raise_for_status()
                assert all(r["status"] != "failed" for r in answer.json()["data"])
            seconds = time.perf_counter() - start
            count = args.batches * 100
            rows.append(
                f"| batch upsert, {label} ({args.batches} × 100) | {count} | "
                f"{count / seconds:,.0f} customers/s | {seconds / args.batches * 1000:.0f} ms "
                "a batch |"
            )

        run_batches("new customers")
        run_batches("the same customers again (updates)")

        first = http.get(f"{base}/api/v1/customers", params={"limit": 1}, headers=auth).json()
        customer_id = first["data"][0]["id"]

        def get_one() -> None:
            http.get(f"{base}/api/v1/customers/{customer_id}", headers=auth).raise_for_status()

        timed(get_one, 100)  # warm
        p = percentiles(timed(get_one, args.gets))
        rows.append(
            f"| GET one customer | {p['n']} | p50 {p['p50']:.2f} ms · p95 {p['p95']:.2f} ms | "
            f"p99 {p['p99']:.2f} ms |"
        )
    stack.stop()
    print(f"\n{stack.backend} · {machine_line()}\n")
    print("| measurement | n | result | |\n|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
