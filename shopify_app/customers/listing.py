"""The Customers page's query (C1, E2): filters, search, sorts and keyset paging that stay
index-only at a million customers, with exact totals.

Filters are five categories (`CATEGORIES`), each multi-select: values within a category
combine with OR, categories with AND. Every sort key has an index on
(shop_id, list_segment, key, id), and `list_segment` is the combination of the five
categories (models/customer.py), so a view's filters pick a set of segments; the shop's
kept counts (`customer_counts`) say which of them hold anyone and how many. Each non-empty
segment is one index range read in order, and the ranges are merged (UNION ALL ... ORDER BY
... LIMIT), so a page reads about `size` rows per segment whatever the shop's size. The
total is the sum of the picked segments' counts. A search takes at most `SEARCH_CAP`
matches per field from prefix ranges on indexed keys and sorts and pages their union in
the same statement, which also counts them.

Search compares code points: prefix ranges assume the database orders text by code point
(SQLite always does; PostgreSQL with the C or C.UTF-8 collation, which `make dev` and CI use).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import (
    and_,
    bindparam,
    func,
    literal_column,
    select,
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from shopify_app.db import CompiledText, int_param, unindexed
from shopify_app.models import Customer, CustomerCount, Shop
from shopify_app.models.customer import (
    BUCKET_LABELS,
    BUCKET_NAMES,
    SEGMENTS,
    CustomerLabels,
    search_key,
    segment_parts,
)
from shopify_app.referrals.identity import canonical_phone

PAGE_SIZE = 50
SEARCH_CAP = 300
MAX_QUERY = 200
TOP = "\U0010ffff"

# URL value -> (column, label). `-key` sorts descending.
SORTS: dict[str, tuple[str, str]] = {
    "name": ("sort_name", "Name"),
    "since": ("customer_since", "Customer since"),
    "referrals": ("successful_referrals", "Successful referrals"),
    "referrer_revenue": ("referrer_revenue_minor", "Referrer revenue"),
    "referee_revenue": ("referee_revenue_minor", "Referee revenue"),
}
DEFAULT_SORT = "-since"
MAX_FILTER_VALUES = 20  # per category in a URL; more is not a view a page makes


@dataclass(frozen=True)
class Category:
    """A filter category: its URL parameter, heading, and values (URL value -> label)."""

    key: str
    label: str
    values: dict[str, str]

    def value_of(self, segment: int) -> str:
        """The value of this category a segment number stands for."""
        parts = segment_parts(segment)
        if self.key in ("email", "sms"):
            return BUCKET_NAMES[int(parts[self.key])]
        yes, no = list(self.values)
        flag = {"shopify": "member", "program": "joined", "referrals": "referrals"}[self.key]
        return yes if parts[flag] else no


CATEGORIES: tuple[Category, ...] = (
    Category("email", "Email marketing", dict(BUCKET_LABELS)),
    Category("sms", "SMS marketing", dict(BUCKET_LABELS)),
    Category("shopify", "Shopify status", {"member": "Member", "guest": "Guest"}),
    Category("program", "Program", {"joined": "Joined", "not_joined": "Not joined"}),
    Category(
        "referrals",
        "Referrals",
        {"has": "Has successful referrals", "none": "No successful referrals"},
    ),
)
CATEGORY = {c.key: c for c in CATEGORIES}


def _segment_values() -> dict[int, dict[str, str]]:
    return {s: {c.key: c.value_of(s) for c in CATEGORIES} for s in SEGMENTS}


SEGMENT_VALUES = _segment_values()


@dataclass(frozen=True)
class Cursor:
    value: Any
    id: int


Filters = tuple[tuple[str, tuple[str, ...]], ...]


def make_filters(chosen: Mapping[str, Any]) -> Filters:
    """{category: values} as the query keeps them: known values only, in the category's own
    order, and a category left out when it selects nothing or everything (no restriction)."""
    out = []
    for category in CATEGORIES:
        raw = chosen.get(category.key) or ()
        picked = {raw} if isinstance(raw, str) else set(raw)
        values = tuple(v for v in category.values if v in picked)
        if values and len(values) < len(category.values):
            out.append((category.key, values))
    return tuple(out)


@dataclass(frozen=True)
class ListQuery:
    q: str = ""
    filters: Filters = ()
    sort: str = DEFAULT_SORT
    after: Cursor | None = None
    before: Cursor | None = None

    @property
    def chosen(self) -> dict[str, tuple[str, ...]]:
        return dict(self.filters)

    def chips(self) -> list[tuple[str, str, str]]:
        """The applied filters as (category, value, label), for removable chips; the label in
        the page's language (the words are in `i18n.VOCABULARY`)."""
        return [
            (key, value, f"{gettext(CATEGORY[key].label)}: {gettext(CATEGORY[key].values[value])}")
            for key, values in self.filters
            for value in values
        ]

    def without(self, category: str, value: str | None = None) -> dict[str, Any]:
        """This view's URL parameters with one filter value (or a whole category) removed."""
        chosen = dict(self.chosen)
        if value is None:
            chosen.pop(category, None)
        else:
            chosen[category] = tuple(v for v in chosen.get(category, ()) if v != value)
        return self.params(filters=make_filters(chosen))

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    @property
    def column(self):
        return getattr(Customer, SORTS[self.sort_key][0])

    @property
    def segments(self) -> tuple[int, ...]:
        """The segment numbers this view's filters select (OR within, AND across)."""
        return _segments_for(self.filters)

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.filters)

    def params(self, **changes: Any) -> dict[str, str]:
        """This view as URL parameters (without defaults), with `changes` applied; paging
        cursors are dropped unless given. A category's values go as one comma list."""
        view = replace(self, after=None, before=None)
        for key, value in changes.items():
            view = replace(view, **{key: value})
        out = {
            "q": view.q,
            **{key: ",".join(values) for key, values in view.filters},
            "sort": "" if view.sort == DEFAULT_SORT else view.sort,
            "after": encode_cursor(view.after) if view.after else "",
            "before": encode_cursor(view.before) if view.before else "",
        }
        return {k: v for k, v in out.items() if v}

    def to_json(self) -> dict[str, Any]:
        """What a bulk job needs to walk the same set of customers."""
        return {"q": self.q, **{key: list(values) for key, values in self.filters}}


@functools.lru_cache(maxsize=512)
def _segments_for(filters: Filters) -> tuple[int, ...]:
    return tuple(
        s
        for s, values in SEGMENT_VALUES.items()
        if all(values[key] in chosen for key, chosen in filters)
    )


def encode_cursor(cursor: Cursor) -> str:
    value = cursor.value.isoformat() if isinstance(cursor.value, datetime) else cursor.value
    raw = json.dumps([value, cursor.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None, sort_key: str) -> Cursor | None:
    """The cursor in a URL, or None for anything malformed (the view falls back to page 1)."""
    if not text or len(text) > 700:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value, row_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        return None
    if not isinstance(row_id, int) or isinstance(row_id, bool):
        return None
    column = SORTS[sort_key][0]
    if column == "sort_name":
        ok = isinstance(value, str)
    elif column == "customer_since":
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return None
        ok = True
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        ok = isinstance(value, int) and not isinstance(value, bool)
    return Cursor(value, row_id) if ok else None


def _all_values(args: Mapping[str, Any], key: str) -> list[str]:
    """A parameter's values: repeated (`email=a&email=b`), comma lists (`email=a,b`), both,
    or a list (a bulk job's stored view). Anything that is not text is dropped."""
    getlist = getattr(args, "getlist", None)
    raw = getlist(key) if getlist is not None else args.get(key)
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list | tuple) else []
    values = [v for item in items if isinstance(item, str) for v in item.split(",")]
    return [v.strip() for v in values[:MAX_FILTER_VALUES]]


def parse_query(args: Mapping[str, Any]) -> ListQuery:
    """The view in the URL; anything unknown or malformed is ignored (the default view)."""
    sort = args.get("sort") or DEFAULT_SORT
    if not isinstance(sort, str) or sort.lstrip("-") not in SORTS or sort.count("-") > 1:
        sort = DEFAULT_SORT
    key = sort.lstrip("-")
    after = decode_cursor(_text(args.get("after")), key)
    before = None if after else decode_cursor(_text(args.get("before")), key)
    return ListQuery(
        q=" ".join(_text(args.get("q")).split())[:MAX_QUERY],
        filters=make_filters({c.key: _all_values(args, c.key) for c in CATEGORIES}),
        sort=sort,
        after=after,
        before=before,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(slots=True)
class ListedCustomer(CustomerLabels):
    """A row of the Customers table: the columns it shows and sorts by, not the whole
    customer (the page's statement reads a third of the columns and builds no ORM
    instances)."""

    id: int
    shopify_id: int | None
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    account_state: str | None
    program_joined: bool
    email_marketing_state: str | None
    sms_marketing_state: str | None
    redacted_at: datetime | None
    sort_name: str
    customer_since: datetime
    successful_referrals: int
    referrer_revenue_minor: int
    referee_revenue_minor: int


LISTED_COLUMNS = tuple(getattr(Customer, f) for f in ListedCustomer.__dataclass_fields__)


@dataclass
class Page:
    query: ListQuery
    customers: list[ListedCustomer]
    total: int
    capped: bool  # a search matched more than SEARCH_CAP in some field: refine it
    next_cursor: Cursor | None
    prev_cursor: Cursor | None


def segment_totals(session: Session, shop: Shop) -> dict[int, int]:
    rows = session.execute(
        select(CustomerCount.segment, func.sum(CustomerCount.n))
        .where(CustomerCount.shop_id == shop.id)
        .group_by(CustomerCount.segment)
    )
    return {int(segment): int(n or 0) for segment, n in rows}


def _prefix(column, text: str):
    return (column >= text, column < text + TOP)


def _search_terms(text: str) -> list[tuple[Any, str]]:
    """(indexed column, prefix) pairs a search reads: name, last name, email, and the phone
    when the text looks like one. Empty when the text has nothing to search for."""
    key = search_key(text, 255)
    if key is None:
        return []
    terms = [(Customer.sort_name, key), (Customer.last_name_key, key), (Customer.email_key, key)]
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= 4 and len(digits) >= len(text.replace(" ", "")) - 4:
        terms.append((Customer.phone, canonical_phone(text) or "+" + digits))
    return terms


def search_candidates(
    session: Session, shop: Shop, text: str, segments: list[int], sort_column=None
) -> tuple[dict[int, Any], bool]:
    """Customers whose name, last name, email or phone starts with `text` (at most
    SEARCH_CAP per field) as {id: value of `sort_column`}, and whether some field had more.

    For bulk jobs (every match, by id); the page reads its own page of them in SQL
    (`_search_page`)."""
    terms = _search_terms(text)
    if not terms or not segments:
        return {}, False
    column = Customer.id if sort_column is None else sort_column
    base = (Customer.shop_id == shop.id, Customer.list_segment.in_(segments))
    found: dict[int, Any] = {}
    capped = False
    for field, prefix in terms:
        rows = session.execute(
            select(Customer.id, column).where(*base, *_prefix(field, prefix)).limit(SEARCH_CAP + 1)
        ).all()
        capped = capped or len(rows) > SEARCH_CAP
        found.update((row[0], row[1]) for row in rows[:SEARCH_CAP])
    return found, capped


def _direction(query: ListQuery) -> tuple[bool, Cursor | None]:
    """(whether rows are read in descending order, the cursor they are read past): a page
    before a cursor is read backwards from it and reversed afterwards."""
    backwards = query.before is not None
    return query.descending != backwards, query.before or query.after


def _params(shop: Shop, cursor: Cursor | None, **more: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"shop_id": shop.id, **more}
    if cursor is not None:
        params |= {"cursor_value": cursor.value, "cursor_id": cursor.id}
    return params


def _ordering(key, row_id, descending: bool) -> tuple:
    return (key.desc(), row_id.desc()) if descending else (key, row_id)


def _past_cursor(key, row_id, key_type, descending: bool):
    """(key, id) past the `cursor_value`/`cursor_id` bind parameters, in the reading order."""
    position = tuple_(key, row_id)
    mark = tuple_(bindparam("cursor_value", type_=key_type), int_param("cursor_id"))
    return position < mark if descending else position > mark


def _const(value: int):
    """An integer written into the SQL, not bound: the statements are cached per value
    anyway, and PostgreSQL's reusable (generic) plan for a prepared statement must know it:
    it estimates a bound LIMIT at a tenth of the table and a bound segment as any segment."""
    return literal_column(str(int(value)))


def _consts(values) -> list:
    return [_const(v) for v in values]


def _with_totals(totals, page, descending: bool):
    """`totals` (one row) LEFT JOIN the `page` of (id, k) with the rows of its customers, in
    the page's order: the numbers come back even when the page is empty, and the whole view
    is one statement, one round trip. The shop stays out of index choice (`unindexed`): the
    join reads the page's rows by primary key."""
    rows = page.join(
        Customer,
        and_(
            Customer.id == page.c.id,
            unindexed(Customer.shop_id) == int_param("shop_id"),
        ),
    )
    return (
        select(*totals.c, *LISTED_COLUMNS)
        .select_from(totals.outerjoin(rows, true()))
        .order_by(*_ordering(page.c.k, page.c.id, descending))
    )


def _dialect(session: Session) -> Any:
    return session.get_bind().dialect


def _split(rows: list[tuple], width: int) -> tuple[tuple, list[ListedCustomer]]:
    """(the totals, the page's customers) of a `_with_totals` statement's rows."""
    customers = [ListedCustomer(*row[width:]) for row in rows if row[width] is not None]
    return tuple(rows[0][:width]), customers


@functools.lru_cache(maxsize=64)
def _search_branches(fields: tuple[str, ...], segments: tuple[int, ...], sort_key: str):
    """One prefix range per searched field, as (id, sort value): at most SEARCH_CAP + 1
    entries each, the one past the cap telling that the field has more."""
    column = getattr(Customer, SORTS[sort_key][0])
    return [
        select(Customer.id.label("id"), column.label("k"))
        .where(
            Customer.shop_id == int_param("shop_id"),
            Customer.list_segment.in_(_consts(segments)),
            getattr(Customer, field) >= bindparam(f"lo_{n}"),
            getattr(Customer, field) < bindparam(f"hi_{n}"),
        )
        .limit(_const(SEARCH_CAP + 1))
        for n, field in enumerate(fields)
    ]


@functools.lru_cache(maxsize=256)
def _search_text(dialect: Any, *shape: Any) -> CompiledText:
    return CompiledText.of(_search_statement(*shape), dialect)


def _search_statement(
    fields: tuple[str, ...],
    segments: tuple[int, ...],
    sort_key: str,
    descending: bool,
    with_cursor: bool,
    limit: int,
):
    """A search's page, its number of matches and its largest field, in one statement.

    Each field's prefix range reads at most SEARCH_CAP + 1 entries (index-only on PostgreSQL,
    migration 0007), numbered; the matches are the first SEARCH_CAP of each field, distinct.
    A field that reached SEARCH_CAP + 1 means "type more". The ranges are read once
    (a materialized CTE) for the count, the cap and the page, so the three agree.
    """
    numbered = [
        select(b.c.id, b.c.k, func.row_number().over().label("n"))
        for b in (branch.subquery() for branch in _search_branches(fields, segments, sort_key))
    ]
    hits = union_all(*numbered).cte("hits").prefix_with("MATERIALIZED")
    matches = (
        select(hits.c.id, hits.c.k).where(hits.c.n <= _const(SEARCH_CAP)).distinct().cte("matches")
    )
    totals = select(
        select(func.count()).select_from(matches).scalar_subquery().label("total"),
        select(func.max(hits.c.n)).scalar_subquery().label("most"),
    ).subquery("totals")
    page = select(matches.c.id, matches.c.k)
    if with_cursor:
        key_type = getattr(Customer, SORTS[sort_key][0]).type
        page = page.where(_past_cursor(matches.c.k, matches.c.id, key_type, descending))
    page = page.order_by(*_ordering(matches.c.k, matches.c.id, descending)).limit(_const(limit))
    return _with_totals(totals, page.subquery("page"), descending)


# The page's statements write their segments and limits into the SQL and bind only the
# shop, the cursor and a search's prefixes, so the reusable (generic) plan of a prepared
# statement is the plan PostgreSQL would make for any of them: each branch reads one index
# range whatever the values. Left to choose, PostgreSQL plans a statement five times before
# it trusts the generic plan (and every search again: its cost estimate for an unknown
# prefix is higher than for a broad one like "ada"); a view merging 54 segments takes 4 ms
# to plan against 2 ms to run. For this transaction only.
_REUSE_PLANS = text("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")


@contextmanager
def _prepared_at_once(session: Session, wanted: bool) -> Iterator[None]:
    """On PostgreSQL, the page's statement uses its generic plan and is prepared at its
    first execution on the connection. psycopg prepares a statement only once it has run it
    `prepare_threshold` (5) times, so each view's first five requests on a connection were
    planned in full (4 ms for a 54-segment view): two of every 40 requests measured that,
    which was the gap between the page's p50 and p95."""
    if not wanted or session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.execute(_REUSE_PLANS)
    driver = session.connection().connection.driver_connection
    threshold = driver.prepare_threshold
    driver.prepare_threshold = 0
    try:
        yield
    finally:
        driver.prepare_threshold = threshold


def _search_page(
    session: Session, shop: Shop, query: ListQuery, segments: list[int], limit: int
) -> tuple[list[ListedCustomer], int, bool]:
    """(the page's customers, how many match, whether some field had more than the cap)."""
    terms = _search_terms(query.q)
    if not terms or not segments:
        return [], 0, False
    fields = tuple(field.key for field, _prefix in terms)
    prefixes = {}
    for n, (_field, prefix) in enumerate(terms):
        prefixes |= {f"lo_{n}": prefix, f"hi_{n}": prefix + TOP}
    descending, cursor = _direction(query)
    stmt = _search_text(
        _dialect(session),
        fields,
        tuple(segments),
        query.sort_key,
        descending,
        cursor is not None,
        limit,
    )
    (total, most), customers = _split(stmt.rows(session, _params(shop, cursor, **prefixes)), 2)
    return customers, total, (most or 0) > SEARCH_CAP


def _ordered_page(
    session: Session, shop: Shop, query: ListQuery, segments: list[int], limit: int
) -> tuple[list[ListedCustomer], int]:
    """(up to `limit` customers in the page's order after/before its cursor, how many the
    segments hold): one ordered index range per segment, merged, and the kept counts."""
    if not segments:
        return [], 0
    descending, cursor = _direction(query)
    stmt = _ordered_text(
        _dialect(session), query.sort_key, descending, tuple(segments), cursor is not None, limit
    )
    (total,), customers = _split(stmt.rows(session, _params(shop, cursor)), 1)
    return customers, int(total)


@functools.lru_cache(maxsize=256)
def _ordered_text(dialect: Any, *shape: Any) -> CompiledText:
    return CompiledText.of(_ordered_statement(*shape), dialect)


def _ordered_statement(
    sort_key: str, descending: bool, segments: tuple[int, ...], with_cursor: bool, limit: int
):
    """The page's statement for one shape of view, built and compiled once with bind
    parameters (`_ordered_text`; building it took longer than PostgreSQL took to run it)."""
    column = getattr(Customer, SORTS[sort_key][0])

    def ranged(segment: int):
        stmt = select(Customer.id.label("id"), column.label("k")).where(
            Customer.shop_id == int_param("shop_id"),
            Customer.list_segment == _const(segment),
        )
        if with_cursor:
            stmt = stmt.where(_past_cursor(column, Customer.id, column.type, descending))
        return stmt.order_by(*_ordering(column, Customer.id, descending)).limit(_const(limit))

    branches = [ranged(segment) for segment in segments]
    merged = (
        branches[0].subquery()
        if len(branches) == 1
        else union_all(*(select(b.subquery()) for b in branches)).subquery()
    )
    page = (
        select(merged.c.id, merged.c.k)
        .order_by(*_ordering(merged.c.k, merged.c.id, descending))
        .limit(_const(limit))
        .subquery("page")
    )
    totals = (
        select(func.coalesce(func.sum(CustomerCount.n), _const(0)).label("total"))
        .where(
            CustomerCount.shop_id == int_param("shop_id"),
            CustomerCount.segment.in_(_consts(segments)),
        )
        .subquery("totals")
    )
    return _with_totals(totals, page, descending)


def occupied(session: Session, shop: Shop, segments: tuple[int, ...]) -> tuple[list[int], int]:
    """(the segments among `segments` that hold anyone, how many they hold), from the kept
    counts: a page reads no index range that is known to be empty."""
    totals = segment_totals(session, shop)
    live = [s for s in segments if totals.get(s, 0) > 0]
    return live, sum(totals[s] for s in live)


def list_page(session: Session, shop: Shop, query: ListQuery, size: int = PAGE_SIZE) -> Page:
    segments, _total = occupied(session, shop, query.segments)
    capped = False
    with _prepared_at_once(session, bool(segments)):
        if query.q:
            customers, total, capped = _search_page(session, shop, query, segments, size + 1)
        else:
            customers, total = _ordered_page(session, shop, query, segments, size + 1)
    more = len(customers) > size
    customers = customers[:size]
    if query.before is not None:
        customers.reverse()

    def cursor_of(customer: ListedCustomer) -> Cursor:
        return Cursor(getattr(customer, SORTS[query.sort_key][0]), customer.id)

    if query.before is not None:
        prev_cursor = cursor_of(customers[0]) if more and customers else None
        next_cursor = cursor_of(customers[-1]) if customers else None
    else:
        next_cursor = cursor_of(customers[-1]) if more and customers else None
        prev_cursor = cursor_of(customers[0]) if query.after is not None and customers else None
    return Page(query, customers, total, capped, next_cursor, prev_cursor)


def _view_of(filters: Mapping[str, Any]) -> ListQuery:
    """A bulk job's stored filter (q and the categories' values, or the single `shopify` /
    `program` of jobs stored before the categories; perhaps ids) as a view."""
    return parse_query({k: v for k, v in filters.items() if k != "ids"})


def matching_filter(session: Session, shop: Shop, filters: Mapping[str, Any]) -> list:
    """WHERE conditions for every customer a bulk job covers: its selected ids, or everyone
    its filter and search match. `shop_id` and the segment stay out of index choice
    (`unindexed`): these queries walk the primary key."""
    view = _view_of(filters)
    listed = unindexed(Customer.list_segment)
    conditions = [
        unindexed(Customer.shop_id) == shop.id,
        listed.in_(view.segments) if view.filters else listed >= 0,
    ]
    if filters.get("ids") is not None:
        conditions.append(Customer.id.in_(sorted({int(i) for i in filters["ids"]})))
    elif view.q:
        found = search_candidates(session, shop, view.q, view.segments)[0]
        conditions.append(Customer.id.in_(sorted(found)))
    return conditions


def iter_matching(
    session: Session, shop: Shop, filters: Mapping[str, Any], *, after_id: int = 0, chunk: int
) -> Iterator[list[Customer]]:
    """Every customer the job covers, in id order from `after_id`, a chunk at a time (for
    bulk jobs: constant memory, resumable at the last id)."""
    conditions = matching_filter(session, shop, filters)
    while True:
        rows = list(
            session.scalars(
                select(Customer)
                .where(*conditions, Customer.id > after_id)
                .order_by(Customer.id)
                .limit(chunk)
            )
        )
        if not rows:
            return
        yield rows
        after_id = rows[-1].id


def count_matching(session: Session, shop: Shop, filters: Mapping[str, Any]) -> int:
    view = _view_of(filters)
    if view.q:
        return len(search_candidates(session, shop, view.q, view.segments)[0])
    totals = segment_totals(session, shop)
    return sum(totals.get(s, 0) for s in view.segments)
