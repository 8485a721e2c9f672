"""Processing throughput: order webhooks applied per second by one worker process.

    python -m tests.bench.processing [--count 2000] [--worker fork|simple]

Stores `count` signed orders/create deliveries through the real intake, then times one
worker draining the queue in burst mode. Uses DATABASE_URL/REDIS_URL when set, else SQLite
and an embedded Redis.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time

from shopify_app.db import get_session
from shopify_app.models import Order, WebhookDelivery
from workers.worker import build_worker

from .. import payloads
from ..helpers import id_token, webhook_headers
from ..support import SHOP_A, bench_backends, start_stack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--worker", choices=("fork", "simple"), default="fork")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-proc-")
    database_url, redis_url, redis_server = bench_backends(tmp)
    app, app_server, _devstore, devstore_server = start_stack(
        database_url=database_url, redis_url=redis_url, instance_path=tmp
    )
    client = app.test_client()
    client.get("/", headers={"Authorization": f"Bearer {id_token(SHOP_A)}"})
    with app.app_context():
        from workers.queues import get_queue

        get_queue().empty()
    for n in range(args.count):
        body = json.dumps(payloads.order(oid=100_000 + n, cid=10_000 + n % 500)).encode()
        response = client.post(
            "/webhooks", data=body, headers=webhook_headers(SHOP_A, "orders/create", body)
        )
        assert response.status_code == 200
    worker = build_worker(app, simple=args.worker == "simple")
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    elapsed = time.perf_counter() - started
    with app.app_context():
        session = get_session()
        done = session.query(WebhookDelivery).filter_by(status="done").count()
        orders = session.query(Order).count()
    app_server.stop()
    devstore_server.stop()
    if redis_server is not None:
        redis_server.shutdown()
    backend = (
        "PostgreSQL + Redis" if database_url.startswith("postgresql") else "SQLite + embedded Redis"
    )
    print(f"{backend} · {platform.machine()} · worker={args.worker} · {args.count} orders/create")
    print(f"done={done} orders={orders} in {elapsed:.2f}s -> {done / elapsed:.0f} webhooks/s")


if __name__ == "__main__":
    main()
