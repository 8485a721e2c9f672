"""Outgoing webhooks: deliveries per second per worker to a local receiver, and a healthy
endpoint's delivery rate alone and with a hanging endpoint beside it.

    python -m tests.bench.outgoing [--events 2000] [--timeout 2]
    DATABASE_URL=… REDIS_URL=… python -m tests.bench.outgoing

Workers are `referrals worker`-like processes in burst mode (RQ's in-process worker over the
bench's Redis), running the real job (`workers.outgoing_jobs.deliver_endpoint`); receivers
are processes of their own (`tests/receiver.py`: `ok` answers 200 at once, `hang` reads the
request and never answers). A rate is deliveries / (last attempt - first attempt) of that
endpoint, from the rows, so process start-up is not counted. Uses DATABASE_URL/REDIS_URL
when set (the database is emptied), else SQLite and an embedded Redis. Prints Markdown for
docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from sqlalchemy import func, select

from shopify_app import create_app

from ..support import bench_backends, process_env
from .reward_latency import machine

RECEIVER = """
import sys, time
from tests.receiver import Receiver
with Receiver(sys.argv[1]) as receiver:
    print(receiver.url, flush=True)
    while True:
        time.sleep(3600)
"""

WORKER = """
import logging
from shopify_app import create_app
from workers.worker import build_worker
app = create_app()
logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request is not the bench
build_worker(app, simple=True).work(burst=True, logging_level="WARNING")
"""


def start_receiver(mode: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def seed(app, urls: dict[str, str], events: int) -> tuple[dict[str, int], float]:
    """A shop with one endpoint per url, `events` events to all of them (committed 50 at a
    time, each commit enqueueing one job per endpoint, as domain transactions do). Returns
    (endpoint ids, events emitted per second)."""
    from shopify_app.db import get_session
    from shopify_app.jobs import get_queue
    from shopify_app.models import Shop
    from shopify_app.outgoing import endpoints
    from shopify_app.outgoing.events import emit

    with app.app_context():
        get_queue().empty()
        session = get_session()
        shop = Shop(domain=f"bench-{time.time_ns()}.myshopify.com", name="Bench", currency="EUR")
        session.add(shop)
        session.flush()
        ids = {
            name: endpoints.register(
                session,
                shop,
                url=url,
                event_types=["reward.used"],
                alert_email="ops@example.com",
                description=name,
                actor="bench",
            ).endpoint.id
            for name, url in urls.items()
        }
        session.commit()
        started = time.perf_counter()
        for n in range(events):
            emit(session, shop, "reward.used", {"reward": {"id": n, "code": f"R-{n}"}}, key=f"{n}")
            if n % 50 == 49:
                session.commit()
        session.commit()
        return ids, events / (time.perf_counter() - started)


def run_workers(app, count: int, timeout: float) -> None:
    env = process_env(app, OUTGOING_READ_TIMEOUT_SECONDS=str(timeout))
    procs = [subprocess.Popen([sys.executable, "-c", WORKER], env=env) for _ in range(count)]
    for proc in procs:
        proc.wait(timeout=600)


def rate(app, endpoint_id: int) -> tuple[int, float]:
    """(succeeded deliveries, per second between the first and the last attempt)."""
    from shopify_app.db import get_session
    from shopify_app.models import OutgoingDelivery

    with app.app_context():
        done, first, last = (
            get_session()
            .execute(
                select(
                    func.count(),
                    func.min(OutgoingDelivery.last_attempt_at),
                    func.max(OutgoingDelivery.last_attempt_at),
                ).where(
                    OutgoingDelivery.endpoint_id == endpoint_id,
                    OutgoingDelivery.status == "succeeded",
                )
            )
            .one()
        )
    if not done or first == last:
        return done, 0.0
    if isinstance(first, str):  # SQLite through a bare aggregate
        from datetime import datetime

        first, last = datetime.fromisoformat(first), datetime.fromisoformat(last)
    return done, (done - 1) / (last - first).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=2.0, help="read timeout, seconds")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-outgoing-")
    database_url, redis_url, redis_server = bench_backends(tmp)
    app = create_app(
        {
            "APP_ENV": "test",
            "INSTANCE_PATH": tmp,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "INITIAL_IMPORT": False,
        }
    )
    backend = "PostgreSQL + Redis" if database_url.startswith("postgres") else "SQLite + Redis"
    ok_proc, ok_url = start_receiver("ok")
    hang_proc, hang_url = start_receiver("hang")
    rows = []
    try:
        load = os.getloadavg()[0]
        ids, emit_rate = seed(app, {"healthy": ok_url}, args.events)
        run_workers(app, 1, args.timeout)
        done, one_worker = rate(app, ids["healthy"])
        rows.append(("one endpoint, 1 worker", done, one_worker))

        ids, _ = seed(app, {"healthy": ok_url}, args.events)
        run_workers(app, 2, args.timeout)
        done, alone = rate(app, ids["healthy"])
        rows.append(("healthy endpoint alone, 2 workers", done, alone))

        ids, _ = seed(app, {"healthy": ok_url, "hanging": hang_url}, args.events)
        run_workers(app, 2, args.timeout)
        done, beside = rate(app, ids["healthy"])
        rows.append(("healthy endpoint beside a hanging one, 2 workers", done, beside))
    finally:
        ok_proc.kill()
        hang_proc.kill()
        if redis_server is not None:
            redis_server.shutdown()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"### Outgoing webhooks ({backend}; {machine()}; {when})\n")
    print(
        f"{args.events} events per run; read timeout {args.timeout} s; "
        f"load average {load:.2f} at start; emit {emit_rate:,.0f} events/s.\n"
    )
    print("| run | delivered | deliveries/s |")
    print("|---|---:|---:|")
    for name, done, value in rows:
        print(f"| {name} | {done} | {value:,.0f} |")
    if alone:
        print(f"\nhealthy beside hanging / alone: {beside / alone:.2f}x")


if __name__ == "__main__":
    main()
