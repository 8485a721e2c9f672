"""What a worker pays per job beyond the job: N small jobs (one DELETE and a commit each,
`purge_expired_oauth_states`), one worker process in burst mode, per worker kind.

    python -m tests.bench.worker_overhead [--jobs 300]
    DATABASE_URL=… REDIS_URL=… python -m tests.bench.worker_overhead

Each kind runs in its own process, built from the environment as `referrals worker` is.
Uses DATABASE_URL/REDIS_URL when set (the database is emptied), else SQLite and an
embedded Redis. Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from shopify_app import create_app

from ..support import bench_backends, process_env
from .reward_latency import WORKERS, machine

RUN = """
import sys, time
from rq import Worker
from shopify_app import create_app
from workers.worker import AppContextMixin, build_worker

kind = sys.argv[1]
app = create_app()
worker = build_worker(app, simple=kind == "in-process")
if kind == "per-job-fork":
    class PerJobForkWorker(AppContextMixin, Worker):
        pass
    worker = PerJobForkWorker(worker.queues, connection=worker.connection)
    worker.app = app
ended = []
teardown = worker.teardown
worker.teardown = lambda: (ended.append(time.perf_counter()), teardown())
start = time.perf_counter()
worker.work(burst=True, logging_level="WARNING")
print(ended[0] - start)  # start-up and every job; not the shutdown
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-worker-")
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
    from shopify_app.jobs import get_queue
    from workers import maintenance

    backend = "PostgreSQL + Redis" if database_url.startswith("postgres") else "SQLite + Redis"
    load = os.getloadavg()[0]
    rows = []
    try:
        for kind in ("per-job-fork", "resident", "in-process"):
            with app.app_context():
                queue = get_queue()
                queue.empty()
                for _ in range(args.jobs):
                    queue.enqueue(maintenance.purge_expired_oauth_states)
            done = subprocess.run(
                [sys.executable, "-c", RUN, kind],
                env=process_env(app),
                capture_output=True,
                text=True,
                check=True,
            )
            seconds = float(done.stdout.strip().splitlines()[-1])
            rows.append(
                f"| {backend} | {WORKERS[kind]} | {args.jobs} | {seconds * 1000 / args.jobs:.1f} |"
            )
    finally:
        if redis_server is not None:
            redis_server.shutdown()
    print(f"\n{time.strftime('%Y-%m-%d %H:%M')} · {machine()} · load {load:.2f}\n")
    print("| backend | worker | jobs | ms per job (start-up included) |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
