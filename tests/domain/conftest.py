"""Domain tests: the referral engine, rewards, sync and the inbox on a real database session,
without HTTP, without Redis, without a worker.

Each test runs inside one database transaction that is rolled back at its end. The session
joins it with `join_transaction_mode="create_savepoint"`, so the code under test may commit
and roll back as it does in production: its `commit()` releases a savepoint, its
`rollback()` returns to one, and nothing outlives the test. Isolation costs one BEGIN and
one ROLLBACK, not a wipe of every table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, g
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from shopify_app import create_app, jobs
from shopify_app.customers import consent_requests
from shopify_app.db import make_engine
from shopify_app.shopify.consent import ConsentState
from shopify_app.shopify.errors import UserErrors

from .. import factories
from ..helpers import API_KEY, API_SECRET


@dataclass(frozen=True)
class Enqueued:
    """One job that reached a queue: what a worker would run."""

    queue: str
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    job_id: str | None


@dataclass
class JobRecorder:
    """The jobs enqueued so far (only ever after a commit, as in production)."""

    jobs: list[Enqueued] = field(default_factory=list)

    def names(self) -> list[str]:
        return [job.name for job in self.jobs]

    def calls(self, name: str) -> list[tuple[Any, ...]]:
        return [job.args for job in self.jobs if job.name == name]

    def clear(self) -> None:
        self.jobs.clear()


def _job_name(func: Any) -> str:
    return func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"


class _RecordingQueue:
    """Stands in for `rq.Queue` in `shopify_app.jobs`: records instead of writing to Redis."""

    recorder: JobRecorder

    def __init__(self, name: str = "default", connection: Any = None, **_kwargs: Any) -> None:
        self.name = name

    def enqueue_call(self, func, args=None, kwargs=None, job_id=None, **_options: Any) -> None:
        self.recorder.jobs.append(
            Enqueued(self.name, _job_name(func), tuple(args or ()), dict(kwargs or {}), job_id)
        )


class _Unreachable:
    """The Redis connection of a domain test: handed to the recording queue, which ignores
    it; any other use (a drain flag, a rate limit) fails the test loudly."""

    def __getattr__(self, name: str):
        raise AssertionError(f"a domain test used Redis ({name}); test that path live")


class _NoRedis:
    def connection(self) -> _Unreachable:
        return _Unreachable()


def _savepoints_on_pysqlite(engine: Engine) -> None:
    """pysqlite opens transactions lazily and would let a RELEASE SAVEPOINT commit the outer
    transaction; taking BEGIN into SQLAlchemy's hands makes SAVEPOINT nest as documented
    (SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL" recipe)."""

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _explicit_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN")


@pytest.fixture(scope="session")
def domain_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":
        _savepoints_on_pysqlite(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def domain_app(database_url: str, tmp_path_factory) -> Iterator[Flask]:
    """An app for what domain code reads from `current_app` (settings, the session via
    `get_session`); it serves nothing."""
    app = create_app(
        {
            "APP_ENV": "test",
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("domain-instance")),
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "SHOPIFY_API_KEY": API_KEY,
            "SHOPIFY_API_SECRET": API_SECRET,
            "SHOPIFY_APP_URL": "http://127.0.0.1:9",
            "INITIAL_IMPORT": False,
        }
    )
    app.extensions["redis"] = _NoRedis()
    yield app
    app.extensions["shopify"].http.close()
    app.extensions["db"].engine.dispose()


@pytest.fixture
def enqueued(monkeypatch) -> JobRecorder:
    """What the test's commits enqueued, recorded in place of Redis."""
    recorder = JobRecorder()
    queue = type("RecordingQueue", (_RecordingQueue,), {"recorder": recorder})
    monkeypatch.setattr(jobs, "Queue", queue)
    return recorder


@pytest.fixture
def session(domain_app: Flask, domain_engine: Engine, enqueued: JobRecorder) -> Iterator[Session]:
    """A session in a transaction rolled back after the test; also the app context's
    session, so code that calls `get_session()` (the inbox jobs) uses it too."""
    with domain_engine.connect() as connection:
        outer = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        with domain_app.app_context():
            g.db_session = session
            try:
                yield session
            finally:
                g.pop("db_session", None)
                session.close()
                outer.rollback()


@pytest.fixture
def shop(request: pytest.FixtureRequest, session: Session):
    """A shop; with its referral program where the module says `pytestmark =
    pytest.mark.program`."""
    shop = factories.shop(session)
    if request.node.get_closest_marker("program"):
        factories.program(session, shop)
    return shop


@pytest.fixture
def shopify_answers(monkeypatch):
    """Stands in for the consent mutation: records each call, answers as Shopify would."""
    calls: list[tuple] = []
    outcome: dict = {"errors": None}

    def fake(api, shopify_id, channel, state, at, *, opt_in_level=None):
        calls.append((shopify_id, channel, state, at))
        outcome.setdefault("levels", []).append(opt_in_level)
        if outcome["errors"]:
            raise UserErrors(f"customer{channel}Update", outcome["errors"])
        return ConsentState(state, opt_in_level or "single_opt_in", at)

    monkeypatch.setattr(consent_requests, "update_marketing_consent", fake)
    monkeypatch.setattr(consent_requests, "admin_api", lambda *a: None)
    return calls, outcome
