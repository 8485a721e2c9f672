"""What the storefront-signup merge costs a customer upsert (every Shopify report of a
customer now asks whether a signup record has its email or phone).

    python -m tests.bench.signup_probe [--customers 2000] [--signups 2000]

Seeds `signups` storefront signup records, then upserts `customers` new Shopify customers
(fresh addresses, so no merge happens: the common case) and times, in one process and one
transaction per customer, the whole upsert and the probe (`signup_merge.signup_records`)
alone. Uses DATABASE_URL when set, else SQLite.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time

from sqlalchemy import select, text

from shopify_app import create_app
from shopify_app.customers import signups
from shopify_app.db import get_session
from shopify_app.models import Shop
from shopify_app.sync import customers, signup_merge

from .. import payloads
from ..support import bench_backends


def _timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - started) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--signups", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url, redis_url, embedded = bench_backends(tmp)
        app = create_app(
            {
                "APP_ENV": "test",
                "TESTING": True,
                "INSTANCE_PATH": tmp,
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
            }
        )
        with app.app_context():
            session = get_session()
            shop = Shop(domain="bench-shop.myshopify.com", scopes="")
            session.add(shop)
            session.commit()
            for n in range(args.signups):
                contact = signups.Contact("sms", f"+1613555{n:04d}")
                signups.sign_up(session, shop, contact, confirm_url="https://x/confirm")
            session.commit()
            if database_url.startswith("postgres"):  # as autovacuum would after the seed
                session.execute(text("ANALYZE customers"))
                session.commit()
            upserts, probes = [], []
            for n in range(args.customers):
                payload = payloads.customer(
                    10_000_000 + n, email=f"bench-{n}@example.com", phone=f"+1415555{n:04d}"
                )
                email, phone = signup_merge.addresses_of(payload)
                session.execute(select(1))  # in a transaction, as inside an upsert
                probes.append(_timed(signup_merge.signup_records, session, shop, email, phone))
                session.rollback()
                upserts.append(_timed(customers.upsert_customer, session, shop, payload))
                session.commit()
        if embedded is not None:
            embedded.shutdown()
    backend = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    print(f"{backend} · {platform.machine()} · {args.signups} signup records")
    for name, values in (("upsert (new customer)", upserts), ("probe alone", probes)):
        values.sort()
        p95 = values[int(len(values) * 0.95)]
        print(f"{name:22} median {statistics.median(values):7.0f} µs  p95 {p95:7.0f} µs")
    share = statistics.median(probes) / statistics.median(upserts)
    print(f"probe / upsert (medians): {share:.1%}")


if __name__ == "__main__":
    main()
