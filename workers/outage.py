"""Riding out an outage of Redis or the database in a long-running process.

The scheduler, the worker (and the realtime process to come) must not exit because a
dependency went away for a while: a process that exits stops every periodic job with it. Each
keeps one `Outage` per dependency. The first failure logs one warning; the process then waits,
probing with capped exponential backoff, for as long as it takes; the first success after it
logs one line with the outage's length, and work resumes. Nothing is logged in between.

What an outage loses is not this module's business: the database rows are the source of
truth, and the periodic sweepers re-enqueue work whose job was lost with Redis.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # refused, reset, and BusyLoadingError while it loads
    redis.exceptions.TimeoutError,
)
DATABASE_ERRORS: tuple[type[BaseException], ...] = (DBAPIError,)
STEP_SECONDS = 1.0


@dataclass(frozen=True)
class Backoff:
    """Waits of `first`, doubling up to `cap` seconds, each jittered by a tenth so that many
    processes do not reconnect in step."""

    first: float = 0.5
    cap: float = 30.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not a secret
            delay = min(delay * 2, self.cap)


class Outage:
    """One dependency as this process sees it: up, or down since a moment.

    `call(fn)` runs `fn` and, when it fails with one of `errors`, waits out the outage and
    runs it again, until it succeeds. `begin(exc)` notes a failure seen elsewhere (a thread,
    a library's own retry loop) without waiting; the next success ends the outage and runs
    `on_recovery` (re-register, resubscribe: whatever the dependency forgot). `begin` is
    safe to call from any thread.
    """

    def __init__(
        self,
        what: str,
        probe: Callable[[], Any],
        errors: tuple[type[BaseException], ...],
        *,
        log: logging.Logger,
        backoff: Backoff | None = None,
        stopping: Callable[[], bool] = lambda: False,
        on_recovery: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.what = what
        self.errors = errors
        self.probe = probe
        self._log = log
        self._backoff = backoff or Backoff()
        self._stopping = stopping
        self._on_recovery = on_recovery
        self._sleep = sleep
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def down(self) -> bool:
        return self._since is not None

    def begin(self, exc: BaseException) -> None:
        """Note a failure: the first of an outage logs a warning, the rest are silent."""
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        self._log.warning(
            "%s unreachable (%s: %s); retrying with backoff, will log when it is back",
            self.what,
            type(exc).__name__,
            _first_line(exc),
        )

    def end(self) -> None:
        """Note a success: the first after an outage logs how long it lasted."""
        with self._lock:
            since, self._since = self._since, None
        if since is None:
            return
        self._log.info(
            "%s reachable again after %.1f s of outage", self.what, time.monotonic() - since
        )
        if self._on_recovery is not None:
            try:
                self._on_recovery()
            except self.errors as exc:  # down again already: the next call notices
                self.begin(exc)

    def wait(self) -> bool:
        """Block until the probe answers, then end the outage. Returns False, still down,
        if the process started stopping meanwhile. Returns at once when not down."""
        if not self.down:
            return True
        for delay in self._backoff.delays():
            if not self._pause(delay):
                return False
            try:
                self.probe()
            except self.errors:
                # Silent at the default level (the outage is logged once); the outage tests
                # turn it on to see probes go by instead of sleeping through them.
                self._log.debug("%s still unreachable", self.what)
                continue
            self.end()
            return True
        raise AssertionError("unreachable")  # pragma: no cover - delays() never ends

    def _pause(self, seconds: float) -> bool:
        """Sleep in steps of at most STEP_SECONDS, so that a stop request (a flag a signal
        handler sets) is noticed within one; False if it came."""
        while seconds > 0:
            if self._stopping():
                return False
            step = min(seconds, STEP_SECONDS)
            self._sleep(step)
            seconds -= step
        return not self._stopping()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)`, run again after each outage until it succeeds. Raises the
        last error if the process starts stopping during the outage."""
        while True:
            try:
                result = fn(*args, **kwargs)
            except self.errors as exc:
                self.begin(exc)
                if not self.wait():
                    raise
                continue
            self.end()
            return result


def redis_outage(connection: redis.Redis, log: logging.Logger, **kwargs: Any) -> Outage:
    return Outage("Redis", connection.ping, REDIS_ERRORS, log=log, **kwargs)


def database_outage(engine: Engine, log: logging.Logger, **kwargs: Any) -> Outage:
    def probe() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return Outage("Database", probe, DATABASE_ERRORS, log=log, **kwargs)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]
