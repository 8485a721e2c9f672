"""Jobs for the worker tests: each notes the process that ran it in Redis."""

from __future__ import annotations

import os
import time

from sqlalchemy import text

from shopify_app.db import get_session
from shopify_app.jobs import redis_connection

RAN = "test:worker:ran"


def note_process() -> int:
    """Note this process and touch the database, as every real job does."""
    get_session().execute(text("SELECT 1"))
    redis_connection().rpush(RAN, os.getpid())
    return os.getpid()


def crash() -> None:
    """Die as a segfaulting extension or the OOM killer would take a process down."""
    redis_connection().rpush(RAN, os.getpid())
    os._exit(70)


def fail() -> None:
    redis_connection().rpush(RAN, os.getpid())
    raise RuntimeError("this job fails")


def hang(seconds: float) -> None:
    redis_connection().rpush(RAN, os.getpid())
    time.sleep(seconds)


def ran() -> list[int]:
    return [int(pid) for pid in redis_connection().lrange(RAN, 0, -1)]
