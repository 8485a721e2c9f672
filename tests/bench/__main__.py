"""Server-side latency of what the skeleton owns, over real HTTP on localhost.

    python -m tests.bench                      # SQLite + embedded Redis
    DATABASE_URL=… REDIS_URL=… python -m tests.bench   # PostgreSQL + Redis

Measures: ID-token verification alone; an authenticated admin fetch of the home page (token
check, shop lookup, one GraphQL call to the devstore, render); the webhook acknowledgement
(HMAC, inbox insert, enqueue, 200). Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import uuid

import httpx

from shopify_app.shopify.id_token import decode_id_token

from ..helpers import API_KEY, API_SECRET, id_token, webhook_headers
from ..support import SHOP_A, bench_backends, start_stack
from . import percentiles, timed


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="bench-")
    database_url, redis_url, redis_server = bench_backends(tmp)
    app, app_server, _devstore, devstore_server = start_stack(
        database_url=database_url, redis_url=redis_url, instance_path=tmp
    )
    backend = "PostgreSQL + Redis" if os.environ.get("DATABASE_URL") else "SQLite + embedded Redis"
    rows = []
    token = id_token(SHOP_A)
    decode = timed(lambda: decode_id_token(token, api_key=API_KEY, secrets=[API_SECRET]), 5000)
    rows.append(("ID-token verification (in process)", percentiles(decode)))

    with httpx.Client(timeout=10) as http:
        http.get(f"{app_server.url}/", headers={"Authorization": f"Bearer {token}"})  # install
        home = timed(
            lambda: http.get(
                f"{app_server.url}/", headers={"Authorization": f"Bearer {id_token(SHOP_A)}"}
            ).raise_for_status(),
            300,
        )
        rows.append(("admin home, authenticated fetch (incl. GraphQL)", percentiles(home)))

        body = json.dumps(
            {"id": 1, "admin_graphql_api_id": "gid://shopify/Order/1", "note": "x" * 2000}
        ).encode()

        def ack():
            headers = webhook_headers(SHOP_A, "orders/create", body, webhook_id=str(uuid.uuid4()))
            http.post(
                f"{app_server.url}/webhooks", content=body, headers=headers
            ).raise_for_status()

        timed(ack, 50)
        rows.append(("webhook acknowledgement (2 KB orders/create)", percentiles(timed(ack, 1000))))

    app_server.stop()
    devstore_server.stop()
    if redis_server is not None:
        redis_server.shutdown()
    machine = platform.processor() or platform.machine()
    print(f"\n{backend} · {machine} · Python {platform.python_version()}")
    print("\n| measurement | n | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|")
    for name, p in rows:
        print(f"| {name} | {p['n']} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} |")


if __name__ == "__main__":
    main()
