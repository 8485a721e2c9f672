"""Order-to-reward latency: from the paid order's webhook reaching the app to the advocate's
reward code existing in the devstore (Shopify), over real HTTP, with one worker process
started as the Procfile starts it (`referrals worker`).

    python -m tests.bench.reward_latency                      # SQLite + embedded Redis
    DATABASE_URL=… REDIS_URL=… python -m tests.bench.reward_latency   # PostgreSQL + Redis
    python -m tests.bench.reward_latency --short              # 60 referrals, about 30 s
    python -m tests.bench.reward_latency --sweep 4,8,12,16    # the rate one worker sustains
    python -m tests.bench.reward_latency --worker per-job-fork   # A/B: RQ's fork per job

The program completes referrals on payment with no approval delay. Friends check out with
the advocate's code at `--rate` a second (each checkout brings `customers/create`,
`orders/create` and `orders/paid`), on a fixed schedule, so a worker that falls behind shows
as latency. `--sweep` runs one phase per rate on the same stack and stops after the first
whose p95 passes 1 s. Run `--short` before touching the worker, the inbox or the referral
path. Prints Markdown rows for docs/performance.md; the worker's log goes to a file.
Uses DATABASE_URL/REDIS_URL when set (the database is emptied), else SQLite and an embedded
Redis.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import Customer, Referral, Reward, Shop, WebhookDelivery
from shopify_app.referrals import advocates
from shopify_app.referrals.program import update_program

from ..helpers import id_token
from ..support import SHOP_A, bench_backends, process_env, start_stack
from . import percentiles

LINES = [{"title": "Green tea", "price": "40.00", "quantity": 1}]
WORKERS = {
    "resident": "resident work horse (`referrals worker`)",
    "per-job-fork": "RQ's fork per job (before 2026-12-04)",
    "in-process": "in-process (RQ SimpleWorker)",
}
SUSTAINED_P95_SECONDS = 1.0
WORKER_PID = [0]


def serve_worker(kind: str) -> None:
    """The `--serve-worker` entry: a worker of another kind, for A/B runs."""
    from rq import Worker

    from shopify_app import create_app
    from workers.worker import AppContextMixin, build_worker

    class PerJobForkWorker(AppContextMixin, Worker):
        """The worker `referrals worker` ran until 2026-12-04."""

    app = create_app()
    worker = build_worker(app, simple=kind == "in-process")
    if kind == "per-job-fork":
        queues = worker.queues
        worker = PerJobForkWorker(queues, connection=worker.connection)
        worker.app = app
    worker.work(with_scheduler=True)


def start_worker(app, kind: str, log_path: Path) -> subprocess.Popen:
    if kind == "resident":
        command = [sys.executable, "-m", "shopify_app.cli", "worker"]
    else:
        command = [sys.executable, "-m", "tests.bench.reward_latency", "--serve-worker", kind]
    return subprocess.Popen(
        command,
        env=process_env(app),
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def set_up_advocate(app, state) -> str:
    """An advocate with a live friend code, on a program that rewards on payment."""
    ada = commerce.create_customer(state, SHOP_A, email="ada@example.com", first_name="Ada")
    deadline = time.monotonic() + 60
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        while session.scalar(select(Customer).where(Customer.shopify_id == ada.id)) is None:
            if time.monotonic() > deadline:
                raise SystemExit("the advocate never synced (is the worker running?)")
            time.sleep(0.1)
            session.commit()
        update_program(
            session, shop, {"enabled": True, "friend_new_customers_only": False}, actor="bench"
        )
        customer = session.scalar(select(Customer).where(Customer.shopify_id == ada.id))
        advocate, _ = advocates.join(session, shop, customer, via="staff", actor="bench")
        session.commit()
        code = advocate.code
    while commerce.find_discount(commerce.data(state, SHOP_A), code) is None:
        if time.monotonic() > deadline:
            raise SystemExit("the friend code never reached the devstore")
        time.sleep(0.05)
    return code


def worker_cpu_seconds(pid: int) -> float:
    """CPU time of the worker process, its horses that ended and the one running (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(stat: Path) -> list[str]:
        return stat.read_text().rsplit(")", 1)[1].split()

    try:
        own = fields(Path(f"/proc/{pid}/stat"))
    except OSError:
        return float("nan")
    total = sum(int(v) for v in own[11:15])  # utime, stime, cutime, cstime
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            child = fields(stat)
        except OSError:
            continue
        if int(child[1]) == pid:
            total += int(child[11]) + int(child[12])
    return total / tick


def run_phase(app, state, code: str, *, label: str, referrals: int, rate: float) -> dict:
    """Place `referrals` orders at `rate` a second; returns their latencies, the rate
    actually achieved (placing an order takes time too) and the worker's CPU time."""
    cpu_before = worker_cpu_seconds(WORKER_PID[0])
    orders = []
    start = time.monotonic()
    first = last = start
    for n in range(referrals):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        friend = commerce.create_customer(state, SHOP_A, email=f"friend-{label}-{n}@example.com")
        last = time.monotonic()
        if n == 0:
            first = last
        orders.append(
            commerce.place_order(
                state, SHOP_A, customer_id=friend.id, lines=LINES, discount_code=code
            ).id
        )
    achieved = (referrals - 1) / (last - first) if referrals > 1 and last > first else rate
    latencies = wait_for_rewards(app, state, orders, give_up=60 + 5 * referrals / rate)
    cpu = worker_cpu_seconds(WORKER_PID[0]) - cpu_before
    return {
        "latencies": latencies,
        "referrals": referrals,
        "rate": rate,
        "achieved": achieved,
        "cpu_ms": cpu * 1000 / referrals,
    }


def wait_for_rewards(app, state, orders: list[int], *, give_up: float) -> list[float]:
    deadline = time.monotonic() + give_up
    wanted = set(orders)
    with app.app_context():
        session = get_session()
        while True:
            session.commit()
            issued = session.scalars(
                select(Referral.order_shopify_id)
                .join(Reward, Reward.referral_id == Referral.id)
                .where(Referral.order_shopify_id.in_(wanted), Reward.status == "issued")
            ).all()
            if len(issued) >= len(wanted) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        received: dict[int, object] = {}
        for delivery in session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.topic.in_(("orders/create", "orders/paid"))
            )
        ):
            body = json.loads(delivery.body)
            if body.get("id") in wanted and body.get("financial_status") == "paid":
                oid = body["id"]
                received[oid] = min(received.get(oid, delivery.received_at), delivery.received_at)
        created = {d.code: d.created_at for d in commerce.data(state, SHOP_A).discounts.values()}
        latencies = []
        for order_id, reward_code in session.execute(
            select(Referral.order_shopify_id, Reward.code)
            .join(Reward, Reward.referral_id == Referral.id)
            .where(Referral.order_shopify_id.in_(wanted))
        ):
            if reward_code in created and order_id in received:
                latencies.append((created[reward_code] - received[order_id]).total_seconds())
        session.commit()
    return latencies


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in out.splitlines() if "Model name" in ln), model
        )
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs (nproc), Python {platform.python_version()}"


def row(backend: str, kind: str, phase: dict) -> str:
    lat = phase["latencies"]
    head = f"| {backend} | {kind} | {len(lat)}/{phase['referrals']} | "
    cpu = f" {phase['cpu_ms']:.0f} |"
    if not lat:
        return head + f"{phase['rate']:g} |" + " — |" * 4 + cpu
    stats = percentiles(lat)
    return (
        head + f"{phase['rate']:g} ({phase['achieved']:.1f}) | {stats['p50']:,.0f} | "
        f"{stats['p95']:,.0f} | {stats['p99']:,.0f} | {max(lat) * 1000:,.0f} |" + cpu
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=200, help="per phase (default 200)")
    parser.add_argument("--rate", type=float, default=4.0, help="referrals a second (4)")
    parser.add_argument("--gap", type=float, help="seconds between referrals (1/rate)")
    parser.add_argument("--short", action="store_true", help="60 referrals at 4/s")
    parser.add_argument(
        "--sweep", help="comma-separated rates; one phase each, until p95 passes 1 s"
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), default="resident")
    parser.add_argument("--serve-worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_worker:
        serve_worker(args.serve_worker)
        return
    referrals = 60 if args.short else args.referrals
    rates = (
        [float(r) for r in args.sweep.split(",")]
        if args.sweep
        else [1 / args.gap if args.gap else args.rate]
    )
    tmp = tempfile.mkdtemp(prefix="bench-reward-")
    database_url, redis_url, redis_server = bench_backends(tmp)
    app, app_server, devstore, devstore_server = start_stack(
        database_url=database_url, redis_url=redis_url, instance_path=tmp
    )
    for name in ("", "werkzeug", "httpx"):  # the servers' access lines
        logging.getLogger(name).setLevel(logging.WARNING)
    state = devstore.extensions["devstore_state"]
    state.dispatcher.time_scale = 1.0
    app.test_client().get("/", headers={"Authorization": f"Bearer {id_token(SHOP_A)}"})
    with app.app_context():
        from shopify_app.jobs import get_queue, redis_connection

        get_queue().empty()
        for key in redis_connection().scan_iter("referrals:inbox-drain:*"):
            redis_connection().delete(key)
    log_path = Path(tmp) / "worker.log"
    load_before = os.getloadavg()
    worker = start_worker(app, args.worker, log_path)
    WORKER_PID[0] = worker.pid
    phases = []
    try:
        code = set_up_advocate(app, state)
        for n, rate in enumerate(rates):
            phase = run_phase(app, state, code, label=str(n), referrals=referrals, rate=rate)
            phases.append(phase)
            if args.sweep and (
                len(phase["latencies"]) < referrals
                or percentiles(phase["latencies"])["p95"] > SUSTAINED_P95_SECONDS * 1000
            ):
                break
    finally:
        load_after = os.getloadavg()
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
        app_server.stop()
        devstore_server.stop()
        if redis_server is not None:
            redis_server.shutdown()
    backend = (
        "PostgreSQL + Redis" if database_url.startswith("postgresql") else "SQLite + embedded Redis"
    )
    print(f"\n{time.strftime('%Y-%m-%d %H:%M')} · {machine()}")
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"(1 min); worker log {log_path}\n"
    )
    print(
        "| backend | worker | rewards | referrals/s (achieved) | p50 | p95 | p99 | max (ms) "
        "| worker CPU ms/referral |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for phase in phases:
        print(row(backend, WORKERS[args.worker], phase))
    if args.sweep:
        sustained = [
            p["rate"]
            for p in phases
            if len(p["latencies"]) == p["referrals"]
            and percentiles(p["latencies"])["p95"] <= SUSTAINED_P95_SECONDS * 1000
        ]
        print(
            f"\nhighest rate with p95 ≤ {SUSTAINED_P95_SECONDS:g} s: {max(sustained):g}/s"
            if sustained
            else "\nno rate kept p95 within 1 s"
        )


if __name__ == "__main__":
    main()
