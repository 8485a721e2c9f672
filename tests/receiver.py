"""A real webhook receiver for the outgoing webhook tests and benchmark: a small threaded
HTTP server on 127.0.0.1 that records every request. Its `mode` says how it answers:
`ok` (200 and a short JSON body), `error` (500), or `hang` (it reads the request and then
answers nothing until `release()`; a worker waiting on it is what its timeout is for)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer waits out a delayed ACK (40 ms)

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                if receiver.mode == "hang":
                    receiver._released.wait(60)
                    self.close_connection = True
                    return
                status, answer = (200, b'{"ok":true}') if receiver.mode == "ok" else (500, b"boom")
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self._headers_buffer.append(b"\r\n" + answer)  # headers and body: one write
                self.flush_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def release(self) -> None:
        self._released.set()

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, request: Received) -> dict:
    """The request checked with the Standard Webhooks reference library; its payload."""
    return Webhook(secret).verify(request.body, request.headers)


def dead_url() -> str:
    """A local URL where nothing listens (connection refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"
