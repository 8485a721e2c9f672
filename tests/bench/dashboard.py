"""The Home dashboard at scale: its queries' time for each period on a large seed.

    python -m tests.bench.dashboard                      # SQLite, 1M customers + 100k
    DATABASE_URL=postgresql://…/<your db> REDIS_URL=… python -m tests.bench.dashboard
    python -m tests.bench.dashboard --customers 200000 --other 20000   # quicker
    DATABASE_URL=… python -m tests.bench.dashboard --keep   # reuse the shops seeded there

Seeds one shop with `--customers` customers (`referrals seed`'s code: about 3 % advocates,
their referrals, orders and rewards over three years) plus `--clicks` link clicks and
`--shares` share emails spread over the same three years, and a second shop with
`--other` customers and a tenth of the clicks and shares. Then times, in process,
`dashboard.compute` (the five aggregate queries) for each period, and the whole Home
request (ID-token check, shop lookup, the profile read from the devstore over HTTP, queries,
template). On PostgreSQL it prints each query's plan, to show the 0022 indexes in use.
Prints Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from shopify_app.admin import dashboard
from shopify_app.customers.seed import seed_shop
from shopify_app.db import database, get_session
from shopify_app.models import (
    Advocate,
    Customer,
    EmailMessage,
    Referral,
    ReferralClick,
    Shop,
    utcnow,
)

from ..helpers import id_token
from ..support import SHOP_A, SHOP_B
from . import machine_line, machine_speed, percentiles, start_bench, timed

CHUNK = 10_000
SPAN = timedelta(days=3 * 365)


def seed_activity(
    session, shop: Shop, clicks: int, shares: int, *, first_share: int = 0, seed: int = 7
) -> None:
    """Clicks and share emails by the shop's advocates, uniformly over three years."""
    rng = random.Random(seed + shop.id + first_share)  # noqa: S311 - demo data
    advocates = list(session.scalars(select(Advocate.id).where(Advocate.shop_id == shop.id)))
    now = utcnow()
    seconds = int(SPAN.total_seconds())
    for done in range(0, clicks, CHUNK):
        rows = [
            {
                "shop_id": shop.id,
                "advocate_id": rng.choice(advocates),
                "clicked_at": now - timedelta(seconds=rng.randrange(seconds)),
            }
            for _ in range(min(CHUNK, clicks - done))
        ]
        session.execute(insert(ReferralClick.__table__), rows)
        session.commit()
    for done in range(0, shares, CHUNK):
        rows = []
        for i in range(min(CHUNK, shares - done)):
            at = now - timedelta(seconds=rng.randrange(seconds))
            rows.append(
                {
                    "shop_id": shop.id,
                    "advocate_id": rng.choice(advocates),
                    "kind": "share",
                    "to_address": f"friend{first_share + done + i}@example.com",
                    "subject": "A gift from a friend",
                    "body_text": "…",
                    "status": "sent",
                    "attempts": 1,
                    "dedupe_key": f"bench-share:{first_share + done + i}",
                    "created_at": at,
                    "updated_at": at,
                }
            )
        session.execute(insert(EmailMessage.__table__), rows)
        session.commit()


def explain(session, shop: Shop, period: dashboard.Period) -> list[str]:
    """PostgreSQL's plan for each of the dashboard's statements (the lines naming a scan)."""
    statements: list[str] = []
    engine = session.get_bind()

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", capture)
    try:
        dashboard.compute(session, shop, period, "USD")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    out = []
    conn = session.connection().connection.driver_connection
    for statement, parameters in statements:
        with conn.cursor() as cur:
            cur.execute("EXPLAIN " + statement, parameters)
            plan = [row[0] for row in cur.fetchall()]
        scans = sorted(
            {line.strip().split("  (cost")[0].split(" on ")[0] for line in plan if "Scan" in line}
        )
        out.append(f"{len(plan)} plan lines; " + "; ".join(scans))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--other", type=int, default=100_000)
    parser.add_argument("--clicks", type=int, default=2_000_000)
    parser.add_argument("--shares", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="reuse DATABASE_URL's seeded shops")
    args = parser.parse_args()

    stack = start_bench("bench-dashboard-", keep=args.keep)
    app, database_url, backend = stack.app, stack.database_url, stack.backend
    client = app.test_client()

    def get(path: str, shop: str = SHOP_A, **params: str):
        response = client.get(
            path, query_string=params, headers={"Authorization": f"Bearer {id_token(shop)}"}
        )
        assert response.status_code == 200, (path, params, response.status_code)
        return response

    get("/")  # installs both shops (token exchange with the devstore)
    get("/", SHOP_B)
    seeded: dict[str, float] = {}
    with app.app_context():
        session = get_session()
        for domain, count, clicks, shares in (
            (SHOP_A, args.customers, args.clicks, args.shares),
            (SHOP_B, args.other, args.clicks // 10, args.shares // 10),
        ):
            shop = session.scalar(select(Shop).where(Shop.domain == domain))
            start = time.perf_counter()
            have = session.scalar(select(func.count()).where(Customer.shop_id == shop.id))
            if have < count:  # with --keep, an interrupted seed carries on where it stopped
                seed_shop(session, shop, count - have, seed=have + 1)
            have_clicks = session.scalar(
                select(func.count()).where(ReferralClick.shop_id == shop.id)
            )
            have_shares = session.scalar(
                select(func.count()).where(
                    EmailMessage.shop_id == shop.id, EmailMessage.kind == "share"
                )
            )
            seed_activity(
                session,
                shop,
                max(clicks - have_clicks, 0),
                max(shares - have_shares, 0),
                first_share=have_shares,
            )
            seeded[domain] = time.perf_counter() - start
            print(f"{domain}: seeded in {seeded[domain]:.0f} s", flush=True)
        shop_a = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        sizes = {
            model.__tablename__: session.scalar(
                select(func.count()).select_from(model).where(model.shop_id == shop_a.id)
            )
            for model in (Customer, Referral, ReferralClick, EmailMessage)
        }
        session.close()
    if backend == "PostgreSQL":
        with app.app_context(), database().engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    gc.collect()
    gc.freeze()

    zone = ZoneInfo("UTC")
    periods = [
        ("last 7 days", {"period": "7d"}),
        ("last 30 days", {"period": "30d"}),
        ("last 90 days", {"period": "90d"}),
    ]
    today = utcnow().date()
    periods.append(
        (
            "custom, the last 92 days (the longest allowed)",
            {
                "period": "custom",
                "from": (today - timedelta(days=91)).isoformat(),
                "to": today.isoformat(),
            },
        )
    )
    rows = []
    plans: list[tuple[str, list[str]]] = []
    totals = {}
    with app.app_context():
        session = get_session()
        shop_a = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        for name, params in periods:
            period = dashboard.parse_period(params, zone)

            def run(period=period):
                return dashboard.compute(session, shop_a, period, "USD")

            totals[name] = run().totals()
            timed(run, 3)
            rows.append((f"queries: {name}", percentiles(timed(run, args.requests))))
            if backend == "PostgreSQL" and name == "last 30 days":
                plans.append((name, explain(session, shop_a, period)))
        session.close()
    for name, params in periods:
        fn = lambda params=params: get("/", **params)  # noqa: E731
        timed(fn, 3)
        rows.append((f"Home request: {name}", percentiles(timed(fn, args.requests))))
    stack.stop()

    print(f"\n{backend} · {args.customers:,} + {args.other:,} customers · {machine_line()}")
    print(f"\nmachine speed: {machine_speed(database_url)}")
    print(
        "\nbig shop: "
        + ", ".join(f"{n:,} {table}" for table, n in sizes.items())
        + " (email_messages: the shares)"
    )
    if seeded.get(SHOP_A, 0) > 60:
        print(f"seed of the big shop (this run's part): {seeded[SHOP_A]:.0f} s")
    print("\n| what (in process) | n | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|")
    for name, p in rows:
        print(f"| {name} | {p['n']} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} |")
    print("\n| period | referrals | completed | clicks | shares |\n|---|---|---|---|---|")
    for name, t in totals.items():
        print(
            f"| {name} | {t['referrals']:,} | {t['completed']:,} | {t['clicks']:,} | "
            f"{t['shares']:,} |"
        )
    for name, scans in plans:
        print(f"\nplans ({name}):")
        for line in scans:
            print(f"- {line}")


if __name__ == "__main__":
    main()
