"""The realtime process as the tests run it (`referrals realtime` in a child process) and a
small Server-Sent Events client whose connection a test can close at a moment it chooses.

The client speaks HTTP/1.1 on a plain socket: closing it with shutdown() wakes its reader
thread and sends the server a FIN at once, as a browser closing a tab does (a blocked read
in another thread would keep an httpx stream's socket open).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import redis

from shopify_app.config import load_config
from shopify_app.realtime.tokens import issue_realtime_token, realtime_secret

from ..support import free_port, spawn, wait_until

# Short presence timings so the tests' waits are short; the rules are the same.
TEST_PRESENCE_TTL = "2"
TEST_PRESENCE_GRACE = "0.5"


@dataclass
class Event:
    event: str
    data: Any


class SSEClient:
    def __init__(self, base_url: str, path: str, *, origin: str | None = None):
        host, port = base_url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=20)
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
        if origin:
            lines.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._buffer = b""
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        self.status = int(head[0].split()[1])
        self.headers = {
            k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if h)
        }
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.seen: list[Event] = []
        self.ended = threading.Event()
        self._reader = threading.Thread(target=self._read_events, daemon=True)
        self.sock.settimeout(None)
        if self.status == 200:
            self._reader.start()
        else:
            self.close()

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self._buffer += data
        head, self._buffer = self._buffer.split(marker, 1)
        return head

    def _read_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self._buffer += data
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def _body(self) -> Iterator[bytes]:
        if self.headers.get("transfer-encoding") != "chunked":
            yield self._buffer
            self._buffer = b""
            while data := self.sock.recv(65536):
                yield data
            return
        while True:
            size = int(self._read_until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                return
            yield self._read_exact(size)
            self._read_exact(2)

    def _read_events(self) -> None:
        pending = b""
        try:
            for data in self._body():
                pending += data
                while b"\n\n" in pending:
                    block, pending = pending.split(b"\n\n", 1)
                    event = _parse(block.decode())
                    if event is not None:
                        self.events.put(event)
        except (ConnectionError, OSError):
            pass
        finally:
            self.ended.set()
            self.events.put(None)

    def next(
        self, predicate: Callable[[Event], bool] = lambda e: True, timeout: float = 30
    ) -> Event:
        """The next event that matches (the others are kept in `seen`)."""
        while True:
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no matching event within {timeout:.0f} s") from None
            if event is None:
                raise AssertionError(f"the stream ended; it had sent {self.seen}")
            self.seen.append(event)
            if predicate(event):
                return event

    def wait_ready(self) -> None:
        self.next(lambda e: e.event == "ready")

    def close(self) -> None:
        with suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        if self._reader.is_alive():
            self._reader.join(timeout=10)


def _parse(block: str) -> Event | None:
    event, data = "message", []
    for line in block.split("\n"):
        if line.startswith(":") or not line:
            continue  # a heartbeat comment
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if not data:
        return None
    return Event(event, json.loads("\n".join(data)))


class Realtime:
    """A `referrals realtime` child process on a free port."""

    def __init__(self, redis_url: str, workdir: Path, name: str = "realtime"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "APP_ENV": "test",
            "REDIS_URL": redis_url,
            "INSTANCE_PATH": str(workdir / "instance"),
            "REALTIME_PRESENCE_TTL_SECONDS": TEST_PRESENCE_TTL,
            "REALTIME_PRESENCE_GRACE_SECONDS": TEST_PRESENCE_GRACE,
        }
        self.secret = realtime_secret(load_config(self.env))
        self.redis = redis.Redis.from_url(redis_url)
        self.log = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Realtime:
        self.proc = spawn(
            [sys.executable, "-m", "shopify_app.cli", "realtime", "--port", str(self.port)],
            self.env,
            self.log,
        )
        wait_until(self._healthy, 60, f"the realtime process ({self.log})", interval=0.1)
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            return httpx.get(f"{self.url}/health", timeout=2).json()["redis"] is True
        except (httpx.HTTPError, ValueError):
            return False

    def kill(self) -> None:
        """SIGKILL: no goodbye to Redis, as when a machine dies."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.redis.close()

    def shopper_token(self, shop_id: int, conversation_id: int, **kw: Any) -> str:
        return issue_realtime_token(
            self.secret, shop_id=shop_id, audience="shopper", conversation_id=conversation_id, **kw
        )

    def staff_token(self, shop_id: int, **kw: Any) -> str:
        return issue_realtime_token(
            self.secret, shop_id=shop_id, audience="staff", staff_user_id=7, **kw
        )

    def shopper(self, shop_id: int, conversation_id: int, **kw: Any) -> SSEClient:
        token = quote(self.shopper_token(shop_id, conversation_id))
        return SSEClient(self.url, f"/events/shopper?token={token}", **kw)

    def staff(self, shop_id: int, **kw: Any) -> SSEClient:
        return SSEClient(self.url, f"/events/staff?token={quote(self.staff_token(shop_id))}", **kw)


@contextmanager
def streams() -> Iterator[list[SSEClient]]:
    """Collect the streams a test opens and close them all at its end."""
    opened: list[SSEClient] = []
    try:
        yield opened
    finally:
        for stream in opened:
            stream.close()
