"""Benchmarks (not tests): `make bench`, results recorded in docs/performance.md."""

import os
import platform
import tempfile
import time
from dataclasses import dataclass
from typing import Any


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds of samples in seconds."""
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "n": len(ordered)}


def timed(fn, n: int) -> list[float]:
    """Seconds each of `n` calls of `fn` took."""
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def machine_speed(database_url: str | None = None) -> str:
    """How fast this machine is right now, to print beside a run's results.

    The same code measured 9 ms one day and 18 ms another on these shared two-core
    machines; these numbers tell such days apart. A pure-Python loop (5M additions), the
    app's ID-token check (docs/performance.md has it for every machine since the first), and,
    on PostgreSQL, one `SELECT 1` round trip back to back and right after 0.5 ms of
    Python work (as in a request, when the server's core has gone idle in between).
    """
    import statistics

    start = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    text = f"5M Python additions {time.perf_counter() - start:.2f} s"
    from shopify_app.shopify.id_token import decode_id_token

    from ..helpers import API_KEY, API_SECRET, id_token
    from ..support import SHOP_A

    token = id_token(SHOP_A)
    verify = percentiles(
        timed(lambda: decode_id_token(token, api_key=API_KEY, secrets=[API_SECRET]), 2000)
    )
    text += f"; ID-token verification p50 {verify['p50']:.3f} ms (0.04 ms on 2026-11-23's AMD EPYC)"
    if database_url and database_url.startswith("postgresql"):
        import psycopg

        def busy() -> None:
            until = time.perf_counter() + 0.0005
            while time.perf_counter() < until:
                pass

        with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as c:
            cur = c.cursor()

            def trip() -> float:
                begin = time.perf_counter()
                cur.execute("SELECT 1").fetchall()
                return time.perf_counter() - begin

            tight = statistics.median(trip() for _ in range(500))
            spaced = []
            for _ in range(500):
                busy()
                spaced.append(trip())
        text += (
            f"; PostgreSQL round trip {tight * 1000:.2f} ms back to back, "
            f"{statistics.median(spaced) * 1000:.2f} ms after Python work"
        )
    return text


@dataclass
class BenchStack:
    """The app and the devstore on live servers over the bench's database and Redis."""

    app: Any
    database_url: str
    backend: str
    _servers: tuple[Any, ...]
    _redis_server: Any

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        if self._redis_server is not None:
            self._redis_server.shutdown()


def start_bench(prefix: str, *, keep: bool = False) -> BenchStack:
    """Backends from DATABASE_URL/REDIS_URL (or embedded ones in a fresh folder) and the
    stack over them. A kept database keeps its shops' tokens, encrypted with the instance's
    key: with `keep` the instance folder is kept too, per database."""
    from ..support import bench_backends, start_stack

    tmp = tempfile.mkdtemp(prefix=prefix)
    database_url, redis_url, redis_server = bench_backends(tmp, keep=keep)
    instance = tmp
    if keep:
        name = database_url.rsplit("/", 1)[-1]
        instance = os.path.expanduser(f"~/.cache/referrals-bench/{name}")
    os.makedirs(instance, exist_ok=True)
    app, app_server, _devstore, devstore_server = start_stack(
        database_url=database_url, redis_url=redis_url, instance_path=instance
    )
    backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    return BenchStack(app, database_url, backend, (app_server, devstore_server), redis_server)


def machine_line() -> str:
    """The machine, the Python and the date, as each result's heading names them."""
    machine = platform.processor() or platform.machine()
    return (
        f"{machine} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"{time.strftime('%Y-%m-%d')}"
    )


def staff_get(client, shop: str | None = None):
    """`get(path, **params)` for an in-process test client: a fresh ID token of `shop`'s staff
    on each request (as App Bridge sends), asserting 200."""
    from ..helpers import id_token
    from ..support import SHOP_A

    def auth() -> dict[str, str]:
        return {"Authorization": f"Bearer {id_token(shop or SHOP_A)}"}

    def get(path: str, **params: str):
        response = client.get(path, query_string=params, headers=auth())
        assert response.status_code == 200, (path, params, response.status_code)
        return response

    get.auth = auth  # type: ignore[attr-defined]
    return get


def print_request_table(rows: list[tuple[str, dict[str, float]]]) -> None:
    """The Markdown table docs/performance.md keeps for in-process request timings."""
    print("| request (server time, in process) | n | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for name, p in rows:
        print(f"| {name} | {p['n']} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} |")
