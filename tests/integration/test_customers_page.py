"""The Customers page (C1-C4) over HTTP with real ID tokens: exact totals kept by the
database, every filter and combination, every sort, keyset paging both ways, search, bad
parameters, escaping, shop isolation; invitations and exports as jobs; the customer detail."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape
from sqlalchemy import delete, func, select

from shopify_app.customers import bulk, listing
from shopify_app.customers import detail as detail_cards
from shopify_app.customers.seed import seed_shop
from shopify_app.db import get_session
from shopify_app.models import (
    Advocate,
    AuditEntry,
    BulkJob,
    Customer,
    CustomerCount,
    EmailMessage,
    Referral,
    Reward,
    Shop,
    SyncRun,
    TimelineEvent,
)
from shopify_app.models.customer import SEGMENTS, UNLISTED
from shopify_app.referrals.revenue import recompute_shop
from shopify_app.values import money_text
from tests.conftest import SHOP_A, SHOP_B
from workers import bulk_jobs

from .test_program_pages import get, post, settle
from .webhook_support import install, one, rows, run_jobs

ROW = re.compile(r'<tr id="customer-(\d+)">')


def ids_on(page) -> list[int]:
    return [int(i) for i in ROW.findall(page.text)]


def link(page, rel: str) -> dict[str, str] | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', page.text)
    if not found:
        return None
    query = parse_qs(urlsplit(found.group(1).replace("&amp;", "&")).query)
    return {k: v[0] for k, v in query.items() if k not in ("shop", "embedded", "host")}


def add_customer(app, domain=SHOP_A, **fields) -> int:
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        number = (session.scalar(select(func.max(Customer.shopify_id))) or 100) + 1
        customer = Customer(shop_id=shop.id, shopify_id=number, **fields)
        session.add(customer)
        session.commit()
        return customer.id


def real_totals(app, domain=SHOP_A) -> dict[int, int]:
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        counted = dict(
            session.execute(
                select(Customer.list_segment, func.count())
                .where(Customer.shop_id == shop.id, Customer.list_segment >= 0)
                .group_by(Customer.list_segment)
            ).all()
        )
        kept = listing.segment_totals(session, shop)
    # Every segment, the empty ones left out of both.
    return (
        {s: counted[s] for s in SEGMENTS if counted.get(s)},
        {s: kept[s] for s in SEGMENTS if kept.get(s)},
    )


@pytest.fixture
def seeded(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    with live.app.app_context():
        session = get_session()
        for domain, count in ((SHOP_A, 260), (SHOP_B, 40)):
            seed_shop(session, session.scalar(select(Shop).where(Shop.domain == domain)), count)
    return live


def test_totals_are_kept_exact_by_the_database_on_every_write(live):
    install(live, SHOP_A)
    app = live.app
    guest = add_customer(app, email="g@example.com", first_name="Gina")
    member = add_customer(app, email="m@example.com", account_state="enabled")
    counted, kept = real_totals(app)
    assert counted == kept == {0: 1, 2: 1}
    with app.app_context():
        session = get_session()
        g, m = session.get(Customer, guest), session.get(Customer, member)
        g.account_state = "enabled"  # guest -> member
        m.program_joined = True  # member -> member + joined
        session.commit()
        assert (g.list_segment, m.list_segment) == (2, 3)
        g.deleted_at = datetime.now(UTC)  # deleted in Shopify: no longer listed
        session.commit()
        assert g.list_segment == UNLISTED
    counted, kept = real_totals(app)
    assert counted == kept == {3: 1}
    with app.app_context():
        session = get_session()
        session.execute(delete(Customer).where(Customer.id == member))
        session.commit()
    assert real_totals(app)[1] == {}
    with app.app_context():  # erasing the shop takes its counts with it
        session = get_session()
        add_customer(app, email="x@example.com")
        session.execute(delete(Shop).where(Shop.domain == SHOP_A))
        session.commit()
        assert session.scalar(select(func.count()).select_from(CustomerCount)) == 0


def test_webhook_sync_and_joining_move_customers_between_filters(live):
    """The columns the filters read are derived on every path, not only by the seed."""
    from devstore import commerce

    install(live, SHOP_A)
    dev = commerce.create_customer(
        live.state, SHOP_A, email="ivy@example.com", first_name="Ivy", last_name="Äijälä"
    )
    assert live.state.dispatcher.drain(15)
    run_jobs(live.app)
    page = get(live, "/customers", shopify="guest", program="not_joined")
    assert "Ivy Äijälä" in page.text
    commerce.update_customer(live.state, SHOP_A, dev.id, state="enabled")
    assert live.state.dispatcher.drain(15)
    run_jobs(live.app)
    assert "Ivy Äijälä" not in get(live, "/customers", shopify="guest").text
    assert "Ivy Äijälä" in get(live, "/customers", shopify="member").text
    assert "Ivy Äijälä" in get(live, "/customers", q="äijä").text  # non-ASCII prefix search
    customer = one(live.app, Customer)
    joined = post(live, f"/customers/{customer.id}/join", {})
    assert joined.status_code == 200 and "Ivy Äijälä joined with the code" in joined.text
    assert "Ivy Äijälä" in get(live, "/customers", program="joined", shopify="member").text
    counted, kept = real_totals(live.app)
    assert counted == kept == {3: 1}


def _expected(app, domain, *, shopify=None, program=None) -> set[int]:
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        query = select(Customer).where(Customer.shop_id == shop.id, Customer.deleted_at.is_(None))
        out = set()
        for c in session.scalars(query):
            if shopify and (c.account_state == "enabled") != (shopify == "member"):
                continue
            if program and c.program_joined != (program == "joined"):
                continue
            out.add(c.id)
        return out


def walk(live, size_hint=50, shop=SHOP_A, **params) -> list[int]:
    """Every id of the view, following Next links from the first page."""
    seen, page_params = [], dict(params)
    while True:
        page = get(live, "/customers", shop=shop, **page_params)
        assert page.status_code == 200
        ids = ids_on(page)
        assert len(ids) <= size_hint
        seen.extend(ids)
        following = link(page, "next")
        if following is None:
            return seen
        page_params = following


def test_an_empty_list_during_the_first_import_shows_its_progress(live):
    install(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        run = SyncRun(shop_id=shop.id, kind="import", phase="customers", objects_seen=1200)
        session.add(run)
        session.commit()
        run_id = run.id
    page = get(live, "/customers")
    assert page.status_code == 200
    assert "Importing your store's customers… 1,200 records read so far." in page.text
    assert "<progress" in page.text and "No customers yet" not in page.text
    # A filtered view says it found nothing yet, and why more may come.
    filtered = get(live, "/customers", program="joined")
    assert "No customers match these filters." in filtered.text
    assert "still being imported: more may match when it finishes" in filtered.text

    with live.app.app_context():
        session = get_session()
        run = session.get(SyncRun, run_id)
        run.status, run.error = "failed", "Shopify did not answer"
        session.commit()
    assert "did not finish: Shopify did not answer." in get(live, "/customers").text

    add_customer(live.app, email="first@example.com", first_name="First")
    listed = get(live, "/customers")
    assert len(ids_on(listed)) == 1 and "import-status" not in listed.text
    done = get(live, "/customers", program="joined")  # the import failed: nothing is coming
    assert "No customers match" in done.text and "still being imported" not in done.text


@pytest.mark.parametrize("shopify", [None, "member", "guest"])
@pytest.mark.parametrize("program", [None, "joined", "not_joined"])
def test_every_filter_and_combination_lists_exactly_its_customers(seeded, shopify, program):
    live = seeded
    params = {k: v for k, v in (("shopify", shopify), ("program", program)) if v}
    expected = _expected(live.app, SHOP_A, shopify=shopify, program=program)
    page = get(live, "/customers", **params)
    assert f"<strong>{len(expected):,}</strong> customer" in page.text
    listed = walk(live, **params)
    assert len(listed) == len(set(listed)) and set(listed) == expected


@pytest.mark.parametrize("sort", list(listing.SORTS))
def test_each_sort_orders_pages_forwards_and_back(seeded, sort):
    live = seeded
    column = listing.SORTS[sort][0]
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        everyone = list(
            session.scalars(
                select(Customer).where(Customer.shop_id == shop.id, Customer.program_joined)
            )
        )
    for descending in (False, True):
        expected = [
            c.id
            for c in sorted(everyone, key=lambda c: (getattr(c, column), c.id), reverse=descending)
        ]
        query = {"sort": ("-" if descending else "") + sort, "program": "joined"}
        with live.app.app_context():
            session = get_session()
            shop = session.get(Shop, shop.id)
            pages, view = [], listing.parse_query(query)
            while True:  # small pages, to cross many page boundaries
                page = listing.list_page(session, shop, view, size=3)
                pages.append([c.id for c in page.customers])
                if page.next_cursor is None:
                    break
                view = listing.ListQuery(**{**view.__dict__, "after": page.next_cursor})
            assert [i for p in pages for i in p] == expected
            back = []
            while page.prev_cursor is not None:  # and back again from the last page
                view = listing.ListQuery(**{**view.__dict__, "after": None})
                view = listing.ListQuery(**{**view.__dict__, "before": page.prev_cursor})
                page = listing.list_page(session, shop, view, size=3)
                back.append([c.id for c in page.customers])
            assert back == list(reversed(pages[:-1]))
    # Over HTTP: Next then Previous lands on the same first page.
    first = get(live, "/customers", sort=f"-{sort}")
    second = get(live, "/customers", **link(first, "next"))
    assert set(ids_on(first)).isdisjoint(ids_on(second))
    assert ids_on(get(live, "/customers", **link(second, "prev"))) == ids_on(first)


def test_search_by_name_last_name_email_and_phone(seeded):
    live = seeded
    ada = add_customer(
        live.app,
        first_name="Zelda",
        last_name="Quixote-Nakamura",
        email="Z.Q.Unique@Example.com",
        phone="+358401112233",
    )
    for query in ("zelda", "ZELDA QUIX", "quixote", "z.q.unique", "+358 40 111", "358401112233"):
        page = get(live, "/customers", q=query)
        assert ada in ids_on(page), query
    assert ids_on(get(live, "/customers", q="zelda", program="joined")) == []
    assert "No customers match" in get(live, "/customers", q="nobody-at-all").text
    assert ada not in ids_on(get(live, "/customers", shop=SHOP_B, q="zelda"))


def test_a_search_sorts_pages_and_counts_its_matches_like_the_list(seeded, monkeypatch):
    live = seeded
    since = datetime(2024, 1, 1, tzinfo=UTC)
    made = {
        add_customer(
            live.app,
            first_name=f"Pagina {n:03d}",
            # every third also matches by email: counted once
            email=f"pagina.{n}@example.com" if n % 3 == 0 else f"p{n}@example.com",
            account_state="enabled",
            shopify_created_at=since + timedelta(days=n),
        )
        for n in range(120)
    }
    first = get(live, "/customers", q="pagina", sort="name")
    assert "120</strong> customers match" in first.text
    pages, page = [ids_on(first)], first
    while link(page, "next"):
        page = get(live, "/customers", **link(page, "next"))
        pages.append(ids_on(page))
    assert [len(p) for p in pages] == [50, 50, 20]
    assert sum(pages, []) == sorted(made)  # made in name order, so by name is by id
    assert ids_on(get(live, "/customers", **link(page, "prev"))) == pages[1]
    newest = ids_on(get(live, "/customers", q="pagina"))  # default: newest first
    assert newest == sorted(made, reverse=True)[:50]
    assert ids_on(get(live, "/customers", q="pagina", shopify="guest")) == []

    monkeypatch.setattr(listing, "SEARCH_CAP", 30)
    listing._search_branches.cache_clear()
    listing._search_text.cache_clear()
    try:
        capped = get(live, "/customers", q="pagina", sort="name")
        # at most 30 by name and 30 by email (of the 40 that match by email), each person once
        shown = int(re.search(r"<strong>(\d+)\+</strong> customers match", capped.text)[1])
        assert 30 < shown <= 60 and len(set(ids_on(capped))) == len(ids_on(capped)) == 50
        assert "more than 30 match" in capped.text
        listed, page = ids_on(capped), capped
        while link(page, "next"):
            page = get(live, "/customers", **link(page, "next"))
            listed += ids_on(page)
        assert len(listed) == len(set(listed)) == shown  # the pages hold what the count says
    finally:
        listing._search_branches.cache_clear()
        listing._search_text.cache_clear()


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "drop table"},
        {"sort": "--name"},
        {"shopify": "admin", "program": "maybe"},
        {"after": "not-a-cursor"},
        {"after": "W10"},  # base64 of []
        {"sort": "since", "after": "WyJ4IiwxXQ"},  # ["x", 1]: not a date
        {"sort": "referrals", "after": "WyIxIiwgdHJ1ZV0"},  # ["1", true]
        {"before": "%%%"},
        {"q": "x" * 5000},
    ],
)
def test_malformed_parameters_fall_back_to_the_default_view(seeded, params):
    page = get(seeded, "/customers", **params)
    assert page.status_code == 200
    assert len(ids_on(page)) >= 1 or "q" in params


def test_names_are_escaped_and_deleted_or_erased_customers_render(seeded):
    live = seeded
    evil = add_customer(live.app, first_name="<script>alert(1)</script>", email="e@x.example")
    page = get(live, "/customers", q="<script>")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    detail = get(live, f"/customers/{evil}")
    assert "&lt;script&gt;" in detail.text and "<script>alert" not in detail.text
    gone = add_customer(live.app, first_name="Gone", deleted_at=datetime.now(UTC))
    erased = add_customer(live.app, redacted_at=datetime.now(UTC))
    assert "Deleted in Shopify" in get(live, f"/customers/{gone}").text
    assert "Personal data erased" in get(live, f"/customers/{erased}").text
    assert gone not in walk(live, q="gone")


def test_shops_see_only_their_own_customers_jobs_and_files(seeded):
    live = seeded
    a_ids = set(walk(live))
    b_ids = set(walk(live, shop=SHOP_B))
    assert a_ids and b_ids and a_ids.isdisjoint(b_ids)
    assert get(live, f"/customers/{min(a_ids)}", shop=SHOP_B).status_code == 404
    started = post(live, "/customers/export", {"request_key": "exp-a"})
    assert started.status_code == 200
    run_jobs(live.app)
    job = one(live.app, BulkJob)
    assert get(live, f"/customers/jobs/{job.id}", shop=SHOP_B).status_code == 404
    assert get(live, f"/customers/jobs/{job.id}/download", shop=SHOP_B).status_code == 404
    foreign = post(live, "/customers/invite", {"ids": [str(min(a_ids))]}, shop=SHOP_B)
    assert foreign.status_code == 422 and "None of the selected customers exist" in foreign.text


def test_invite_all_matching_skips_and_counts_and_is_one_job_per_click(live):
    install(live, SHOP_A)
    app = live.app
    add_customer(app, first_name="Ann", email="ann@example.com", email_marketing_state="subscribed")
    add_customer(app, first_name="Ben", email="ben@example.com", email_marketing_state="subscribed")
    add_customer(app, first_name="Cat")  # no email
    add_customer(
        app, first_name="Dan", email="dan@example.com", email_marketing_state="unsubscribed"
    )
    add_customer(app, first_name="Eve", email="eve@example.com", program_joined=True)
    form = {"scope": "all", "request_key": "click-1"}
    first = post(live, "/customers/invite", form)
    again = post(live, "/customers/invite", form)  # a double click
    assert first.status_code == again.status_code == 200
    assert "Sending invitations to 5 customer(s)." in first.text
    assert "Already started." in again.text
    job = one(app, BulkJob)
    assert job.status == "queued" and job.total == 5
    run_jobs(app)
    job = one(app, BulkJob)
    assert job.status == "completed" and job.processed == 5
    assert job.outcome == {"invited": 2, "no_email": 1, "unsubscribed": 1, "joined": 1}
    sent = rows(app, EmailMessage, EmailMessage.kind == "invitation")
    assert sorted(m.to_address for m in sent) == ["ann@example.com", "ben@example.com"]
    assert {m.status for m in sent} == {"sent"}
    mailbox = live.devstore.extensions["devstore_mailbox"]
    assert len(mailbox.to("ann@example.com")) == len(mailbox.to("ben@example.com")) == 1
    assert mailbox.to("cat@example.com") == mailbox.to("dan@example.com") == []
    progress = get(live, f"/customers/jobs/{job.id}")
    assert 'data-outcome="invited">2' in progress.text
    assert "Skipped, no email address" in progress.text
    actions = {a.action for a in rows(app, AuditEntry)}
    assert {"customers.invite", "customer.invited"} <= actions
    invited_events = rows(app, TimelineEvent, TimelineEvent.kind.like("%invited%"))
    assert len(invited_events) == 2
    # The same customers again today: nobody is emailed twice.
    post(live, "/customers/invite", {"scope": "all", "request_key": "click-2"})
    run_jobs(app)
    second = rows(app, BulkJob)[-1]
    assert second.outcome.get("invited_today") == 2 and second.outcome.get("invited") is None
    assert len(rows(app, EmailMessage, EmailMessage.kind == "invitation")) == 2


def test_invite_selected_rows_and_refusals(live):
    install(live, SHOP_A)
    a = add_customer(
        live.app, first_name="Ann", email="ann@example.com", email_marketing_state="subscribed"
    )
    add_customer(live.app, first_name="Ben", email="ben@example.com")
    assert post(live, "/customers/invite", {"scope": "selected"}).status_code == 422
    assert post(live, "/customers/invite", {"ids": ["x"]}).status_code == 422
    too_many = [str(i) for i in range(bulk.MAX_SELECTED + 1)]
    assert post(live, "/customers/invite", {"ids": too_many}).status_code == 422
    assert post(live, "/customers/invite", {"ids": [str(a)], "request_key": "s"}).status_code == 200
    run_jobs(live.app)
    assert [m.to_address for m in rows(live.app, EmailMessage)] == ["ann@example.com"]


def test_an_interrupted_invitation_job_resumes_where_it_stopped(live):
    install(live, SHOP_A)
    ids = [
        add_customer(
            live.app,
            first_name=f"P{i}",
            email=f"p{i}@example.com",
            email_marketing_state="subscribed",
        )
        for i in range(6)
    ]
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        job, _ = bulk.start_job(
            session, shop, kind="invite", params={}, actor="staff:1", request_key="r"
        )
        # As a worker killed after committing its first chunk leaves it:
        job.status, job.cursor, job.processed = "running", {"after_id": ids[2]}, 3
        job.outcome = {"invited": 3}
        job.heartbeat_at = datetime.now(UTC) - timedelta(minutes=10)
        session.commit()
        job_id = job.id
    live.app.extensions["redis"].connection().flushdb()  # its RQ job is lost too
    with live.app.app_context():
        assert bulk_jobs.sweep_bulk_jobs() == 1
    run_jobs(live.app)
    job = one(live.app, BulkJob, BulkJob.id == job_id)
    assert job.status == "completed" and job.outcome == {"invited": 6}
    emailed = sorted(m.customer_id for m in rows(live.app, EmailMessage))
    assert emailed == ids[3:]  # the first three were done before the interruption


def test_export_streams_the_filtered_table_neutralising_formulas(seeded):
    live = seeded
    tricky = {
        '=HYPERLINK("http://evil")': "formula@example.com",
        "+SUM(A1)": "plus@example.com",
        "-2+3": "minus@example.com",
        "@cmd": "at@example.com",
        "\tTab": "tab@example.com",
        "Väinö": "=1+1@example.com",
    }
    for first, email in tricky.items():
        add_customer(live.app, first_name=first, email=email, account_state="enabled")
    page = post(live, "/customers/export", {"shopify": "member", "request_key": "e1"})
    assert page.status_code == 200 and "Exporting" in page.text
    run_jobs(live.app)
    job = one(live.app, BulkJob)
    assert job.status == "completed"
    expected = _expected(live.app, SHOP_A, shopify="member")
    assert job.processed == len(expected)
    progress = get(live, f"/customers/jobs/{job.id}")
    assert "Download CSV" in progress.text
    download = get(live, f"/customers/jobs/{job.id}/download")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    text = download.content.decode("utf-8")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == list(bulk.EXPORT_HEADER)
    assert len(table) - 1 == len(expected)
    names = {row[0] for row in table[1:]}
    assert '\'=HYPERLINK("http://evil")' in names and "'+SUM(A1)" in names
    assert "'-2+3" in names and "'@cmd" in names and "'\tTab" in names and "Väinö" in names
    emails = {row[1] for row in table[1:]}
    assert "'=1+1@example.com" in emails
    for row in table[1:]:
        assert row[3] == "Member"
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    audit = one(live.app, AuditEntry, AuditEntry.action == "customers.export")
    assert audit.after["filter"] == {"shopify": ["member"]}
    picked = sorted(expected)[:2]
    form = {"scope": "selected", "ids": [str(i) for i in picked], "request_key": "e2"}
    assert post(live, "/customers/export", form).status_code == 200
    searched = {"q": "väinö", "request_key": "e3"}
    assert post(live, "/customers/export", searched).status_code == 200
    run_jobs(live.app)
    by_key = {j.request_key: j for j in rows(live.app, BulkJob)}
    assert by_key["e2"].status == "completed" and by_key["e2"].processed == 2
    assert by_key["e3"].status == "completed" and by_key["e3"].processed >= 1
    searched_csv = get(live, f"/customers/jobs/{by_key['e3'].id}/download").content.decode()
    assert all(
        r[0].lower().startswith("väinö") for r in list(csv.reader(io.StringIO(searched_csv)))[1:]
    )


def test_customer_detail_shows_the_program_and_links_to_shopify(seeded):
    live = seeded
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        assert recompute_shop(session, shop) == []  # the seed's numbers are the engine's
        star = session.scalar(
            select(Customer)
            .where(Customer.shop_id == shop.id, Customer.program_joined)
            .order_by(Customer.successful_referrals.desc(), Customer.id)
            .limit(1)
        )
    page = get(live, f"/customers/{star.id}")
    assert page.status_code == 200
    assert f'href="shopify://admin/customers/{star.shopify_id}" target="_top"' in page.text
    assert "View in Shopify" in page.text and "/r/" in page.text and "Copy link" in page.text
    numbers = page.text.split('id="referral-numbers"')[1].split("</dl>")[0]
    assert f"<dt>Successful referrals</dt><dd>{star.successful_referrals}</dd>" in numbers
    assert "activity-referrals" in page.text
    assert get(live, "/customers/999999").status_code == 404
    newcomer = add_customer(
        live.app, first_name="Nia", email="nia@example.com", email_marketing_state="subscribed"
    )
    detail = get(live, f"/customers/{newcomer}")
    assert "Not joined, so no link yet." in detail.text and "Join the program" in detail.text
    invited = post(live, f"/customers/{newcomer}/invite", {})
    assert invited.status_code == 200 and "Invitation sent to nia@example.com" in invited.text
    unsure = add_customer(live.app, first_name="Ola")
    refused = post(live, f"/customers/{unsure}/invite", {})
    assert refused.status_code == 422 and "has no email address" in refused.text


def test_customer_detail_lists_the_latest_referrals_rewards_and_invitations(seeded, monkeypatch):
    live = seeded
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        star = session.scalar(
            select(Customer)
            .where(Customer.shop_id == shop.id, Customer.program_joined)
            .order_by(Customer.successful_referrals.desc(), Customer.id)
            .limit(1)
        )
        advocate = session.scalar(select(Advocate).where(Advocate.customer_id == star.id))
        friends = session.scalars(
            select(Customer)
            .where(Customer.shop_id == shop.id, Customer.id != star.id)
            .order_by(Customer.id)
            .limit(3)
        ).all()
        for n, friend in enumerate(friends):  # at least three of each, whatever the seed made
            referral = Referral(
                shop_id=shop.id,
                advocate_id=advocate.id,
                friend_customer_id=friend.id,
                order_shopify_id=990_000 + n,
                attribution="manual",
                status="completed",
                program_version=1,
                currency="USD",
                order_total_minor=1000,
            )
            session.add(referral)
            session.flush()
            session.add(
                Reward(
                    shop_id=shop.id,
                    referral_id=referral.id,
                    advocate_id=advocate.id,
                    code=f"DETAILTEST{n}",
                    kind="fixed_amount",
                    value=500,
                    currency="USD",
                    status="issued",
                )
            )
        session.flush()
        referrals = session.scalars(
            select(Referral).where(Referral.advocate_id == advocate.id).order_by(Referral.id.desc())
        ).all()
        rewards = session.scalars(
            select(Reward).where(Reward.advocate_id == advocate.id).order_by(Reward.id.desc())
        ).all()
        friend = session.get(Customer, next(r.friend_customer_id for r in referrals))
        for n in range(7):  # a reminder is not an invitation; only the latest 5 are shown
            session.add(
                EmailMessage(
                    shop_id=shop.id,
                    customer_id=star.id,
                    kind="invitation" if n < 6 else "reward",
                    to_address=star.email,
                    subject="s",
                    body_text="b",
                    status="sent",
                    dedupe_key=f"detail-test-{n}",
                    created_at=datetime(2026, 1, 1 + n, tzinfo=UTC),
                )
            )
        session.commit()
        friend_name, star_id = friend.display_name, star.id
    assert len(referrals) >= 3 and len(rewards) >= 2
    page = get(live, f"/customers/{star_id}")
    table = page.text.split('id="activity-referrals"')[1].split("</table>")[0]
    assert table.count("<tr>") == len(referrals) + 1  # the header row
    assert str(escape(friend_name)) in table  # a seeded name may be O'Brien
    assert "The latest 100 referrals" not in page.text
    shown = page.text.split('id="invitations"')[1].split("</p>")[0]
    assert shown.count("(sent)") == 5 and "2026-01-06" in shown
    assert "2026-01-01" not in shown and "2026-01-07" not in shown

    monkeypatch.setattr(detail_cards, "ACTIVITY_LIMIT", 2)
    page = get(live, f"/customers/{star_id}")
    table = page.text.split('id="activity-referrals"')[1].split("</table>")[0]
    assert table.count("<tr>") == 3
    assert "The latest 2 referrals; the numbers above count them all." in page.text
    assert "The latest 2 rewards." in page.text
    codes = page.text.split('id="activity-rewards"')[1].split("</table>")[0]
    assert [w.code for w in rewards[:2]] == re.findall(r'<code class="code">([^<]+)</code>', codes)


def test_the_url_holds_the_view(seeded):
    live = seeded
    page = get(live, "/customers", shopify="member", program="not_joined", sort="-referrals")
    assert 'name="shopify" value="member" checked>' in page.text
    assert 'name="shopify" value="guest">' in page.text
    assert 'name="program" value="not_joined" checked>' in page.text
    assert "Shopify status: Member" in page.text  # its chip
    assert 'aria-sort="descending"' in page.text
    following = link(page, "next")
    assert following is not None and following.pop("after")
    assert following == {"shopify": "member", "program": "not_joined", "sort": "-referrals"}
    searched = get(live, "/customers", q="ada lov")
    assert 'value="ada lov"' in searched.text


def _export_reference(app, domain) -> list[list[str]]:
    """Every customer of the shop as the export's cells, computed here in Python from the
    models: what reading the CSV back must give, cell for cell."""

    def neutral(text):
        return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

    def consent(state):  # the article's buckets: pending is not yet subscribed
        if state == "subscribed":
            return "Subscribed"
        if state in ("unsubscribed", "redacted", "invalid"):
            return "Unsubscribed"
        return "Not subscribed"

    def day(at):
        return at.date().isoformat() if at else ""

    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        codes = dict(
            session.execute(
                select(Advocate.customer_id, Advocate.code).where(Advocate.shop_id == shop.id)
            ).all()
        )
        currency = shop.currency or "USD"
        table = []
        for c in session.scalars(select(Customer).where(Customer.shop_id == shop.id)):
            if c.list_segment < 0:
                continue
            first, last = c.first_name or "", c.last_name or ""
            table.append(
                [
                    neutral(f"{first} {last}" if first and last else first or last),
                    neutral(c.email or ""),
                    neutral(c.phone or ""),
                    "Member" if c.account_state == "enabled" else "Guest",
                    "Joined" if c.program_joined else "Not joined",
                    consent(c.email_marketing_state),
                    day(c.email_marketing_consent_updated_at),
                    consent(c.sms_marketing_state),
                    day(c.sms_marketing_consent_updated_at),
                    neutral(codes.get(c.id, "")),
                    str(c.successful_referrals),
                    str(c.total_referees),
                    money_text(c.referral_revenue_minor, currency),
                    money_text(c.referrer_revenue_minor, currency),
                    money_text(c.referee_revenue_minor, currency),
                    currency,
                    c.customer_since.date().isoformat() if c.customer_since else "",
                    str(c.shopify_id or ""),
                ]
            )
    return sorted(table)


def test_the_export_reads_back_as_the_customers_on_either_database(seeded):
    """Read back with Python's csv reader, the file holds every customer's cells as Python
    computes them from the models, whatever a name holds (quotes, commas, line breaks, a bare
    carriage return, formula starts, non-ASCII). On PostgreSQL the lines SQLite's way makes
    and COPY's file are also the same, byte for byte."""
    live = seeded
    tricky = (
        {"first_name": "=cmd", "last_name": "Ö'Neil", "email": "+x@example.com"},
        {"first_name": "Väinö", "last_name": 'the "Bard", of Kalevala'},
        {"first_name": "Line\nbreak", "last_name": "Carriage\rreturn", "phone": "-555"},
        {"first_name": "\rStarts", "email": "-a@example.com", "referrer_revenue_minor": -250},
        {"first_name": "", "last_name": "", "email": "@only@example.com"},
    )
    for fields in tricky:
        add_customer(live.app, **fields)
    expected = _export_reference(live.app, SHOP_A)
    assert len(expected) == len(_expected(live.app, SHOP_A))
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        job = BulkJob(id=0, shop_id=shop.id, kind="export", params={})
        lines = bulk.ExportStream(session, shop, job, server_side=False)
        lines_bytes = b"".join(lines)
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            copy = bulk.ExportStream(session, shop, job, server_side=True)
            copy_bytes = b"".join(copy)
    assert lines.rows == len(expected)
    table = list(csv.reader(io.StringIO(lines_bytes.decode("utf-8"), newline="")))
    assert table[0] == list(bulk.EXPORT_HEADER)
    assert sorted(table[1:]) == expected
    if postgres:
        assert copy.rows == lines.rows
        assert sorted(copy_bytes.split(b"\n")) == sorted(lines_bytes.split(b"\n"))


def test_referrals_seed_fills_a_shop_from_the_command_line(live):
    from click.testing import CliRunner

    from shopify_app.cli import main

    from .webhook_support import cli_env

    install(live, SHOP_A)
    runner = CliRunner()
    env = cli_env(live.app)
    done = runner.invoke(main, ["seed", "--shop", SHOP_A, "--customers", "120"], env=env)
    assert done.exit_code == 0, done.output
    assert "120 customers" in done.output
    assert real_totals(live.app)[1] == real_totals(live.app)[0]
    assert sum(real_totals(live.app)[0].values()) == 120
    unknown = runner.invoke(
        main, ["seed", "--shop", "nope.myshopify.com", "--customers", "1"], env=env
    )
    assert unknown.exit_code != 0 and "no shop nope.myshopify.com" in unknown.output
    recompute = runner.invoke(main, ["revenue", "recompute", "--shop", SHOP_A], env=env)
    assert recompute.exit_code == 0 and "0 customer(s) differ" in recompute.output


def _consent_bucket(state):
    if state == "subscribed":
        return "subscribed"
    if state in ("unsubscribed", "redacted", "invalid"):
        return "unsubscribed"
    return "not_subscribed"


def _matching(app, domain, email: set[str], sms: set[str]) -> set[int]:
    """The shop's listed customers whose consent buckets are in `email` and in `sms`,
    worked out here from the rows."""
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        return {
            c.id
            for c in session.scalars(
                select(Customer).where(Customer.shop_id == shop.id, Customer.deleted_at.is_(None))
            )
            if _consent_bucket(c.email_marketing_state) in email
            and _consent_bucket(c.sms_marketing_state) in sms
        }


def test_consent_filters_or_within_and_across_as_repeated_or_comma_parameters(seeded):
    live = seeded
    expected = _matching(live.app, SHOP_A, {"subscribed"}, {"subscribed", "unsubscribed"})
    assert expected
    repeated = get(live, "/customers", sms=["subscribed", "unsubscribed"], email="subscribed")
    commas = get(live, "/customers", sms="unsubscribed,subscribed", email="subscribed")
    assert repeated.status_code == commas.status_code == 200
    assert f"<strong>{len(expected):,}</strong> customers match" in repeated.text
    assert ids_on(repeated) == ids_on(commas)
    listed = walk(live, sms="subscribed,unsubscribed", email="subscribed", sort="name")
    assert len(listed) == len(set(listed)) and set(listed) == expected
    # Another shop's customers with the same consent never show.
    assert not set(walk(live, shop=SHOP_B, sms="subscribed,unsubscribed")) & expected


@pytest.mark.parametrize(
    "params",
    [
        {"email": "bogus"},
        {"sms": "subscribed\x00"},
        {"referrals": ["", ","]},
        {"program": "joined" * 400},
        {"shopify": ["member", "guest", "member"]},
    ],
)
def test_malformed_filter_values_show_the_default_view(seeded, params):
    live = seeded
    default = get(live, "/customers")
    page = get(live, "/customers", **params)
    assert page.status_code == 200
    assert ids_on(page) == ids_on(default)
    assert "customers match" not in page.text


def test_a_consent_webhook_moves_the_customer_between_filters(live):
    from devstore import commerce

    install(live, SHOP_A)
    dev = commerce.create_customer(
        live.state, SHOP_A, email="sam@example.com", first_name="Sam", phone="+15550001111"
    )
    settle(live)
    assert "Sam" in get(live, "/customers", sms="not_subscribed").text
    commerce.set_marketing_consent(live.state, SHOP_A, dev.id, "sms", "subscribed")
    settle(live)
    assert "Sam" not in get(live, "/customers", sms="not_subscribed").text
    page = get(live, "/customers", sms="subscribed", email="not_subscribed")
    assert "Sam" in page.text and "<strong>1</strong> customer matches" in page.text
    commerce.set_marketing_consent(live.state, SHOP_A, dev.id, "email", "unsubscribed")
    settle(live)
    assert "Sam" in get(live, "/customers", email="unsubscribed").text
    counted, kept = real_totals(live.app)
    assert counted == kept and sum(kept.values()) == 1
