"""The pipe pair between a worker and its resident work horse: one JSON object per line.

The worker sends `{"job": id, "queue": name, "execution": id}`; the horse answers
`{"done": id}` when the job has run (RQ's own bookkeeping included) and `{"ready": true}` when
it can take the next. End of file either way means the other side has gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import sys
import time
from typing import Any, Final


class _Signal:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


TIMEOUT: Final = _Signal("TIMEOUT")
CLOSED: Final = _Signal("CLOSED")


class Channel:
    """One side's ends of the two pipes."""

    def __init__(self, incoming: int, outgoing: int):
        self._in = incoming
        self._out = outgoing
        self._buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        """Write one message; raises OSError (BrokenPipeError) if the other side has gone."""
        data = json.dumps(message).encode() + b"\n"
        while data:
            data = data[os.write(self._out, data) :]

    def receive(self, timeout: float | None) -> dict[str, Any] | _Signal:
        """The next message, TIMEOUT after `timeout` seconds without one, or CLOSED."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([self._in], [], [], remaining)
            if not readable:
                return TIMEOUT
            chunk = os.read(self._in, 65536)
            if not chunk:
                return CLOSED
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def closed(self) -> bool:
        """Whether the other side has gone, without waiting (what it sent is kept)."""
        readable, _, _ = select.select([self._in], [], [], 0)
        if not readable:
            return False
        chunk = os.read(self._in, 65536)
        self._buffer += chunk
        return not chunk

    def close(self) -> None:
        for fd in (self._in, self._out):
            with contextlib.suppress(OSError):
                os.close(fd)


def channel_pair() -> tuple[Channel, Channel]:
    """(the worker's side, the horse's side); each process closes the other's after fork."""
    to_horse_r, to_horse_w = os.pipe()
    from_horse_r, from_horse_w = os.pipe()
    return Channel(from_horse_r, to_horse_w), Channel(to_horse_r, from_horse_w)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
