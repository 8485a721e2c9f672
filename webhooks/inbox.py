"""The inbox: insert-or-ignore (a duplicate delivery is a no-op at the database) and the shop
id lookup, without the ORM or a pooled session on the acknowledgement path; listing and
replay for the CLI."""

from __future__ import annotations

import contextlib
import os
from functools import cache
from queue import Empty, SimpleQueue

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.db import insert_ignore_stmt
from shopify_app.models import Shop, WebhookDelivery, utcnow

from .headers import DeliveryHeaders

_DELIVERIES = WebhookDelivery.__table__
_SHOPS = Shop.__table__


def shop_id_for(engine: Engine, domain: str, cache: dict[str, int]) -> int:
    """The shop's id, creating a not-installed row on first contact. Ids never change, so a
    per-process cache is always right, and the database is asked only on a miss."""
    if domain in cache:
        return cache[domain]
    with engine.begin() as conn:
        shop_id = conn.scalar(select(_SHOPS.c.id).where(_SHOPS.c.domain == domain))
        if shop_id is None:
            now = utcnow()
            conn.execute(
                insert_ignore_stmt(
                    conn.dialect.name,
                    _SHOPS,
                    {"domain": domain, "scopes": "", "created_at": now, "updated_at": now},
                    ["domain"],
                )
            )
            shop_id = conn.scalar(select(_SHOPS.c.id).where(_SHOPS.c.domain == domain))
    if len(cache) > 10_000:
        cache.clear()
    cache[domain] = shop_id
    return shop_id


class InboxWriter:
    """Stores deliveries for the acknowledgement path, on autocommit DBAPI connections of its own.

    Under gunicorn, a pooled SQLAlchemy connection (checkout, `execute`, `COMMIT`, reset on
    return) cost about 0.1 ms of CPU more per delivery than the insert itself, a sixth of the
    whole acknowledgement (docs/performance.md). So the writer compiles the insert once, keeps
    idle connections in a queue (taken from the engine, so they carry its connect-time
    settings), runs the statement in autocommit, and closes a connection that failed. One
    statement needs no transaction: ON CONFLICT DO NOTHING makes it idempotent on its own.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        compiled = _insert_delivery(dialect.name).compile(dialect=dialect)
        self._sql = compiled.string
        self._order = compiled.positiontup  # qmark (SQLite); None for named (psycopg)
        self._processors = [
            (name, processor)
            for name in _COLUMNS
            if (processor := _DELIVERIES.c[name].type.bind_processor(dialect)) is not None
        ]
        self._dbapi_error = dialect.loaded_dbapi.Error
        self._idle: SimpleQueue = SimpleQueue()
        self._pid = os.getpid()

    def store(
        self,
        shop_id: int,
        headers: DeliveryHeaders,
        body: bytes,
        *,
        status: str = "pending",
        error: str | None = None,
    ) -> int | None:
        """Insert the delivery; its id, or None when this webhook id was already stored.

        Database errors are raised as SQLAlchemy's (`IntegrityError` for a shop row that is
        gone). A dropped connection is not an error: the insert is retried on a new one.
        """
        values = {
            "shop_id": shop_id,
            "webhook_id": headers.webhook_id,
            "topic": headers.topic,
            "api_version": headers.api_version,
            "event_id": headers.event_id,
            "triggered_at": headers.triggered_at,
            "body": body,
            "status": status,
            "last_error": error,
            "attempts": 0,
            "received_at": utcnow(),
        }
        for name, processor in self._processors:
            values[name] = processor(values[name])
        params = [values[name] for name in self._order] if self._order else values
        try:
            return self._insert(params)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        # The database dropped the connection (a restart, an idle timeout): the idle ones are
        # most likely gone too. Drop them all and try once more on a new connection.
        while not self._idle.empty():
            _close_quietly(self._idle.get_nowait())
        return self._insert(params)

    def _insert(self, params) -> int | None:
        conn = self._take()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(self._sql, params)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except self._dbapi_error as exc:
            _close_quietly(conn)
            raise DBAPIError.instance(
                self._sql,
                params,
                exc,
                self._dbapi_error,
                hide_parameters=self._engine.hide_parameters,
                connection_invalidated=self._engine.dialect.is_disconnect(exc, conn, None),
            ) from exc
        self._idle.put(conn)
        return row[0] if row else None

    def _take(self):
        if self._pid != os.getpid():  # forked: the parent's connections are not this process's
            self._idle, self._pid = SimpleQueue(), os.getpid()
        try:
            return self._idle.get_nowait()
        except Empty:
            pooled = self._engine.raw_connection()
            conn = pooled.dbapi_connection
            pooled.detach()
            self._engine.dialect.set_isolation_level(conn, "AUTOCOMMIT")
            return conn


def _close_quietly(conn) -> None:
    """Close a connection being thrown away; one that is already broken may fail to close."""
    with contextlib.suppress(Exception):
        conn.close()


_COLUMNS = (
    "shop_id",
    "webhook_id",
    "topic",
    "api_version",
    "event_id",
    "triggered_at",
    "body",
    "status",
    "last_error",
    "attempts",
    "received_at",
)


@cache
def _insert_delivery(dialect: str):
    """Built once per dialect with bind parameters: this is the hot path of every webhook."""
    return insert_ignore_stmt(
        dialect,
        _DELIVERIES,
        {c: bindparam(c, type_=_DELIVERIES.c[c].type) for c in _COLUMNS},
        ["shop_id", "webhook_id"],
    )


def list_deliveries(
    session: Session,
    *,
    status: str | None = None,
    shop_domain: str | None = None,
    limit: int = 50,
) -> list[tuple[WebhookDelivery, str]]:
    """Newest first, with each row's shop domain."""
    query = (
        select(WebhookDelivery, Shop.domain)
        .join(Shop, Shop.id == WebhookDelivery.shop_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    if shop_domain:
        query = query.where(Shop.domain == shop_domain)
    return [(row, domain) for row, domain in session.execute(query).all()]


def replay(session: Session, delivery_ids: list[int]) -> list[int]:
    """Put finished or dead deliveries back to `pending` and enqueue them after commit.

    A replay is safe by construction: every handler is idempotent, and the worker checks
    the body's trust rules again before any handler (a `rejected` row stays rejected unless
    the rules, or what the app knows of the shop, now accept it).
    """
    replayed = []
    for delivery in session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.status != "processing"
        )
    ):
        delivery.status = "pending"
        delivery.attempts = 0
        delivery.locked_until = delivery.next_attempt_at = None
        jobs.enqueue_after_commit(session, jobs.PROCESS_DELIVERY, delivery.id)
        replayed.append(delivery.id)
    session.commit()
    return replayed
