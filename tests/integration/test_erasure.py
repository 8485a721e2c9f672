"""Erasure you can prove (issue 15, item 4; product H10): after `customers/redact`, nothing
that identifies the customer is left anywhere the app keeps data; after `shop/redact`,
nothing of the shop but the bare shop row and the redaction's own delivery.

The data gets there as it does in production: webhooks from the devstore, the storefront
page behind the app proxy, an SMTP relay that refuses an address, staff exporting from the
Customers page, a delivery that fails and one that is malformed, deliveries that arrive
after the erasure. Then `tests.erasure_scan` reads every text column of every table, every
file under the instance path and every Redis key and value.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from devstore import commerce
from devstore.store import shopify_shop_id
from shopify_app.db import database, get_session
from shopify_app.models import (
    Advocate,
    Base,
    BulkJob,
    Conversation,
    Customer,
    EmailMessage,
    Order,
    Referral,
    Reward,
    Shop,
    StaffMember,
    WebhookDelivery,
)
from tests import payloads
from tests.conftest import SHOP_A, SHOP_B
from tests.erasure_scan import scan, scan_files
from tests.helpers import id_token, proxy_query

from .api_support import Api, make_key
from .test_program_pages import get, post
from .webhook_support import deliver, install, install_with_program, one, rows, run_jobs

ZENOBIA = {
    "email": "Zenobia.Quillfeather@Example.org",
    "phone": "+358407654321",
    "first_name": "Zenobia",
    "last_name": "Quillfeather",
}
# Her email, phone (E.164 and its digits) and names; matching ignores case, so the first
# name also finds the upper-case prefix of her referral code (ZENOBIA-…).
ZENOBIA_NEEDLES = ["zenobia.quillfeather@example.org", "+358407654321", "358407654321"] + [
    "zenobia",
    "quillfeather",
]


def app_files(live) -> list[Path]:
    """Where the app keeps files: its instance path, and the SQLite database's directory
    (inside the instance path under `make dev`; its own temporary directory in the tests):
    the database file and its write-ahead log are read byte for byte too."""
    directories = [Path(live.app.instance_path)]
    url = live.app.config["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        directories.append(Path(url.split("///", 1)[1]).parent)
    return directories


def settle(live, rounds=3):
    """Let the devstore deliver what it has sent, and the worker apply it, until quiet."""
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


def storefront(live, action, customer_id, data=None):
    """A logged-in shopper on the storefront page (app proxy, signed as Shopify signs)."""
    url = f"{live.app_url}/proxy"
    page = live.http.get(url, params=proxy_query(SHOP_A, customer_id))
    if action is None:
        return page
    token = re.search(r'name="token" value="([0-9a-f]+)"', page.text).group(1)
    return live.http.post(
        f"{url}/{action}",
        params=proxy_query(SHOP_A, customer_id),
        data={**(data or {}), "token": token},
    )


def chat(live, shop, customer_id, text, *, email=None, note=None, saved_reply=None):
    """A shopper chats from the storefront widget (logged in when `customer_id`), and staff
    write a private note in the thread and keep a saved reply."""
    url = f"{live.app_url}/proxy/chat"
    body = {"email": email} if email else {}
    started = live.http.post(f"{url}/start", params=proxy_query(shop, customer_id), json=body)
    assert started.status_code == 201, started.text
    token = started.json()["chat_token"]
    sent = live.http.post(
        f"{url}/messages",
        params=proxy_query(shop, customer_id),
        json={"token": token, "body": text, "client_id": "c1"},
    )
    assert sent.status_code == 201, sent.text
    with live.app.app_context():
        from shopify_app.conversations import service

        session = get_session()
        shop_row = session.scalar(select(Shop).where(Shop.domain == shop))
        conversation = service.get_conversation(
            session, shop_row, started.json()["conversation_id"]
        )
        if note:
            service.post_message(
                session, shop_row, conversation, author="note", body=note, channel="admin"
            )
        if saved_reply:
            service.save_reply(session, shop_row, title="Greeting", body=saved_reply)
        session.commit()


def rows_per_table(app, shop_id) -> dict[str, int]:
    """How many rows each table with a `shop_id` holds for the shop."""
    counts = {}
    with app.app_context(), database().engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if "shop_id" in table.c:
                n = conn.execute(
                    select(func.count()).select_from(table).where(table.c.shop_id == shop_id)
                ).scalar()
                if n:
                    counts[table.name] = n
    return counts


def with_unique_index(live, sql):
    with live.app.app_context(), database().engine.begin() as conn:
        conn.execute(text(sql))


def test_customers_redact_leaves_nothing_that_identifies_the_customer(live):
    install_with_program(live, SHOP_A)
    mailbox = live.devstore.extensions["devstore_mailbox"]
    ada = commerce.create_customer(
        live.state,
        SHOP_A,
        email="ada@example.com",
        phone="+358401111111",
        first_name="Ada",
        last_name="Lovelace",
        state="enabled",
    )
    settle(live)

    # Ada joins and shares the offer with Zenobia's address before Zenobia is a customer;
    # the relay refuses that address once (its reply quotes it).
    assert storefront(live, "join", ada.id).status_code == 200
    mailbox.refuse_recipients.add(ZENOBIA["email"].lower())
    shared = storefront(live, "share", ada.id, {"emails": ZENOBIA["email"]})
    assert shared.status_code == 200
    run_jobs(live.app)
    refused = one(live.app, EmailMessage, EmailMessage.kind == "share")
    assert refused.status == "failed" and "zenobia" in refused.error.lower()
    # Minutes later the sweeper hands it to a new job, which the relay refuses again: that
    # job's failure (with the reply) is kept in Redis.
    with live.app.app_context():
        session = get_session()
        session.execute(
            EmailMessage.__table__.update().values(
                updated_at=datetime.now(UTC) - timedelta(minutes=10)
            )
        )
        session.commit()
        from workers.referral_jobs import sweep_referral_work

        assert sweep_referral_work() == 1
    run_jobs(live.app)
    mailbox.refuse_recipients.clear()
    ada_code = one(live.app, Advocate).code

    # Zenobia becomes a customer and orders with Ada's friend code.
    zen = commerce.create_customer(live.state, SHOP_A, state="enabled", **ZENOBIA)
    settle(live)
    order = commerce.place_order(
        live.state,
        SHOP_A,
        customer_id=zen.id,
        lines=[{"title": "Teapot", "price": "40.00"}],
        discount_code=ada_code,
        note_attributes=[{"name": "gift_message", "value": "Love, Zenobia Quillfeather"}],
        landing_site=f"/?ref={ada_code}",
        browser_ip="203.0.113.77",
        user_agent="Mozilla/5.0 (Zenobia's laptop)",
    )
    settle(live)
    assert one(live.app, Referral).friend_customer_id is not None
    order_before = commerce.order_json(order, commerce.data(live.state, SHOP_A))

    # She joins too (her code starts with her first name) and shares with a friend.
    assert storefront(live, "join", zen.id).status_code == 200
    assert storefront(live, "share", zen.id, {"emails": "friend@example.net"}).status_code == 200
    settle(live)
    zen_code = one(live.app, Advocate, Advocate.code.like("ZENOBIA-%")).code

    # She chats from the storefront, logged in and (earlier, from another device) not; staff
    # note who she is in the thread.
    chat(live, SHOP_A, zen.id, "Hi, Zenobia Quillfeather here: my parcel?", note="Zenobia is a VIP")
    chat(live, SHOP_A, None, "Anyone there? +358407654321", email=ZENOBIA["email"])
    # Someone else chats too: that stays.
    chat(live, SHOP_A, None, "Do you ship to Oulu?", email="other.shopper@example.net")

    # Her subscription system reports a conversion event naming her (G5, the public API).
    api = Api(live, make_key(live, SHOP_A))
    zen_id = one(live.app, Customer, Customer.shopify_id == zen.id).id
    converted = api.post(
        "/conversions",
        {
            "customer_id": zen_id,
            "type": "subscription_started",
            "event_id": "sub-zenobia-quillfeather",
            "source": "Recharge",
            "properties": {"contact": ZENOBIA["email"], "note": "Zenobia Quillfeather"},
        },
        headers={"Idempotency-Key": "conv-1"},
    )
    assert converted.status_code == 201, converted.text

    # Staff look her up and export her; and everyone.
    assert get(live, "/customers", q="zenobia").status_code == 200
    assert (
        post(live, "/customers/export", {"q": ZENOBIA["email"], "request_key": "x1"}).status_code
        == 200
    )
    assert post(live, "/customers/export", {"request_key": "x2"}).status_code == 200
    run_jobs(live.app)
    assert [j.status for j in rows(live.app, BulkJob)] == ["completed", "completed"]

    # Shopify asks for her data.
    live.state.emit(
        SHOP_A,
        "customers/data_request",
        {
            "shop_id": shopify_shop_id(SHOP_A),
            "shop_domain": SHOP_A,
            "orders_requested": [order.id],
            "customer": {"id": zen.id, "email": ZENOBIA["email"], "phone": ZENOBIA["phone"]},
            "data_request": {"id": 4242},
        },
    )
    settle(live)

    # An update of hers fails on a database constraint (any violation would do), and one
    # arrives malformed: both are kept, with her data in them.
    with_unique_index(live, "CREATE UNIQUE INDEX test_unique_phone ON customers (phone)")
    commerce.update_customer(live.state, SHOP_A, zen.id, phone="+358401111111")
    settle(live, rounds=1)
    with_unique_index(live, "DROP INDEX test_unique_phone")
    failed = one(live.app, WebhookDelivery, WebhookDelivery.status == "failed")
    assert "zenobia" in failed.body.decode().lower()
    truncated = json.dumps(commerce.customer_json(zen)).encode()[:-40]
    deliver(live, SHOP_A, "customers/update", truncated)
    run_jobs(live.app)
    assert one(live.app, WebhookDelivery, WebhookDelivery.status == "dead").body == truncated

    customer_before = commerce.customer_json(zen)
    found = scan(live.app, ZENOBIA_NEEDLES, directories=app_files(live))
    where = {f.where for f in found}
    assert {"customers.email", "email_messages.to_address", "webhook_deliveries.body"} <= where
    assert {"conversions.properties", "conversions.event_id"} <= where
    assert {"conversations.email", "conversation_messages.body", "timeline_events.payload"} <= where
    assert where & {"stored_file_chunks.data", "file"}, "the exports list her"
    in_redis_before = [f for f in found if f.where == "redis"]

    # The erasure.
    live.state.emit(
        SHOP_A,
        "customers/redact",
        {
            "shop_id": shopify_shop_id(SHOP_A),
            "shop_domain": SHOP_A,
            "customer": {"id": zen.id, "email": ZENOBIA["email"], "phone": ZENOBIA["phone"]},
            "orders_to_redact": [order.id],
        },
    )
    settle(live)

    # Deliveries Shopify sent before the erasure reach the app after it (retried for up to
    # 48 hours): her update and her order, whole.
    earlier = (datetime.now(UTC) - timedelta(hours=30)).isoformat()
    deliver(live, SHOP_A, "customers/update", customer_before, triggered_at=earlier)
    deliver(live, SHOP_A, "orders/updated", order_before, triggered_at=earlier)
    run_jobs(live.app)

    found = scan(live.app, ZENOBIA_NEEDLES, directories=app_files(live))
    assert found == [], "\n".join(map(str, found))
    [kept] = rows(live.app, Conversation)
    assert kept.email == "other.shopper@example.net"
    # Even before the erasure, RQ's record of the email job that failed for good named the
    # message, not her (the relay's reply is on the message's row).
    assert in_redis_before == []

    # What stays is anonymous: her rows, the referral and Ada's reward, the money.
    erased = one(live.app, Customer, Customer.shopify_id == zen.id)
    assert erased.redacted_at is not None
    referral = one(live.app, Referral)
    assert referral.friend_customer_id == erased.id and referral.order_total_minor == 3400
    assert one(live.app, Order, Order.shopify_id == order.id).total_minor == 3400
    assert rows(live.app, Reward)
    # Ada's own data is untouched.
    assert one(live.app, Customer, Customer.shopify_id == ada.id).email == "ada@example.com"
    export = rows(live.app, BulkJob)[1]
    assert get(live, f"/customers/jobs/{export.id}/download").status_code == 410
    assert zen_code not in json.dumps([a.code for a in rows(live.app, Advocate)])
    # Her friend discount (its code names her) is gone from Shopify too.
    assert commerce.find_discount(commerce.data(live.state, SHOP_A), zen_code) is None


def test_an_erasure_deletes_rq_records_that_mention_the_customer(live):
    """RQ keeps a job that failed for good, its traceback and results, for a year. Records
    written before tracebacks were kept free of addresses (or by any job that quotes one)
    go with the erasure; other jobs stay."""
    from rq import Queue
    from rq.job import Job
    from rq.results import Result

    install(live, SHOP_A)
    conn = live.app.extensions["redis"].connection()
    queue = Queue("default", connection=conn)
    quoting = queue.enqueue("workers.email_jobs.deliver_email", 1)
    Result.create_failure(
        quoting,
        ttl=3600,
        exc_string="SMTPRecipientsRefused: {'zenobia.quillfeather@example.org': (550, b'')}",
    )
    unrelated = queue.enqueue("workers.email_jobs.deliver_email", 2)
    Result.create_failure(unrelated, ttl=3600, exc_string="SMTPDataError: 451 try later")
    assert scan(live.app, ZENOBIA_NEEDLES)
    live.state.emit(
        SHOP_A,
        "customers/redact",
        {
            "shop_id": shopify_shop_id(SHOP_A),
            "shop_domain": SHOP_A,
            "customer": {"id": 987654, "email": ZENOBIA["email"], "phone": ZENOBIA["phone"]},
            "orders_to_redact": [],
        },
    )
    settle(live)
    assert scan(live.app, ZENOBIA_NEEDLES) == []
    assert not Job.exists(quoting.id, connection=conn)
    assert Job.exists(unrelated.id, connection=conn)


def test_shop_redact_leaves_only_the_bare_shop_row(live):
    for domain in (SHOP_A, SHOP_B):
        install_with_program(live, domain)
    people = {
        SHOP_A: ("Quentin", "Alphaworth", "quentin@alpha-customer.example"),
        SHOP_B: ("Beatrix", "Betaworth", "beatrix@beta-customer.example"),
    }
    for domain, (first, last, email) in people.items():
        customer = commerce.create_customer(
            live.state, domain, email=email, first_name=first, last_name=last, state="enabled"
        )
        settle(live)
        assert (
            live.http.get(
                f"{live.app_url}/proxy", params=proxy_query(domain, customer.id)
            ).status_code
            == 200
        )
        live.http.get(f"{live.app_url}/r/NOSUCHCODE")
        page = live.http.get(f"{live.app_url}/proxy", params=proxy_query(domain, customer.id))
        token = re.search(r'name="token" value="([0-9a-f]+)"', page.text).group(1)
        live.http.post(
            f"{live.app_url}/proxy/join",
            params=proxy_query(domain, customer.id),
            data={"token": token},
        )
        live.http.get(  # the advocate comes back: their device is remembered
            f"{live.app_url}/proxy",
            params=proxy_query(domain, customer.id),
            headers={"User-Agent": f"{first}'s browser", "X-Forwarded-For": "198.51.100.7"},
        )
        settle(live)
        code = one(live.app, Advocate, Advocate.code.like(f"{first.upper()}-%")).code
        live.http.get(f"{live.app_url}/r/{code}", headers={"User-Agent": "a friend's browser"})
        commerce.place_order(
            live.state,
            domain,
            customer_id=customer.id,
            lines=[{"title": "Kettle", "price": "25.00"}],
        )
        settle(live)
        api = Api(live, make_key(live, domain))  # the public API: a key, answers kept 24 h
        known = api.post("/customers", {"email": email}, headers={"Idempotency-Key": "c-1"})
        assert known.status_code == 200, known.text
        converted = api.post(
            "/conversions",
            {
                "customer_id": known.json()["id"],
                "type": "subscription_started",
                "event_id": f"sub-{first}",
                "properties": {"contact": email},
            },
            headers={"Idempotency-Key": "v-1"},
        )
        assert converted.status_code == 201, converted.text
        chat(
            live,
            domain,
            customer.id,
            f"Hello from {first} {last}",
            note=f"{first} called",
            saved_reply=f"Thanks for shopping at {domain}!",
        )
        assert (
            post(
                live, "/customers/export", {"q": email, "request_key": "e"}, shop=domain
            ).status_code
            == 200
        )
        run_jobs(live.app)
    for domain, staff_id in ((SHOP_A, 501), (SHOP_B, 601)):  # their staff open the app
        headers = {"Authorization": f"Bearer {id_token(domain, user_id=staff_id)}"}
        assert live.http.get(f"{live.app_url}/", headers=headers).status_code == 200
    with live.app.app_context():
        from workers.sync_jobs import reconcile_all

        reconcile_all()
    run_jobs(live.app)
    assert {s.shop_id for s in rows(live.app, StaffMember)} == {
        one(live.app, Shop, Shop.domain == d).id for d in (SHOP_A, SHOP_B)
    }
    assert [j.status for j in rows(live.app, BulkJob)] == ["completed", "completed"]
    a_id = one(live.app, Shop, Shop.domain == SHOP_A).id
    held = rows_per_table(live.app, a_id)
    for table in (
        "referral_clicks",
        "advocate_visits",
        "sync_runs",
        "staff_members",
        "api_keys",
        "api_idempotent_requests",
        "conversions",
        "conversations",
        "conversation_messages",
        "saved_replies",
    ):
        assert held.get(table), f"the shop has no {table} to erase"

    live.state.uninstall(SHOP_A)
    settle(live)
    live.state.emit(
        SHOP_A,
        "shop/redact",
        {"shop_id": shopify_shop_id(SHOP_A), "shop_domain": SHOP_A},
        installed_only=False,
    )
    settle(live)
    # A delivery from before the uninstall, arriving after the erasure.
    deliver(
        live,
        SHOP_A,
        "customers/update",
        payloads.customer(1, email=people[SHOP_A][2], first_name="Quentin", updated_at=None),
    )
    run_jobs(live.app)

    shop_a = one(live.app, Shop, Shop.domain == SHOP_A)
    redact = one(live.app, WebhookDelivery, WebhookDelivery.topic == "shop/redact")

    def record_of_the_erasure(finding) -> bool:
        return (finding.where, finding.locator) in {
            ("shops.domain", str(shop_a.id)),
            ("webhook_deliveries.body", str(redact.id)),
        }

    personal = ["Alpha Shop", "owner@alpha.example", "ada@alpha.example", *people[SHOP_A]]
    found = scan(live.app, ["alpha-shop", "Alpha", *personal], allowed=record_of_the_erasure)
    # Files are read whole: the database file holds the bare row's domain, so only the rest
    # is looked for there.
    found += scan_files(app_files(live), personal)
    assert found == [], "\n".join(map(str, found))
    assert shop_a.redacted_at is not None
    # Not a row of the shop is left but deliveries: shop/redact's, and the late one, which
    # kept no body.
    assert list(rows_per_table(live.app, a_id)) == ["webhook_deliveries"]
    kept = rows(live.app, WebhookDelivery, WebhookDelivery.shop_id == a_id)
    assert [(d.topic, d.status) for d in kept] == [
        ("shop/redact", "done"),
        ("customers/update", "skipped"),
    ]
    assert kept[1].body == b'{"redacted":true}'

    # The other shop keeps everything.
    others = scan(live.app, ["beta-shop", "ben@beta.example", *people[SHOP_B]], directories=[])
    assert {f.where for f in others} >= {
        "shops.domain",
        "customers.email",
        "staff_members.email",
        "stored_file_chunks.data",
        "bulk_jobs.params",
        "conversations.email",
        "conversation_messages.body",
        "saved_replies.body",
    }


def test_late_deliveries_about_an_erased_customer_keep_nothing_even_when_not_applied(live):
    """A shop that uninstalled the app still gets customers/redact; a customers/update sent
    before it, arriving after, is not applied (the shop is not installed) and, kept for
    inspection, keeps no body either. The same delivery for a customer who was not erased
    keeps its body."""
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/create", payloads.customer(cid=1001))
    deliver(live, SHOP_A, "app/uninstalled", payloads.app_uninstalled(SHOP_A))
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A, orders=()))
    run_jobs(live.app)
    deliver(live, SHOP_A, "customers/update", payloads.customer(cid=1001, updated=5))
    deliver(live, SHOP_A, "customers/update", payloads.customer(cid=1002, updated=5))
    run_jobs(live.app)
    late, other = rows(live.app, WebhookDelivery, WebhookDelivery.topic == "customers/update")
    assert (late.status, late.body) == ("skipped", b'{"redacted":true}')
    assert other.status == "skipped" and b"ada.lovelace+1002" in other.body
