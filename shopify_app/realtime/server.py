"""The realtime process (`referrals realtime`): Server-Sent Events for the widget and the inbox.

    GET /events/shopper?token=   one conversation's events (token from the app proxy)
    GET /events/staff?token=     every event of the staff's shop (token from the admin)
    GET /health                  {"ok", "redis", "connections"}

A separate asyncio process (aiohttp), so an open chat never holds a web worker. It has no
database: a stream's token says what it may hear. One Redis pub/sub connection per process
carries every channel its clients need (subscribed while someone listens), and each Redis
message is parsed and framed once, then queued to every local client of that channel.

The stream starts with `retry:` and an `event: ready` once the channel is subscribed: a client
fetches what it missed (Flask's JSON, `after=<last id>`) after `ready`, so nothing published
before or while it was away is lost. Heartbeat comments every HEARTBEAT_SECONDS keep proxies
from closing idle streams. When the token expires the stream sends `event: token_expired` and
ends: the client fetches a new token and reconnects (an expired or invalid token is a 401).
If the process loses Redis it ends every stream, so that each client reconnects and catches
up rather than silently missing what was published meanwhile.

Shopper connections are presence (presence.py): registered on open, heartbeated every
TTL/3, given a grace on close; a sweeper in every process expires what a killed one left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from . import presence
from .publish import EVENTS, SHOPPER_VISIBLE_AUTHORS
from .tokens import RealtimeClaims, realtime_secret, verify_realtime_token

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
SWEEP_SECONDS = 0.5
SWEEP_BATCH = 500
PRESENCE_FLUSH_SECONDS = 0.02  # opened/closed shopper streams wait this long for company
REDIS_POOL = 8
CLIENT_QUEUE = 512  # frames waiting for a slow client before it is cut off (it catches up)
SUBSCRIBE_TIMEOUT = 10.0
CONTROL_CHANNEL = "rt:control"  # keeps the pub/sub connection subscribed with no clients
RETRY_MS = 2000
PUBSUB_CLIENT_NAME = "referrals-realtime-pubsub"  # in Redis' CLIENT LIST, with host and pid


def pubsub_client_name() -> str:
    return f"{PUBSUB_CLIENT_NAME}-{socket.gethostname()}-{os.getpid()}".replace(" ", "_")


CORS_HEADERS = {
    # Bearer tokens in the URL, no cookies: any origin (a storefront's own domain, the admin's
    # frame) may open a stream it holds a token for, and none gets more than the token allows.
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Cache-Control, Last-Event-ID",
    "Access-Control-Max-Age": "86400",
}
STREAM_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-store",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
    **CORS_HEADERS,
}

HEARTBEAT_FRAME = b": heartbeat\n\n"
EXPIRED_FRAME = b'event: token_expired\ndata: {"reconnect":true}\n\n'


def sse_frame(event: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@dataclass(eq=False)
class Client:
    claims: RealtimeClaims
    channel: str
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    # Frames to write; None ends the stream.
    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))

    def send(self, frame: bytes) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("a realtime client fell %d frames behind; closing it", CLIENT_QUEUE)
            self.close()

    def close(self) -> None:
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:  # nothing queued matters now: it reconnects and catches up
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class Hub:
    """The process's one Redis pub/sub connection, multiplexed to every local client."""

    def __init__(
        self,
        redis_url: str,
        *,
        presence_ttl: float,
        presence_grace: float,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ):
        # Commands (presence scripts) share a small pool: a reconnect storm of thousands of
        # streams queues for it rather than opening a Redis connection each.
        self.redis = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                redis_url, max_connections=REDIS_POOL, timeout=SUBSCRIBE_TIMEOUT
            )
        )
        # No transparent reconnect for the pub/sub connection: what was published while it
        # was down would be missed silently. A failure ends every stream instead (see above).
        self._pubsub_redis = aioredis.Redis.from_url(
            redis_url, retry=Retry(NoBackoff(), 0), client_name=pubsub_client_name()
        )
        self._last_pong = time.monotonic()
        self.presence_ttl = presence_ttl
        self.presence_grace = presence_grace
        self.heartbeat_seconds = heartbeat_seconds
        self.clients: dict[str, set[Client]] = {}
        self.shoppers: set[Client] = set()
        self.up = False
        self._pubsub: Any = None
        # Per channel, the SUBSCRIBE/UNSUBSCRIBE commands sent and not yet confirmed, in
        # order (Redis confirms them in order), with the future of a join waiting for one.
        self._inflight: dict[str, deque[tuple[str, asyncio.Future | None]]] = {}
        self._tasks: list[asyncio.Task] = []
        # Shopper streams opened / closed since the last flush (presence, in batches).
        self._opened: dict[str, tuple[int, int, str]] = {}
        self._closed: dict[str, tuple[int, int, str]] = {}
        self._flush: asyncio.Task | None = None
        self._heartbeat = self.redis.register_script(presence.HEARTBEAT)
        self._close = self.redis.register_script(presence.CLOSE)
        self._sweep = self.redis.register_script(presence.SWEEP)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="realtime-listen"),
            asyncio.create_task(self._every(self.heartbeat_seconds, self._tick), name="sse-hb"),
            asyncio.create_task(
                self._every(self.presence_ttl / 3, self._presence_heartbeat), name="presence-hb"
            ),
            asyncio.create_task(self._every(SWEEP_SECONDS, self._presence_sweep), name="sweep"),
            asyncio.create_task(self._every(10.0, self._unsubscribe_idle), name="unsubscribe"),
        ]

    async def stop(self) -> None:
        for clients in list(self.clients.values()):
            for client in list(clients):
                client.close()
        # Let the streams end and their presence be given its grace (clients reconnect to
        # another process within it, so their shoppers do not flicker offline).
        for _ in range(50):
            if not any(self.clients.values()):
                break
            await asyncio.sleep(0.05)
        with contextlib.suppress(Exception):
            await self._presence_flush()
        if self._flush is not None:
            self._flush.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        await self.redis.aclose()
        await self._pubsub_redis.aclose()

    def connection_count(self) -> int:
        return sum(len(c) for c in self.clients.values())

    # -- subscribing -----------------------------------------------------------------------

    async def join(self, client: Client) -> None:
        """Add `client` to its channel; returns once Redis confirmed the subscription."""
        if not self.up:
            raise ConnectionError("realtime is not connected to Redis")
        self.clients.setdefault(client.channel, set()).add(client)
        if client.claims.audience == "shopper":
            self.shoppers.add(client)
        waiter = asyncio.get_running_loop().create_future()
        self._inflight.setdefault(client.channel, deque()).append(("subscribe", waiter))
        try:
            await self._pubsub.subscribe(client.channel)
            await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_TIMEOUT)
        except BaseException:
            self.leave(client)
            raise

    def leave(self, client: Client) -> None:
        """Forget `client`; its channel is unsubscribed later if nobody else joins it."""
        clients = self.clients.get(client.channel)
        if clients is not None:
            clients.discard(client)
        self.shoppers.discard(client)

    async def _unsubscribe_idle(self) -> None:
        idle = [ch for ch, clients in self.clients.items() if not clients]
        for channel in idle:
            del self.clients[channel]
        if idle and self.up:
            for channel in idle:
                self._inflight.setdefault(channel, deque()).append(("unsubscribe", None))
            await self._pubsub.unsubscribe(*idle)

    # -- reading ---------------------------------------------------------------------------

    async def _listen(self) -> None:
        backoff = 0.2
        while True:
            try:
                self._pubsub = self._pubsub_redis.pubsub()
                self._inflight = {CONTROL_CHANNEL: deque([("subscribe", None)])}
                await self._pubsub.subscribe(CONTROL_CHANNEL)
                self._last_pong = time.monotonic()
                self.up = True
                backoff = 0.2
                log.info("realtime connected to Redis")
                async for message in self._pubsub.listen():
                    self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the connection: start it afresh
                log.warning("realtime lost Redis (%r); closing every stream", exc)
            finally:
                self.up = False
                self._drop_everyone()
                if self._pubsub is not None:
                    with contextlib.suppress(Exception):
                        await self._pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def _drop_everyone(self) -> None:
        for pending in self._inflight.values():
            for _kind, waiter in pending:
                if waiter is not None and not waiter.done():
                    waiter.set_exception(ConnectionError("Redis connection lost"))
        self._inflight = {}
        for clients in self.clients.values():
            for client in list(clients):
                client.close()
        self.clients = {}
        self.shoppers = set()

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "pong":
            self._last_pong = time.monotonic()
            return
        channel = message.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode()
        if kind in ("subscribe", "unsubscribe"):
            pending = self._inflight.get(channel)
            if pending:
                _sent, waiter = pending.popleft()
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
                if not pending:
                    del self._inflight[channel]
            return
        if kind != "message":
            return
        clients = self.clients.get(channel)
        if not clients:
            return
        frame = self._frame(channel, message.get("data"))
        if frame is None:
            return
        for client in list(clients):
            client.send(frame)

    def _frame(self, channel: str, raw: Any) -> bytes | None:
        try:
            envelope = json.loads(raw)
            event, data = envelope["event"], envelope["data"]
        except (TypeError, ValueError, KeyError):
            log.warning("ignoring a malformed realtime payload on %s", channel)
            return None
        if event not in EVENTS or not isinstance(data, dict):
            return None
        if (
            ":conv:" in channel
            and event == "message"
            and data.get("author") not in SHOPPER_VISIBLE_AUTHORS
        ):
            # publish_message never sends a note here; should anything else, it stops here.
            log.error("refused to forward a %r message to a shopper", data.get("author"))
            return None
        return sse_frame(event, data)

    # -- periodic work ---------------------------------------------------------------------

    @staticmethod
    async def _every(seconds: float, work) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis blip must not end the loop
                log.exception("realtime periodic %s failed", getattr(work, "__name__", work))

    async def _tick(self) -> None:
        for clients in self.clients.values():
            for client in clients:
                client.send(HEARTBEAT_FRAME)
        if not self.up:
            return
        if time.monotonic() - self._last_pong > 3 * self.heartbeat_seconds:
            # A connection that died without a FIN: drop it, the listener reconnects.
            log.warning("no PONG from Redis on the pub/sub connection; reconnecting")
            await self._pubsub.aclose()
            return
        await self._pubsub.ping()

    async def _presence_heartbeat(self) -> None:
        shoppers = list(self.shoppers)
        for i in range(0, len(shoppers), SWEEP_BATCH):  # Redis runs a script alone: keep it short
            # Only streams still open: one closed meanwhile has its grace, not a new TTL.
            batch = [
                _presence_triple(c) for c in shoppers[i : i + SWEEP_BATCH] if c in self.shoppers
            ]
            if batch:
                await self._heartbeat(
                    keys=[presence.INDEX_KEY],
                    args=presence.heartbeat_args(self.presence_ttl, batch),
                )

    async def _presence_sweep(self) -> None:
        while await self._sweep(keys=[presence.INDEX_KEY], args=[SWEEP_BATCH]) >= SWEEP_BATCH:
            pass

    # -- presence of one connection --------------------------------------------------------

    def shopper_opened(self, client: Client) -> None:
        """Register the stream with the next flush (a storm of streams is one script)."""
        self._opened[client.id] = _presence_triple(client)
        self._schedule_flush()

    def shopper_closed(self, client: Client) -> None:
        """Give the closed stream its grace with the next flush (the handler may be
        cancelled: nothing to await here)."""
        # Even when its opening was not flushed yet: the periodic heartbeat may have
        # registered it (CLOSE changes only what is there).
        self._opened.pop(client.id, None)
        self._closed[client.id] = _presence_triple(client)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        while self._opened or self._closed:  # including what came while a flush ran
            await asyncio.sleep(PRESENCE_FLUSH_SECONDS)
            try:
                await self._presence_flush()
            except Exception:  # the periodic heartbeat registers them; closes expire (TTL)
                log.exception("presence flush failed")

    async def _presence_flush(self) -> None:
        opened, self._opened = list(self._opened.values()), {}
        closed, self._closed = list(self._closed.values()), {}
        for i in range(0, len(opened), SWEEP_BATCH):
            await self._heartbeat(
                keys=[presence.INDEX_KEY],
                args=presence.heartbeat_args(self.presence_ttl, opened[i : i + SWEEP_BATCH]),
            )
        for i in range(0, len(closed), SWEEP_BATCH):
            await self._close(
                keys=[presence.INDEX_KEY],
                args=presence.heartbeat_args(self.presence_grace, closed[i : i + SWEEP_BATCH]),
            )


def _presence_triple(client: Client) -> tuple[int, int, str]:
    return client.claims.shop_id, client.claims.conversation_id or 0, client.id


# -- HTTP ---------------------------------------------------------------------------------

HUB = web.AppKey("hub", Hub)
SECRET = web.AppKey("secret", str)


async def stream(request: web.Request, audience: str) -> web.StreamResponse:
    hub = request.app[HUB]
    claims = verify_realtime_token(request.app[SECRET], request.query.get("token", ""), audience)
    if claims is None:
        return web.json_response(
            {"error": "invalid or expired token: fetch a new one"},
            status=401,
            headers=CORS_HEADERS,
        )
    client = Client(claims=claims, channel=claims.channel)
    try:
        await hub.join(client)
    except (ConnectionError, RedisError, OSError, TimeoutError):
        return web.json_response(
            {"error": "realtime is unavailable; retry"}, status=503, headers=CORS_HEADERS
        )
    loop = asyncio.get_running_loop()
    expiry = loop.call_later(max(0.0, claims.expires_at - time.time()), client.send, EXPIRED_FRAME)
    shopper = audience == "shopper"
    response = web.StreamResponse(headers=STREAM_HEADERS)
    try:
        await response.prepare(request)
        if shopper:
            hub.shopper_opened(client)
        await response.write(f"retry: {RETRY_MS}\n\n".encode() + sse_frame("ready", {}))
        while True:
            frame = await client.queue.get()
            if frame is None:
                break
            await response.write(frame)
            if frame is EXPIRED_FRAME:
                break
    except (ConnectionError, RedisError):
        pass  # the client went away (a cancellation, the usual way, ends the stream too)
    finally:
        expiry.cancel()
        hub.leave(client)
        if shopper:
            hub.shopper_closed(client)
    return response


async def shopper_events(request: web.Request) -> web.StreamResponse:
    return await stream(request, "shopper")


async def staff_events(request: web.Request) -> web.StreamResponse:
    return await stream(request, "staff")


async def preflight(_request: web.Request) -> web.Response:
    return web.Response(status=204, headers=CORS_HEADERS)


async def health(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    return web.json_response(
        {"ok": hub.up, "redis": hub.up, "connections": hub.connection_count()},
        status=200 if hub.up else 503,
        headers=CORS_HEADERS,
    )


def create_realtime_app(
    *, secret: str, redis_url: str, presence_ttl: float, presence_grace: float
) -> web.Application:
    app = web.Application()
    app[SECRET] = secret
    app[HUB] = Hub(redis_url, presence_ttl=presence_ttl, presence_grace=presence_grace)
    app.router.add_get("/events/shopper", shopper_events)
    app.router.add_get("/events/staff", staff_events)
    app.router.add_route("OPTIONS", "/events/shopper", preflight)
    app.router.add_route("OPTIONS", "/events/staff", preflight)
    app.router.add_get("/health", health)

    async def start(app: web.Application) -> None:
        await app[HUB].start()

    async def stop(app: web.Application) -> None:
        await app[HUB].stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    return app


def serve(config: Mapping[str, Any], *, host: str, port: int, redis_url: str) -> None:
    """Run until SIGINT/SIGTERM. No access log: the URLs carry tokens."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_realtime_app(
        secret=realtime_secret(config),
        redis_url=redis_url,
        presence_ttl=float(config["REALTIME_PRESENCE_TTL_SECONDS"]),
        presence_grace=float(config["REALTIME_PRESENCE_GRACE_SECONDS"]),
    )
    log.info("realtime listening on http://%s:%d", host, port)
    web.run_app(
        app,
        host=host,
        port=port,
        access_log=None,
        handler_cancellation=True,  # a client that goes away cancels its stream at once
        shutdown_timeout=5,
        backlog=4096,  # a reconnect storm (every stream of a restarted process at once)
        print=None,
        handle_signals=True,
    )
