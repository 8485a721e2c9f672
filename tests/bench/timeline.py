"""The customer timeline at scale: server time of the detail page's timeline, first page and
each filter, for one customer with many events among many customers' events.

    python -m tests.bench.timeline                                  # SQLite
    DATABASE_URL=postgresql://…/test_tl python -m tests.bench.timeline
    python -m tests.bench.timeline --events 10000000 --customers 1000000   # the issue's size
    python -m tests.bench.timeline --keep     # reuse DATABASE_URL's seeded events

Seeds `--customers` customers in one shop and `--events` timeline events among them, of which
`--busy` belong to one customer (a realistic mix of every family and source), then times
(a) authenticated requests for that customer's detail page through the app in process (ID
token, shop lookup, the detail's cards, the hub, the timeline page, its details, the
template: the server's whole time, no network) and (b) the timeline query alone
(`timeline.pages.timeline_page`, two statements, in an app context) and (c) its index
statement alone (`timeline.pages.page_keys`), for the first page, each source, each kind, a
combination and a deep page. Prints Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, insert, select
from werkzeug.datastructures import MultiDict

from shopify_app.db import database, get_session
from shopify_app.models import Customer, Shop, TimelineEvent
from shopify_app.timeline import kinds, pages

from ..helpers import id_token
from ..support import SHOP_A
from . import machine_line, machine_speed, percentiles, start_bench, timed

# (source, kind, weight, payload) of the events seeded: what a busy advocate's timeline holds.
MIX = [
    ("shopify", "order.placed", 8, {"order": "#1001", "order_id": 1, "total_minor": 4990}),
    ("shopify", "order.paid", 7, {"order": "#1001", "order_id": 1, "total_minor": 4990}),
    ("shopify", "order.fulfilled", 5, {"order": "#1001", "order_id": 1, "total_minor": 4990}),
    ("shopify", "customer.updated", 2, {"account_state": "enabled"}),
    ("shopify", "consent.email", 3, {"channel": "email", "from": None, "to": "subscribed"}),
    ("app", "program.shared", 2, {"email_id": 1}),
    ("app", "referral.created", 8, {"referral_id": 1, "status": "pending", "role": "advocate"}),
    ("app", "referral.completed", 7, {"referral_id": 1, "status": "completed"}),
    ("app", "reward.issued", 10, {"reward_id": 1, "code": "REWARD-1"}),
    ("app", "email.invitation.sent", 30, {"email_id": 1, "subject": "You're invited"}),
    ("app", "staff.referral.voided", 8, {"subject": "referral", "reason": "Duplicate"}),
    ("api", "review.submitted", 10, {"properties": {"rating": 5}}),
]
START = datetime(2024, 12, 1, tzinfo=UTC)
SPAN_S = 2 * 365 * 86400
BATCH = 20_000


def event_rows(shop_id: int, customer_ids: list[int], n: int, first: int, rng: random.Random):
    population = [(s, k, p) for s, k, w, p in MIX for _ in range(w)]
    now = datetime.now(UTC)
    for i in range(first, first + n):
        source, kind, payload = rng.choice(population)
        at = START + timedelta(seconds=rng.randrange(SPAN_S))
        yield {
            "shop_id": shop_id,
            "customer_id": customer_ids[i % len(customer_ids)],
            "kind": kind,
            "family": kinds.family_of(source, kind),
            "source": source,
            "source_name": "Judge.me" if source == "api" else None,
            "occurred_at": at,
            "recorded_at": now,
            "actor": None,
            "payload": payload,
            "dedupe_key": f"bench:{i}",
        }


def seed(session, shop: Shop, customers: int, events: int, busy: int) -> tuple[int, float]:
    """Customers (bare rows), then events; returns the busy customer's id and the seconds."""
    start = time.perf_counter()
    have = session.scalar(select(func.count()).where(Customer.shop_id == shop.id))
    rows = [
        {"shop_id": shop.id, "shopify_id": 10_000_000 + n, "email": f"c{n}@example.com", "tags": ""}
        for n in range(have, customers)
    ]
    for i in range(0, len(rows), BATCH):
        session.execute(insert(Customer), rows[i : i + BATCH])
        session.commit()
    ids = list(
        session.scalars(
            select(Customer.id).where(Customer.shop_id == shop.id).order_by(Customer.id)
        )
    )
    busy_id = ids[0]
    rng = random.Random(17)
    others = ids[1:] or ids
    if session.bind.dialect.name == "postgresql":
        copy_events(session, shop.id, busy_id, others, events, busy, rng)
    else:
        sqlite_events(session, shop.id, busy_id, others, events, busy, rng)
    return busy_id, time.perf_counter() - start


COLUMNS = (
    "shop_id", "customer_id", "kind", "family", "source", "source_name",
    "occurred_at", "recorded_at", "actor", "payload", "dedupe_key",
)  # fmt: skip


def copy_events(
    session,
    shop_id: int,
    busy_id: int,
    others: list[int],
    events: int,
    busy: int,
    rng: random.Random,
) -> None:
    """PostgreSQL: the same rows through COPY (about 20x the rate of INSERTs), so the issue's
    10,000,000 events seed in minutes."""
    raw = session.connection().connection.driver_connection
    statement = f"COPY timeline_events ({', '.join(COLUMNS)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        done = 0
        for owners, count in (([busy_id], busy), (others, events - busy)):
            for row in event_rows(shop_id, owners, count, done, rng):
                row["payload"] = json.dumps(row["payload"])
                copy.write_row([row[c] for c in COLUMNS])
            done += count
            print(f"  {done:,} events", flush=True)
    session.commit()


def sqlite_events(
    session,
    shop_id: int,
    busy_id: int,
    others: list[int],
    events: int,
    busy: int,
    rng: random.Random,
) -> None:
    """SQLite: the same rows through the driver's executemany, with the two timeline indexes
    built after the load (as a bulk load does), about 10x the rate of ORM-core INSERTs that
    maintain them row by row; the indexes are the model's own, recreated as they were."""
    connection = session.connection()
    indexes = list(TimelineEvent.__table__.indexes)
    for index in indexes:
        index.drop(connection)
    raw = connection.connection.driver_connection
    order = [c.name for c in TimelineEvent.__table__.columns if c.name in COLUMNS]
    statement = str(
        insert(TimelineEvent.__table__)
        .values({c: bindparam(c) for c in order})
        .compile(dialect=connection.dialect)
    )
    stamp = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DATETIME text
    done = 0
    for owners, count in (([busy_id], busy), (others, events - busy)):
        batch = []
        for row in event_rows(shop_id, owners, count, done, rng):
            row["payload"] = json.dumps(row["payload"])
            for key in ("occurred_at", "recorded_at"):
                row[key] = row[key].astimezone(UTC).strftime(stamp)
            batch.append(tuple(row[c] for c in order))
            if len(batch) == 100_000:
                raw.executemany(statement, batch)
                batch.clear()
        if batch:
            raw.executemany(statement, batch)
        done += count
        print(f"  {done:,} events", flush=True)
    for index in indexes:
        index.create(connection)
    session.commit()


def variants(deep: str) -> list[tuple[str, dict[str, list[str] | str]]]:
    out: list[tuple[str, dict]] = [("first page (everything)", {})]
    out += [(f"source {label}", {"source": key}) for key, label in kinds.SOURCES.items()]
    out += [(f"kind {f.label}", {"kind": f.key}) for f in kinds.FAMILIES]
    out.append(
        (
            "app + referrals, rewards, emails",
            {"source": "app", "kind": ["referral", "reward", "email"]},
        )
    )
    out.append(("Shopify + third parties", {"source": ["shopify", "api"]}))
    out.append(("deep page (after event 10,000)", {"before": deep}))
    out.append(("deep page, kind Emails", {"kind": "email", "before": deep}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--busy", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="reuse DATABASE_URL's seeded events")
    args = parser.parse_args()

    stack = start_bench("bench-timeline-", keep=args.keep)
    app, database_url, backend = stack.app, stack.database_url, stack.backend
    client = app.test_client()

    def get(path: str, **params):
        response = client.get(
            path, query_string=params, headers={"Authorization": f"Bearer {id_token(SHOP_A)}"}
        )
        assert response.status_code == 200, (path, params, response.status_code)
        return response

    get("/")  # installs the shop (token exchange with the devstore)
    seeded_s = None
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        have = session.scalar(select(func.count()).where(TimelineEvent.shop_id == shop.id))
        if args.keep and have >= args.events:
            busy_id = session.scalar(
                select(Customer.id).where(Customer.shop_id == shop.id).order_by(Customer.id)
            )
            print(f"{SHOP_A} already has {have:,} events", flush=True)
        else:
            busy_id, seeded_s = seed(session, shop, args.customers, args.events, args.busy)
            print(f"seeded {args.events:,} events in {seeded_s:.0f} s", flush=True)
        busy_events = session.scalar(
            select(func.count()).where(
                TimelineEvent.shop_id == shop.id, TimelineEvent.customer_id == busy_id
            )
        )
        tenth = session.execute(
            select(TimelineEvent.occurred_at, TimelineEvent.id)
            .where(TimelineEvent.shop_id == shop.id, TimelineEvent.customer_id == busy_id)
            .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc())
            .offset(10_000)
            .limit(1)
        ).one()
        deep = pages.Cursor(tenth.occurred_at, tenth.id).encode()
        shop_id = shop.id
        session.close()
    with app.app_context(), database().engine.connect() as conn:
        analyze = "VACUUM ANALYZE" if backend == "PostgreSQL" else "ANALYZE"
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(analyze)
    gc.collect()
    gc.freeze()

    rows, statements = [], []
    keys_context = app.app_context()
    keys_context.push()
    keys_session = get_session()
    for name, params in variants(deep):

        def page(params=params):
            return get(f"/customers/{busy_id}", **params)

        def query(params=params):
            args_ = MultiDict(
                [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
            )
            with app.app_context():
                session = get_session()
                shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
                found = pages.timeline_page(session, shop, busy_id, pages.parse_query(args_))
                assert found.events or params.get("before")

        def statement(params=params):
            args_ = MultiDict(
                [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
            )
            pages.page_keys(keys_session, shop_id, busy_id, pages.parse_query(args_), 26)

        timed(page, 3)
        timed(query, 3)
        timed(statement, 3)
        statements.append(percentiles(timed(statement, args.requests)))
        rows.append(
            (
                name,
                percentiles(timed(page, args.requests)),
                percentiles(timed(query, args.requests)),
            )
        )

    keys_session.close()
    keys_context.pop()
    stack.stop()
    print(
        f"\n{backend} · {args.events:,} events among {args.customers:,} customers, "
        f"{busy_events:,} on the busy one · {machine_line()}"
    )
    print(f"\nmachine speed: {machine_speed(database_url)}")
    if seeded_s:
        print(
            f"\nseed: {args.events:,} events in {seeded_s:.0f} s ({args.events / seeded_s:,.0f}/s)"
        )
    print(
        "\n| timeline view | page p50 ms | page p95 ms | query p50 ms | query p95 ms "
        "| statement p50 ms | statement p95 ms |\n|---|---|---|---|---|---|---|"
    )
    for (name, p, q), k in zip(rows, statements, strict=True):
        print(
            f"| {name} | {p['p50']:.2f} | {p['p95']:.2f} | {q['p50']:.2f} | {q['p95']:.2f} "
            f"| {k['p50']:.2f} | {k['p95']:.2f} |"
        )


if __name__ == "__main__":
    main()
