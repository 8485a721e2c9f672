"""Processing throughput: order webhooks applied per second, end to end.

    python -m tests.bench.processing [--count 2000] [--worker fork|simple] [--workers N]
                                     [--shops 1|2]

Stores `count` signed orders/create deliveries through the real intake (spread over
`shops` shops), then times `workers` worker processes draining them, each a separate process
as `referrals worker` would be; the clock stops when every delivery is finished. Also prints
the workers' CPU time per webhook, which compares two versions fairly on a busy machine.
Uses DATABASE_URL/REDIS_URL when set, else SQLite and an embedded Redis.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import tempfile
import time

from sqlalchemy import func, select

from shopify_app.db import get_session
from shopify_app.models import Order, WebhookDelivery
from workers.worker import build_worker

from .. import payloads
from ..helpers import id_token, webhook_headers
from ..support import SHOP_A, SHOP_B, bench_backends, start_stack


def _run_worker(app, simple: bool) -> None:
    build_worker(app, simple=simple).work(logging_level="WARNING")


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the workers, once joined): a
    measure of the work that another process on the machine does not stretch, unlike the
    wall clock."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _finished(app) -> tuple[int, int]:
    with app.app_context():
        session = get_session()
        done = session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == "done")
        )
        unfinished = session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status.in_(("pending", "processing", "failed")))
        )
        return done, unfinished


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--worker", choices=("fork", "simple"), default="fork")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--shops", type=int, choices=(1, 2), default=1)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-proc-")
    database_url, redis_url, redis_server = bench_backends(tmp)
    app, app_server, _devstore, devstore_server = start_stack(
        database_url=database_url, redis_url=redis_url, instance_path=tmp
    )
    shops = [SHOP_A, SHOP_B][: args.shops]
    client = app.test_client()
    for shop in shops:
        client.get("/", headers={"Authorization": f"Bearer {id_token(shop)}"})
    with app.app_context():
        from shopify_app.jobs import get_queue, redis_connection

        get_queue().empty()
        for key in redis_connection().scan_iter("referrals:inbox-drain:*"):
            redis_connection().delete(key)  # flags an earlier run left (its shop ids repeat)
    for n in range(args.count):
        shop = shops[n % len(shops)]
        body = json.dumps(payloads.order(oid=100_000 + n, cid=10_000 + n % 500)).encode()
        response = client.post(
            "/webhooks", data=body, headers=webhook_headers(shop, "orders/create", body)
        )
        assert response.status_code == 200
    simple = args.worker == "simple"
    cpu_before = _children_cpu()
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_run_worker, args=(app, simple), daemon=True)
        for _ in range(args.workers)
    ]
    for process in processes:
        process.start()
    give_up = time.monotonic() + 600
    while _finished(app)[1] and time.monotonic() < give_up:
        time.sleep(0.05)
    for process in processes:
        process.terminate()
        process.join(10)
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    done, unfinished = _finished(app)
    with app.app_context():
        orders = get_session().scalar(select(func.count()).select_from(Order))
    app_server.stop()
    devstore_server.stop()
    if redis_server is not None:
        redis_server.shutdown()
    backend = (
        "PostgreSQL + Redis" if database_url.startswith("postgresql") else "SQLite + embedded Redis"
    )
    print(
        f"{backend} · {platform.machine()} · worker={args.worker} × {args.workers} · "
        f"{args.count} orders/create over {len(shops)} shop(s)"
    )
    print(
        f"done={done} unfinished={unfinished} orders={orders} in {elapsed:.2f}s -> "
        f"{done / elapsed:.0f} webhooks/s"
    )
    print(
        f"worker CPU (user + system, the workers and their work horses; with SQLite all of the "
        f"database work): {cpu:.2f} s -> {cpu / max(done, 1) * 1000:.2f} ms per webhook"
    )


if __name__ == "__main__":
    main()
