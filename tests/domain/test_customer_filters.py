"""The Customers page's filters (E2): five categories, OR within a category, AND across;
the segment number and the per-segment counts the database keeps for them; the export of a
filtered view.

Expected sets are worked out here from each row's own columns with the article's buckets
written out again (pending is not subscribed; redacted and invalid are suppressed), never
from `list_segment` or `customer_counts`.
"""

from __future__ import annotations

import importlib
import itertools
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, insert, select, update
from werkzeug.datastructures import MultiDict

from shopify_app.customers import bulk, listing
from shopify_app.models import BulkJob, Customer, CustomerCount
from shopify_app.models.customer import list_segment, segment_sql

from .. import factories

EMAIL_STATES = (None, "subscribed", "not_subscribed", "unsubscribed", "pending", "redacted")
EMAIL_STATES += ("invalid",)
SMS_STATES = (None, "subscribed", "not_subscribed", "unsubscribed", "pending", "redacted")


def bucket(state: str | None) -> str:
    if state == "subscribed":
        return "subscribed"
    if state in ("unsubscribed", "redacted", "invalid"):
        return "unsubscribed"
    return "not_subscribed"


def values_of(c: Customer) -> dict[str, str]:
    """The customer's value in each category, from its own columns."""
    return {
        "email": bucket(c.email_marketing_state),
        "sms": bucket(c.sms_marketing_state),
        "shopify": "member" if c.account_state == "enabled" else "guest",
        "program": "joined" if c.program_joined else "not_joined",
        "referrals": "has" if c.successful_referrals > 0 else "none",
    }


def expected_ids(session, shop, chosen: dict[str, list[str]]) -> set[int]:
    session.expire_all()
    rows = session.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.deleted_at.is_(None))
    )
    return {
        c.id
        for c in rows
        if all(values_of(c)[key] in values for key, values in chosen.items() if values)
    }


def rule(c: Customer) -> int:
    return list_segment(
        member=c.account_state == "enabled",
        joined=bool(c.program_joined),
        deleted=c.deleted_at is not None,
        referrals=c.successful_referrals,
        email_state=c.email_marketing_state,
        sms_state=c.sms_marketing_state,
    )


def assert_exact(session, shop) -> None:
    """Every row's segment is the rule's, and the kept counts are the rows' counts."""
    session.expire_all()
    customers = list(session.scalars(select(Customer).where(Customer.shop_id == shop.id)))
    for c in customers:
        assert c.list_segment == rule(c), (c.id, values_of(c), c.deleted_at)
    counted: dict[int, int] = {}
    for c in customers:
        if c.list_segment >= 0:
            counted[c.list_segment] = counted.get(c.list_segment, 0) + 1
    kept = {
        segment: int(n)
        for segment, n in session.execute(
            select(CustomerCount.segment, func.sum(CustomerCount.n))
            .where(CustomerCount.shop_id == shop.id)
            .group_by(CustomerCount.segment)
        )
        if n
    }
    assert kept == counted


def population(session, shop, n: int, seed: int = 7) -> list[Customer]:
    """`n` customers spread over every category value (and every Shopify consent state)."""
    rng = random.Random(seed)
    made = []
    for i in range(n):
        c = factories.customer(
            session,
            shop,
            first_name=rng.choice(("Ada", "Alan", "Grace", "Linus")),
            account_state=rng.choice(("enabled", "disabled", "invited", None)),
            email_marketing_state=EMAIL_STATES[i % len(EMAIL_STATES)],
            sms_marketing_state=rng.choice(SMS_STATES),
        )
        if rng.random() < 0.3:
            factories.advocate(session, shop, c)
            c.successful_referrals = rng.choice((0, 1, 3))
        made.append(c)
    session.flush()
    return made


def walk(session, shop, view: listing.ListQuery, size: int = 7) -> list[int]:
    seen = []
    while True:
        page = listing.list_page(session, shop, view, size=size)
        seen.extend(c.id for c in page.customers)
        if page.next_cursor is None:
            return seen
        view = listing.ListQuery(view.q, view.filters, view.sort, after=page.next_cursor)


# --- the segment number and its counts -------------------------------------------------


def test_the_model_and_the_migration_compute_the_same_segment():
    migration = importlib.import_module("shopify_app.migrations.versions.0016_customer_filters")
    assert segment_sql("NEW") == migration.segment_sql("NEW")


@pytest.mark.parametrize("email", EMAIL_STATES)
def test_the_database_gives_every_combination_its_segment_on_insert(session, email):
    """Rows inserted past the model (no segment given) get the rule's number, and the
    counts follow."""
    shop = factories.shop(session)
    table = Customer.__table__
    combos = itertools.product(SMS_STATES, ("enabled", "disabled"), (False, True), (0, 2))
    rows = [
        {
            "shop_id": shop.id,
            "shopify_id": factories.next_id(),
            "email_marketing_state": email,
            "sms_marketing_state": sms,
            "account_state": state,
            "program_joined": joined,
            "successful_referrals": referrals,
            "tags": "",
            "created_at": datetime.now(UTC),
            "updated_at": datetime.now(UTC),
            "customer_since": datetime.now(UTC),
        }
        for sms, state, joined, referrals in combos
    ]
    session.execute(insert(table), rows)
    assert_exact(session, shop)


def test_segment_and_counts_stay_exact_through_every_kind_of_write(session):
    shop = factories.shop(session)
    other = factories.shop(session)
    customers = population(session, shop, 40)
    population(session, other, 5)
    assert_exact(session, shop)

    # Consent changes through the model (the sync's path) ...
    a, b, c, d = customers[:4]
    a.email_marketing_state = "subscribed"
    b.sms_marketing_state = "unsubscribed"
    c.email_marketing_state = "pending"
    d.sms_marketing_state = "redacted"
    session.flush()
    assert_exact(session, shop)

    # ... and past it: a bulk UPDATE of consent and of the referral counts (revenue's
    # recompute, the seed) moves rows across segments too.
    table = Customer.__table__
    ids = [x.id for x in customers[4:20]]
    session.execute(
        update(table).where(table.c.id.in_(ids[:8])).values(email_marketing_state="invalid")
    )
    session.execute(
        update(table).where(table.c.id.in_(ids[8:])).values(sms_marketing_state="subscribed")
    )
    session.execute(update(table).where(table.c.id.in_(ids[:5])).values(successful_referrals=1))
    session.execute(update(table).where(table.c.id.in_(ids[:3])).values(successful_referrals=0))
    session.execute(update(table).where(table.c.id == ids[6]).values(list_segment=70))
    assert_exact(session, shop)

    # Referral count crossing zero through the model, and staying above it.
    e = customers[20]
    e.successful_referrals = 1
    session.flush()
    e.successful_referrals = 4
    session.flush()
    assert_exact(session, shop)

    # Shopify status, joining, deletion in Shopify (unlisted), redaction, a row deleted.
    customers[21].account_state = "enabled"
    factories.advocate(session, shop, customers[22])
    customers[23].deleted_at = datetime.now(UTC)
    customers[24].redacted_at = datetime.now(UTC)
    customers[24].email = customers[24].first_name = None
    session.flush()
    session.execute(delete(Customer).where(Customer.id == customers[25].id))
    session.execute(
        update(table).where(table.c.id == customers[26].id).values(deleted_at=datetime.now(UTC))
    )
    assert_exact(session, shop)
    assert_exact(session, other)


# --- the query --------------------------------------------------------------------------

CHOICES = [
    {"email": ["subscribed"]},
    {"email": ["not_subscribed"]},
    {"email": ["unsubscribed"]},
    {"email": ["subscribed", "unsubscribed"]},
    {"sms": ["subscribed"]},
    {"sms": ["not_subscribed", "unsubscribed"]},
    {"shopify": ["member"]},
    {"shopify": ["guest"]},
    {"program": ["joined"]},
    {"program": ["not_joined"]},
    {"referrals": ["has"]},
    {"referrals": ["none"]},
    {"sms": ["subscribed", "unsubscribed"], "email": ["subscribed"]},
    {"email": ["unsubscribed"], "sms": ["unsubscribed"], "shopify": ["guest"]},
    {"program": ["joined"], "referrals": ["none"], "email": ["subscribed", "not_subscribed"]},
    {
        "email": ["subscribed"],
        "sms": ["not_subscribed"],
        "shopify": ["member"],
        "program": ["joined"],
        "referrals": ["has"],
    },
    {"program": ["not_joined"], "referrals": ["has"]},  # nobody: only advocates refer
    {"email": ["subscribed", "not_subscribed", "unsubscribed"]},  # all of one = no filter
    {},
]


@pytest.mark.parametrize("sort", ["-since", "name", "-referrals"])
def test_filters_or_within_and_across_categories_with_exact_totals(session, sort):
    shop = factories.shop(session)
    population(session, shop, 120)
    population(session, factories.shop(session), 10)  # another shop's never show
    for chosen in CHOICES:
        expected = expected_ids(session, shop, chosen)
        view = listing.parse_query(MultiDict([*_pairs(chosen), ("sort", sort)]))
        page = listing.list_page(session, shop, view, size=7)
        assert page.total == len(expected), chosen
        listed = walk(session, shop, view)
        assert len(listed) == len(set(listed)), chosen  # each once
        assert set(listed) == expected, chosen


def _pairs(chosen: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(key, value) for key, values in chosen.items() for value in values]


def test_paging_back_returns_the_same_pages(session):
    shop = factories.shop(session)
    population(session, shop, 60)
    view = listing.parse_query({"email": "subscribed,not_subscribed", "shopify": "member"})
    first = listing.list_page(session, shop, view, size=5)
    second = listing.list_page(
        session, shop, listing.ListQuery(view.q, view.filters, after=first.next_cursor), size=5
    )
    back = listing.list_page(
        session, shop, listing.ListQuery(view.q, view.filters, before=second.prev_cursor), size=5
    )
    assert [c.id for c in back.customers] == [c.id for c in first.customers]


def test_search_works_with_the_filters(session):
    shop = factories.shop(session)
    population(session, shop, 80)
    chosen = {"sms": ["subscribed", "unsubscribed"], "email": ["subscribed"]}
    view = listing.parse_query({**{k: ",".join(v) for k, v in chosen.items()}, "q": "grace"})
    expected = {
        i
        for i in expected_ids(session, shop, chosen)
        if session.get(Customer, i).first_name == "Grace"
    }
    page = listing.list_page(session, shop, view, size=500)
    assert {c.id for c in page.customers} == expected and page.total == len(expected)


def test_repeated_parameters_and_comma_lists_are_the_same_view():
    repeated = listing.parse_query(
        MultiDict([("sms", "unsubscribed"), ("sms", "subscribed"), ("email", "subscribed")])
    )
    commas = listing.parse_query({"sms": "subscribed,unsubscribed", "email": "subscribed"})
    assert repeated == commas
    assert repeated.filters == (("email", ("subscribed",)), ("sms", ("subscribed", "unsubscribed")))
    assert listing.parse_query(repeated.params()) == repeated


@pytest.mark.parametrize(
    "args",
    [
        {"email": "bogus"},
        {"sms": ",,,"},
        {"shopify": "member,guest"},  # everything in a category: no restriction
        {"program": "JOINED"},
        {"referrals": "1"},
        {"email": "x" * 5000},
        {"email": ["subscribed", 3]},
        {"sort": ["-since"], "after": 5, "q": None},
        {"unknown": "subscribed"},
    ],
)
def test_malformed_filter_values_fall_back_to_the_default_view(args):
    view = listing.parse_query(args)
    if args.get("email") == ["subscribed", 3]:
        assert view.filters == (("email", ("subscribed",)),)  # the good value stays
        return
    assert view == listing.ListQuery()


def test_unknown_values_beside_known_ones_are_ignored():
    view = listing.parse_query({"email": "subscribed,bogus", "sms": "nope"})
    assert view.filters == (("email", ("subscribed",)),)


# --- the export of a filtered view ----------------------------------------------------


def test_the_export_covers_the_filtered_view_with_consent_columns(session):
    shop = factories.shop(session)
    customers = population(session, shop, 50)
    stamp = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    customers[0].email_marketing_state = "subscribed"
    customers[0].sms_marketing_state = "unsubscribed"
    customers[0].email_marketing_consent_updated_at = stamp
    customers[0].sms_marketing_consent_updated_at = stamp
    session.flush()
    chosen = {"sms": ["subscribed", "unsubscribed"], "email": ["subscribed"]}
    params = listing.parse_query(MultiDict(_pairs(chosen))).to_json()
    expected = expected_ids(session, shop, chosen)
    assert customers[0].id in expected
    assert listing.count_matching(session, shop, params) == len(expected)
    job = BulkJob(id=0, shop_id=shop.id, kind="export", params=params)
    text = b"".join(bulk.ExportStream(session, shop, job, server_side=False)).decode()
    lines = text.splitlines()
    header = lines[0].split(",")
    assert header[5:9] == [
        "Email marketing",
        "Email marketing updated",
        "SMS marketing",
        "SMS marketing updated",
    ]
    assert header[-1] == "Shopify customer ID"  # the erasure scan reads the last cell
    rows = [line.split(",") for line in lines[1:]]
    by_id = {int(r[-1]): r for r in rows}
    wanted = {session.get(Customer, i).shopify_id for i in expected}
    assert set(by_id) == wanted
    first = by_id[customers[0].shopify_id]
    assert first[5:9] == ["Subscribed", "2026-03-04", "Unsubscribed", "2026-03-04"]
    for r in rows:
        assert r[5] == "Subscribed" and r[7] in ("Subscribed", "Unsubscribed")
    if session.get_bind().dialect.name == "postgresql":  # COPY writes the same cells
        copied = b"".join(bulk.ExportStream(session, shop, job, server_side=True)).decode()
        assert sorted(copied.splitlines()) == sorted(lines)


def test_an_export_stored_before_the_categories_still_reads_its_filter(session):
    shop = factories.shop(session)
    population(session, shop, 30)
    assert listing.count_matching(session, shop, {"shopify": "member"}) == len(
        expected_ids(session, shop, {"shopify": ["member"]})
    )
