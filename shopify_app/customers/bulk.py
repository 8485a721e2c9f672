"""Bulk work from the Customers page, as jobs with progress (C2 invite, C3 export).

A job is stored first (once per `request_key`, so a double click starts one job) and run by a
worker after commit. Invitations go a chunk at a time, each chunk committed with the job's
cursor, so a killed worker resumes where it stopped and nobody is invited twice (the email
itself is also once a day per customer). An export streams the matching rows straight into
a stored file (`shopify_app.storage`, in the database: the web reads what the worker wrote
on another host): constant memory at any size; if the worker dies it is written again from
the start, into a new file that only replaces the download when complete.
"""

from __future__ import annotations

import csv
import functools
import io
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Numeric, String, case, cast, func, literal, select
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.audit import record_audit
from shopify_app.db import insert_ignore, int_param
from shopify_app.i18n import N_
from shopify_app.models import Advocate, BulkJob, Customer, Redaction, Shop, utcnow
from shopify_app.models.customer import BUCKET_LABELS, BUCKET_NAMES, MARKETING_BUCKETS
from shopify_app.referrals import advocates
from shopify_app.storage import DatabaseStorage, FileInfo
from shopify_app.values import minor_units, money_text

from . import listing

KINDS = ("invite", "export")
INVITE_CHUNK = 200
EXPORT_PROGRESS_EVERY = 20_000
EXPORT_BATCH = 5000
MAX_SELECTED = 500
STALE_AFTER = timedelta(minutes=3)
MAX_ATTEMPTS = 5
SKIP_LABELS = {
    "joined": N_("already joined"),
    "no_email": N_("no email address"),
    "no_consent": N_("no email marketing consent"),
    "unsubscribed": N_("unsubscribed from email marketing"),
    "suppressed": N_("on the suppression list"),
    "erased": N_("erased or deleted"),
    "invited_today": N_("already invited today"),
}
EXPORT_HEADER = (
    "Name",
    "Email",
    "Phone",
    "Shopify status",
    "Program status",
    "Email marketing",
    "Email marketing updated",
    "SMS marketing",
    "SMS marketing updated",
    "Referral code",
    "Successful referrals",
    "Total referees",
    "Referral revenue",
    "Referrer revenue",
    "Referee revenue",
    "Currency",
    "Customer since",
    "Shopify customer ID",
)
# Shopify's marketing states as the filters' buckets (models/customer.py MARKETING_BUCKETS).
CONSENT_LABELS = {state: BUCKET_LABELS[BUCKET_NAMES[b]] for state, b in MARKETING_BUCKETS.items()}
NOT_SUBSCRIBED_LABEL = BUCKET_LABELS["not_subscribed"]
EXPORT_PREFIX = "exports/"
EXPORT_CONTENT_TYPE = "text/csv; charset=utf-8"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMULA_STARTS = frozenset(FORMULA_PREFIXES)


class BulkRefused(ValueError):
    """The job cannot start; the message says why."""


def start_job(
    session: Session,
    shop: Shop,
    *,
    kind: str,
    params: dict[str, Any],
    actor: str,
    request_key: str,
) -> tuple[BulkJob, bool]:
    """Store the job (or find the one this request key already made) and run it after
    commit. Returns (job, newly started)."""
    if kind not in KINDS:
        raise BulkRefused(_("unknown job %(kind)s", kind=kind))
    ids = params.get("ids")
    if ids is not None:
        if not ids:
            raise BulkRefused(_("select at least one customer, or choose all that match"))
        if len(ids) > MAX_SELECTED:
            raise BulkRefused(
                _("select at most %(count)s customers, or choose all", count=MAX_SELECTED)
            )
    total = len(ids) if ids is not None else listing.count_matching(session, shop, params)
    now = utcnow()
    key = (request_key or secrets.token_hex(16))[:64]
    new_id = insert_ignore(
        session,
        BulkJob,
        {
            "shop_id": shop.id,
            "kind": kind,
            "status": "queued",
            "request_key": key,
            "actor": actor[:255],
            "params": params,
            "total": total,
            "processed": 0,
            "attempts": 0,
            "outcome": {},
            "created_at": now,
        },
        ["shop_id", "request_key"],
    )
    job = session.scalar(
        select(BulkJob).where(BulkJob.shop_id == shop.id, BulkJob.request_key == key)
    )
    assert job is not None
    if new_id is not None:
        record_audit(
            session,
            shop,
            actor=actor,
            action=f"customers.{kind}",
            subject_type="bulk_job",
            subject_id=job.id,
            after={"filter": _describe(params), "customers": total},
        )
        jobs.enqueue_after_commit(session, jobs.RUN_BULK_JOB, job.id)
    return job, new_id is not None


def _describe(params: dict[str, Any]) -> dict[str, Any]:
    if params.get("ids") is not None:
        return {"selected": len(params["ids"])}
    return {k: v for k, v in params.items() if v}


def job_for(session: Session, shop: Shop, job_id: int) -> BulkJob | None:
    return session.scalar(select(BulkJob).where(BulkJob.id == job_id, BulkJob.shop_id == shop.id))


@functools.lru_cache(maxsize=8)
def _recent_jobs_statement(limit: int):
    """Built once per size: the Customers page asks on every view."""
    return (
        select(BulkJob)
        .where(BulkJob.shop_id == int_param("shop_id"))
        .order_by(BulkJob.created_at.desc(), BulkJob.id.desc())
        .limit(limit)
    )


def recent_jobs(session: Session, shop: Shop, limit: int = 5) -> list[BulkJob]:
    return list(session.scalars(_recent_jobs_statement(limit), {"shop_id": shop.id}))


def run_invite(session: Session, shop: Shop, job: BulkJob, *, join_url: str, offer: str) -> BulkJob:
    """Invite every customer of the job not yet done, committing each chunk with the cursor."""
    after_id = int((job.cursor or {}).get("after_id", 0))
    chunks = listing.iter_matching(session, shop, job.params, after_id=after_id, chunk=INVITE_CHUNK)
    for chunk in chunks:
        outcome = dict(job.outcome or {})
        for customer in chunk:
            try:
                queued = advocates.invite(
                    session, shop, customer, actor=job.actor, join_url=join_url, offer=offer
                )
                code = "invited" if queued else "invited_today"
            except advocates.InvitationRefused as exc:
                code = exc.code
            outcome[code] = outcome.get(code, 0) + 1
        if chunk:
            job.cursor = {"after_id": chunk[-1].id}
        job.outcome = outcome
        job.processed = sum(outcome.values())
        job.heartbeat_at = utcnow()
        session.commit()
    job.total = max(job.total, job.processed)
    return job


def _export_batches(session: Session, shop: Shop, params: dict[str, Any]) -> Iterator[list]:
    """The export's rows for `_csv_row`, a batch at a time, as the driver's plain tuples:
    building SQLAlchemy rows for a million customers took longer than fetching them (4.1 s
    against 1.8 s on SQLite)."""
    stmt = select(
        Customer.first_name,
        Customer.last_name,
        Customer.email,
        Customer.phone,
        Customer.account_state,
        Customer.program_joined,
        Customer.id,
        Customer.successful_referrals,
        Customer.total_referees,
        Customer.referral_revenue_minor,
        Customer.referrer_revenue_minor,
        Customer.referee_revenue_minor,
        # The date as text from the database: parsing a million timestamps is slow.
        func.substr(cast(Customer.customer_since, String), 1, 10),
        Customer.shopify_id,
        Customer.email_marketing_state,
        func.substr(cast(Customer.email_marketing_consent_updated_at, String), 1, 10),
        Customer.sms_marketing_state,
        func.substr(cast(Customer.sms_marketing_consent_updated_at, String), 1, 10),
    ).where(*listing.matching_filter(session, shop, params))
    # No ORDER BY: the table's own order, so neither database sorts a million rows.
    raw = session.connection().connection.driver_connection
    # PostgreSQL's drivers fetch a whole result unless the cursor is named (server-side).
    postgres = session.get_bind().dialect.name == "postgresql"
    cursor = raw.cursor("customers_export") if postgres else raw.cursor()
    try:
        cursor.execute(_literal_sql(session, stmt))
        while batch := cursor.fetchmany(EXPORT_BATCH):
            yield batch
    finally:
        cursor.close()


def _export_codes(session: Session, shop: Shop) -> dict[int, str]:
    """The advocates' codes by customer id, up front (a few percent of customers): no join
    per row."""
    return dict(
        session.execute(
            select(Advocate.customer_id, Advocate.code).where(Advocate.shop_id == shop.id)
        ).all()
    )


def _literal_sql(session: Session, stmt) -> str:
    """The statement's SQL with its values written in, for the driver itself (COPY takes no
    parameters). Only for statements whose values are integers and codes we chose."""
    return str(
        stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    )


def _copy_select(session: Session, shop: Shop, params: dict[str, Any], currency: str):
    """The export as one SELECT whose columns are the finished CSV cells, for PostgreSQL's
    COPY: the same cells `_csv_row` makes (tests compare the two), formatted by the server."""

    def safe(expr):
        text = func.nullif(func.coalesce(expr, ""), "")
        return case(
            (func.substr(text, 1, 1).in_(FORMULA_PREFIXES), func.concat("'", text)), else_=text
        )

    digits = minor_units(currency)

    def money(column):
        if not digits:
            return cast(column, String)
        return cast(func.round(cast(column, Numeric) / 10**digits, digits), String)

    name = func.concat_ws(
        " ", func.nullif(Customer.first_name, ""), func.nullif(Customer.last_name, "")
    )

    def consent(column):
        labels = [(column == state, label) for state, label in CONSENT_LABELS.items()]
        return case(*labels, else_=NOT_SUBSCRIBED_LABEL)

    return (
        select(
            safe(name),
            safe(Customer.email),
            safe(Customer.phone),
            case((Customer.account_state == "enabled", "Member"), else_="Guest"),
            case((Customer.program_joined, "Joined"), else_="Not joined"),
            consent(Customer.email_marketing_state),
            func.to_char(Customer.email_marketing_consent_updated_at, "YYYY-MM-DD"),
            consent(Customer.sms_marketing_state),
            func.to_char(Customer.sms_marketing_consent_updated_at, "YYYY-MM-DD"),
            safe(Advocate.code),
            Customer.successful_referrals,
            Customer.total_referees,
            money(Customer.referral_revenue_minor),
            money(Customer.referrer_revenue_minor),
            money(Customer.referee_revenue_minor),
            literal(currency, String),
            func.to_char(Customer.customer_since, "YYYY-MM-DD"),
            Customer.shopify_id,
        )
        .outerjoin(Advocate, (Advocate.customer_id == Customer.id) & (Advocate.shop_id == shop.id))
        .where(*listing.matching_filter(session, shop, params))
    )


def _report(on_progress, before: int, after: int) -> None:
    """Tell `on_progress` each time the count passes another EXPORT_PROGRESS_EVERY rows."""
    if on_progress and after // EXPORT_PROGRESS_EVERY > before // EXPORT_PROGRESS_EVERY:
        on_progress(after)


def _copy_chunks(session: Session, stmt, on_progress) -> Iterator[bytes]:
    """Stream `COPY (stmt) TO STDOUT (FORMAT csv)`: the server writes the CSV, this process
    only moves bytes. The statement holds only integers and the currency code, rendered as
    literals (COPY takes no parameters). Yields the bytes; returns the row count."""
    sql = _literal_sql(session, stmt)
    raw = session.connection().connection.driver_connection
    lines = 0
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for chunk in copy:
                data = bytes(chunk)
                yield data
                before, lines = lines, lines + data.count(b"\n")
                _report(on_progress, before, lines)
        return cursor.rowcount


def export_key(job: BulkJob) -> str:
    """Where the job's CSV is stored (within its shop)."""
    return f"{EXPORT_PREFIX}customers-{job.id}.csv"


def _money_formatter(currency: str):
    """`money_text` for one currency, with a shortcut for the zeros most rows have."""
    zero = money_text(0, currency)
    return lambda minor: money_text(minor, currency) if minor else zero


def _csv_row(r: tuple, codes: dict[int, str], money, currency: str) -> list[Any]:
    """One customer as a CSV row (None is written as an empty cell). A text cell a
    spreadsheet would run as a formula gets a leading apostrophe (OWASP's advice against CSV
    injection); numbers stay numbers."""
    first, last, email, phone, state, joined, customer_id = r[:7]
    name = f"{first} {last}" if first and last else first or last
    code = codes.get(customer_id)
    return [
        "'" + name if name and name[0] in FORMULA_STARTS else name,
        "'" + email if email and email[0] in FORMULA_STARTS else email,
        "'" + phone if phone and phone[0] in FORMULA_STARTS else phone,
        "Member" if state == "enabled" else "Guest",
        "Joined" if joined else "Not joined",
        CONSENT_LABELS.get(r[14], NOT_SUBSCRIBED_LABEL),
        r[15],
        CONSENT_LABELS.get(r[16], NOT_SUBSCRIBED_LABEL),
        r[17],
        "'" + code if code and code[0] in FORMULA_STARTS else code,
        r[7],
        r[8],
        money(r[9]),
        money(r[10]),
        money(r[11]),
        currency,
        r[12],
        r[13],
    ]


def _rows_text(batch: list, codes: dict[int, str], money, currency: str) -> str:
    """A batch of rows as COPY writes them: a cell is quoted when it holds a quote, comma, LF
    or CR. Python's writer, ending lines with LF, leaves a bare CR unquoted, and any reader
    then splits the row there; so a batch with a CR in it (a text cell's: only they can
    hold one) is written again by a writer that quotes CR too. Rows are made as they are
    written (a generator): a batch of row lists kept alive would slow every GC pass."""
    lines: list[str] = []  # a writer writes each row in one call

    def written(terminator: str) -> None:
        writer = csv.writer(SimpleNamespace(write=lines.append), lineterminator=terminator)
        writer.writerows(_csv_row(r, codes, money, currency) for r in batch)

    written("\n")
    text = "".join(lines)
    if "\r" in text:
        lines.clear()
        written("\r\n")
        text = "".join(line[:-2] + "\n" for line in lines)
    return text


class ExportStream:
    """The job's customers as CSV bytes, streamed: iterate it once; `rows` then says how
    many rows it held. PostgreSQL writes the CSV itself (COPY) unless `server_side` is
    False; SQLite's rows are formatted here. `on_progress(rows)` now and then."""

    def __init__(
        self,
        session: Session,
        shop: Shop,
        job: BulkJob,
        *,
        on_progress=None,
        server_side: bool | None = None,
    ):
        self.session, self.shop, self.job = session, shop, job
        self.on_progress = on_progress
        if server_side is None:
            server_side = session.get_bind().dialect.name == "postgresql"
        self.server_side = server_side
        self.rows = 0

    def __iter__(self) -> Iterator[bytes]:
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow(EXPORT_HEADER)  # as COPY ends lines
        yield header.getvalue().encode()
        currency = self.shop.currency or "USD"
        if self.server_side:
            stmt = _copy_select(self.session, self.shop, self.job.params, currency)
            self.rows = yield from _copy_chunks(self.session, stmt, self.on_progress)
            return
        money = _money_formatter(currency)
        codes = _export_codes(self.session, self.shop)
        for batch in _export_batches(self.session, self.shop, self.job.params):
            yield _rows_text(batch, codes, money, currency).encode()
            before, self.rows = self.rows, self.rows + len(batch)
            _report(self.on_progress, before, self.rows)


def write_export(
    session: Session,
    shop: Shop,
    job: BulkJob,
    store: DatabaseStorage,
    *,
    expires_at: datetime | None = None,
    on_progress=None,
    server_side: bool | None = None,
) -> tuple[FileInfo, int]:
    """Stream the job's customers into an unpublished stored file (`store.publish` makes
    it the download). Returns (file, rows written)."""
    stream = ExportStream(session, shop, job, on_progress=on_progress, server_side=server_side)
    file = store.write(
        shop.id, export_key(job), stream, content_type=EXPORT_CONTENT_TYPE, expires_at=expires_at
    )
    return file, stream.rows


# Longer than any export row (names 2 x 255, email 320, phone 32, code 32, numbers).
_ROW_WINDOW = 4096


def _personal_row(window: bytes, needle: bytes, seen: int) -> bool:
    """Does `window` hold a row ending in `needle` with a name, email or phone in it, one
    not wholly within its first `seen` bytes (read in the previous window)? A redacted
    customer's row is still exported, anonymous: it starts with three empty cells. (A cell
    holding a line break is quoted, so the text after one starts with a quote or another
    cell's text, never with three bare commas.)"""
    start = max(0, seen - len(needle) + 1)
    while (at := window.find(needle, start)) != -1:
        line_start = window.rfind(b"\n", 0, at)
        if line_start == -1 and seen:
            return True  # the row began before the window: assume the worst
        if not window[line_start + 1 : at].startswith(b",,,"):
            return True
        start = at + 1
    return False


def file_has_personal_rows(store: DatabaseStorage, file: FileInfo, shopify_ids: set[int]) -> bool:
    """Does the export file hold a row with the personal data of one of these customers?
    A row's last cell is the customer's Shopify id. Streams the file."""
    needles = [b",%d\n" % i for i in shopify_ids]
    tail = b""
    for chunk in store.read(file):
        window = tail + chunk
        if any(_personal_row(window, n, len(tail)) for n in needles):
            return True
        tail = window[-_ROW_WINDOW:]
    return False


def erase_exports_of(
    session: Session, shop: Shop, store: DatabaseStorage, shopify_ids: set[int]
) -> int:
    """Delete every export of the shop that holds a row of these customers (in the
    caller's transaction, which has locked the shop: see `lock_exports`). Returns how
    many."""
    erased = 0
    for file in store.files(session, shop.id, EXPORT_PREFIX):
        if file_has_personal_rows(store, file, shopify_ids):
            store.delete(session, file)
            erased += 1
    return erased


def lock_exports(session: Session, shop: Shop) -> None:
    """Serialise publishing an export with erasing a customer from the shop's exports: the
    shop's row, locked for the rest of the transaction (SQLite has one writer anyway). An
    export published first is then seen by the erasure; one published after sees the
    erasure's `redactions` row and checks itself (`publish_export`)."""
    session.execute(select(Shop.id).where(Shop.id == shop.id).with_for_update())


def publish_export(session: Session, shop: Shop, store: DatabaseStorage, file: FileInfo) -> bool:
    """Make the written export the job's download, unless a customer erased since its
    writing began is in it: then it is deleted instead (the job writes it again). Returns
    whether it was published; the caller commits."""
    store.publish(session, file)  # a write first: on SQLite, that waits for an erasure
    lock_exports(session, shop)
    erased = set(
        session.scalars(
            select(Redaction.shopify_id).where(
                Redaction.shop_id == shop.id,
                Redaction.resource == "customer",
                # taken when the erasure's transaction began, which may be a while
                # before it committed: look well back (an anonymous row never matches)
                Redaction.redacted_at >= file.created_at - timedelta(hours=1),
            )
        )
    )
    if erased and file_has_personal_rows(store, file, erased):
        store.delete(session, file)
        return False
    return True


def stale_jobs(session: Session, limit: int = 100) -> list[int]:
    """Jobs queued or running whose worker has gone quiet (killed, or Redis lost the job)."""
    cutoff = utcnow() - STALE_AFTER
    return list(
        session.scalars(
            select(BulkJob.id)
            .where(
                BulkJob.status.in_(("queued", "running")),
                ((BulkJob.heartbeat_at.is_(None)) & (BulkJob.created_at < cutoff))
                | (BulkJob.heartbeat_at < cutoff),
            )
            .limit(limit)
        )
    )
