"""SQLAlchemy engine and per-request sessions, bound to the app in `init_app`."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import (
    CompoundSelect,
    Engine,
    Integer,
    Select,
    Table,
    bindparam,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

M = TypeVar("M")
log = logging.getLogger(__name__)


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Deleted and overwritten content is zeroed in the file, not left in free space:
            # an erasure must not survive in the database file itself.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

    else:
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        # LIFO: a request gets the connection used last, whose prepared statements (see
        # `_close_session`) are warm; idle ones beyond the steady load are rarely touched.
        engine = create_engine(url, pool_pre_ping=True, pool_use_lifo=True, hide_parameters=True)
    _note_writes(engine)
    event.listen(engine, "handle_error", _without_row_values)
    # RQ forks a work horse per job: the child must not reuse the parent's pooled connections.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    return engine


# PostgreSQL error classes whose primary message names only schema objects (constraint,
# column, table) or the server's state, never a value: integrity, transaction, connection,
# resource and lock errors. Others (a data exception quotes the value it could not take, a
# syntax error the token) are reported by class and SQLSTATE alone.
_SCHEMA_ONLY_CLASSES = frozenset({"08", "23", "25", "40", "53", "54", "55", "57", "58"})


def driver_error_summary(error: BaseException) -> str:
    """What a driver's exception may say in logs and stored error text: its SQLSTATE and the
    schema objects involved, never a row's values (PostgreSQL's DETAIL quotes the row: `Key
    (email)=(ada@example.com) already exists`). SQLite's messages name schema objects only,
    so its first line is kept."""
    diag = getattr(error, "diag", None)
    if diag is None:
        lines = str(error).splitlines()
        return lines[0] if lines else ""
    state = getattr(error, "sqlstate", None) or diag.sqlstate or ""
    parts = [f"SQLSTATE {state}"] if state else []
    if state[:2] in _SCHEMA_ONLY_CLASSES and diag.message_primary:
        parts.append(diag.message_primary)
    for label, name in (
        ("table", diag.table_name),
        ("column", diag.column_name),
        ("constraint", diag.constraint_name),
    ):
        if name:
            parts.append(f"{label} {name}")
    return ", ".join(parts)


def scrub_driver_error(error: BaseException) -> BaseException:
    """Cut a driver exception's message, in place, to `driver_error_summary`; returns it."""
    if not getattr(error, "_summarised", False):
        error.args = (driver_error_summary(error),)
        error._summarised = True  # type: ignore[attr-defined]
    return error


def _without_row_values(context) -> None:
    """Every database error the engine raises says nothing of the rows it touched: the
    parameters are hidden (`hide_parameters`) and the driver's message, kept in the
    SQLAlchemy exception and chained under it in every traceback, is cut to its summary.
    Logs, RQ's failure records and `last_error` columns all print these exceptions."""
    original = context.original_exception
    if not isinstance(original, context.dialect.loaded_dbapi.Error):
        return  # raised by Python code around the call, not by the database
    scrub_driver_error(original)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None and wrapped.orig is original:
        kind = type(original)
        wrapped.args = (f"({kind.__module__}.{kind.__name__}) {original.args[0]}",)


def flush_sqlite_log(engine: Engine) -> None:
    """On SQLite, copy the write-ahead log into the database file and empty it: the log keeps
    earlier versions of the pages an erasure rewrote until a checkpoint resets it. Best
    effort: a reader still on an older snapshot makes it a partial checkpoint (the next
    one finishes it). Nothing to do on PostgreSQL (see docs/operations.md, Privacy)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _note_writes(engine: Engine) -> None:
    """Keep `wrote` in each connection's info: whether its transaction has run anything but
    a SELECT (an INSERT, UPDATE, DELETE, DDL, or SQL this cannot tell is a read)."""

    @event.listens_for(engine, "begin")
    def _began(conn) -> None:
        conn.info["wrote"] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _executing(conn, _cursor, statement, _parameters, context, _executemany) -> None:
        if not conn.info.get("wrote") and not _is_read(statement, context):
            conn.info["wrote"] = True


def _is_read(statement: str, context) -> bool:
    if context is not None and context.execution_options.get("reads_only"):
        return True  # a compiled SELECT run as text (`CompiledText`), e.g. `WITH ... SELECT`
    compiled = getattr(context, "compiled", None)
    if compiled is not None and isinstance(compiled.statement, Select | CompoundSelect):
        return True
    return statement.lstrip()[:6].upper() == "SELECT"


def only_read(session: Session) -> bool:
    """Whether the session's transaction has read and nothing else (no pending changes, no
    statement that could have written)."""
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return False
    return not session.connection().info.get("wrote", True)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db"] = Database(engine, sessionmaker(engine, expire_on_commit=False))
    app.teardown_appcontext(_close_session)


def database() -> Database:
    return current_app.extensions["db"]


def get_session() -> Session:
    """The app context's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    return g.db_session


def _close_session(exc: BaseException | None) -> None:
    """End the request's session. A transaction that only read ends with COMMIT, which is
    the same as a ROLLBACK for it, because psycopg forgets its prepared statements on every
    ROLLBACK: kept, they let PostgreSQL reuse each statement's plan instead of planning it
    again on every request (planning was a third of a Customers page's database time).
    Anything else (an error, pending changes, a write left uncommitted) is rolled back."""
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        if exc is None and only_read(session):
            session.commit()
    except SQLAlchemyError:
        # The response is out and the transaction only read: nothing is lost, so log it and
        # let close() roll back (a session left failed by a swallowed error lands here too).
        log.warning("could not end a read-only request transaction", exc_info=True)
    finally:
        session.close()


def int_param(name: str):
    """An integer bind parameter, for statements built once and run with values (the shop's
    id in nearly all of them)."""
    return bindparam(name, type_=Integer)


def insert_ignore_stmt(
    dialect: str,
    table: Table,
    values: dict[str, Any],
    conflict: list[str],
    *,
    returning: bool = True,
    where: str | None = None,
):
    """`INSERT ... ON CONFLICT (conflict) [WHERE where] DO NOTHING [RETURNING id]` for SQLite
    and PostgreSQL (without RETURNING it runs as one executemany over a list of rows). `where`
    names a partial unique index by its predicate."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_nothing(
        index_elements=conflict, index_where=text(where) if where else None
    )
    return stmt.returning(table.c.id) if returning else stmt


def insert_ignore(
    session: Session,
    model: type,
    values: dict[str, Any],
    conflict: list[str],
    *,
    where: str | None = None,
):
    """Insert-or-ignore through the session; the new row's id, or None if the key exists.

    Goes through the model's table (Core), not the ORM entity: the ORM's bulk-insert
    bookkeeping costs more than the statement itself on hot paths. The statement is built
    once per set of columns, with bind parameters: building one with the values in it cost
    more than running it.
    """
    stmt = _insert_ignore_for(
        session.get_bind().dialect.name, model.__table__, tuple(values), tuple(conflict), where
    )
    return session.execute(stmt, values).scalar_one_or_none()


@functools.cache
def _insert_ignore_for(
    dialect: str, table: Table, columns: tuple[str, ...], conflict: tuple, where: str | None
):
    binds = {c: bindparam(c, type_=table.c[c].type) for c in columns}
    return insert_ignore_stmt(dialect, table, binds, list(conflict), where=where)


@functools.cache
def _locked_row_query(model: type, keys: tuple[str, ...]):
    return (
        select(model)
        .where(*(getattr(model, k) == bindparam(f"key_{k}") for k in keys))
        .with_for_update()
    )


def get_or_insert(
    session: Session,
    model: type[M],
    key: dict[str, Any],
    values: dict[str, Any],
    *,
    prepare: Callable[[M], None] | None = None,
) -> tuple[M, bool]:
    """The row with this unique `key`, locked for update, inserted from `values` if missing.

    `prepare`, when given, fills a new row before it is inserted (on a transient instance, so
    the model's validators run): a new row is then written whole by one INSERT, not by an
    INSERT and the UPDATE that filling it afterwards would flush. It is not called for an
    existing row. Safe under concurrent workers (the insert ignores a conflicting row and the
    winner's row is read instead). A row this call inserts is not read back: every column is
    written explicitly, so the instance is built from what was written. Returns (row,
    inserted).
    """
    query = _locked_row_query(model, tuple(key))
    params = {f"key_{k}": v for k, v in key.items()}
    existing = session.scalar(query, params)
    if existing is not None:
        return existing, False
    table = model.__table__  # type: ignore[attr-defined]
    row = {**_column_defaults(table), **key, **values}
    if prepare is not None:
        draft = model(**key, **values)
        prepare(draft)
        row = row_values(draft)
    new_id = insert_ignore(session, model, row, list(key))
    if new_id is None:
        won = session.scalar(query, params)
        assert won is not None
        return won, False
    stale = session.identity_map.get(identity_key(model, new_id))
    if stale is not None:  # left from a rolled-back transaction that had this id
        session.expunge(stale)
    instance = model(id=new_id, **row)
    make_transient_to_detached(instance)
    session.add(instance)
    for relationship in instance.__mapper__.relationships:  # type: ignore[attr-defined]
        if relationship.uselist:
            set_committed_value(instance, relationship.key, [])
    return instance, True


def row_values(draft: Any) -> dict[str, Any]:
    """Every column of a new row built as a transient instance: what it was given, its
    derived columns (a model's `derive_columns`, which its flush events run for ORM
    writes), else the column's default. For an insert written whole by Core."""
    derive = getattr(draft, "derive_columns", None)
    if derive is not None:
        derive()
    table = draft.__table__
    filled = vars(draft)
    return {
        **_column_defaults(table),
        **{c.key: filled[c.key] for c in table.columns if c.key in filled},
    }


def _column_defaults(table: Table) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.primary_key:
            continue
        default = column.default
        if default is None:
            values[column.key] = None
        elif default.is_scalar:
            values[column.key] = default.arg
        elif default.is_callable:
            values[column.key] = default.arg(None)
    return values


def unindexed(column):
    """`+column`: the same value, but not a reason to pick an index.

    Without table statistics SQLite's planner takes any `shop_id = ?` for a selective
    condition and will read a whole shop's (shop_id, ...) index, then sort, where a primary
    key lookup or a rowid-ordered scan was meant (`id IN (...)`, `ORDER BY id`). The unary plus
    is SQLite's documented way to keep a condition out of index selection; PostgreSQL reads
    it as the plain value."""
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


@dataclass(frozen=True)
class CompiledText:
    """A statement compiled once for a dialect and kept as its SQL text, the order of its
    bind parameters and its types' value processors.

    For statements built once per shape and cached by the hundred (the Customers page's:
    one per filter, sort and cursor combination). SQLAlchemy's cached statement and its
    compiled form are some 7,000 Python objects for a 54-segment page; a few hundred shapes
    held that way made every full garbage collection scan 200,000+ objects and stall a
    request for 100-200 ms. This keeps a string and a few tuples, and runs through the
    driver (`exec_driver_sql`), so the driver's own prepared statements still apply.
    """

    sql: str
    positional: tuple[str, ...] | None  # bind names in order for "?" drivers (SQLite)
    defaults: tuple[tuple[str, Any], ...]  # the values of binds the statement carries itself
    bind_processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    result_processors: tuple[Callable[[Any], Any] | None, ...]
    reads_only: bool  # a SELECT: a request that ran only these still ends read-only

    @classmethod
    def of(cls, statement: Any, dialect: Any) -> CompiledText:
        compiled = statement.compile(dialect=dialect)
        processors, defaults = [], []
        for name, bind in compiled.binds.items():
            if not bind.required:
                defaults.append((name, bind.effective_value))
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors.append((name, process))
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )
        return cls(
            sql=compiled.string,
            positional=tuple(compiled.positiontup) if compiled.positional else None,
            defaults=tuple(defaults),
            bind_processors=tuple(processors),
            result_processors=results,
            reads_only=isinstance(statement, Select | CompoundSelect),
        )

    def rows(self, session: Session, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        values = dict(self.defaults) | params
        for name, process in self.bind_processors:
            if name in values:
                values[name] = process(values[name])
        args: Any = tuple(values[n] for n in self.positional) if self.positional else values
        result = (
            session.connection()
            .exec_driver_sql(self.sql, args, execution_options={"reads_only": self.reads_only})
            .all()
        )
        processors = self.result_processors
        if not any(processors):
            return [tuple(row) for row in result]
        return [
            tuple(
                v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True)
            )
            for row in result
        ]
