"""Sending deliveries: the job `workers.outgoing_jobs.deliver_endpoint` runs `drain` for one
endpoint; the periodic `sweep` starts drains for retries that came due and gives up on
deliveries older than about a day.

Isolation (a slow, hanging or dead endpoint never delays the others):
* **One delivery in flight per endpoint.** A drain takes the endpoint's lease (a time-limited
  claim in its row, like the shops' token-refresh lease: it lapses by itself if the worker
  dies), sends that endpoint's due deliveries one after another, and gives the lease back. A
  second job for the endpoint finds the lease taken and ends at once. So however many events
  pile up for a hanging endpoint, it holds at most one worker, for at most one timeout.
* **A failure holds the endpoint back, not the queue.** After a failed attempt (an error
  status, a refused connection, a timeout) the drain stops and the endpoint's `retry_at` is
  set by its consecutive failures (`ENDPOINT_BACKOFF`): until then its drains end at once,
  and then one delivery probes it. A dead endpoint costs one attempt per back-off, not one
  per delivery; a success lets its backlog flow again.
* **Short timeouts** (`OUTGOING_CONNECT_TIMEOUT_SECONDS`, `OUTGOING_READ_TIMEOUT_SECONDS`),
  no redirects followed, at most `EXCERPT_BYTES` of the answer read.
* **Bounded jobs.** A drain sends at most `BATCH` deliveries or for `BUDGET_SECONDS` (one
  delivery when the endpoint answers slower than `SLOW_MS`), then re-enqueues itself at the
  back of the queue, so a busy or slow endpoint takes turns with the others.

Each delivery is retried on the Standard Webhooks schedule (`SCHEDULE`: 5 s, 5 min, 30 min,
2 h, 5 h, 10 h, 10 h: eight attempts over about 27 hours), then `failed`. A delivery still
pending after `GIVE_UP_AFTER` (its endpoint held back or disabled all that time) is failed
by the sweep. An endpoint whose attempts have all failed for `DISABLE_AFTER` is disabled
with the reason, and its alert address is emailed.

No transaction is open while an endpoint answers. At-least-once: a worker killed mid-attempt
leaves the delivery pending, and it is sent again (receivers deduplicate by `webhook-id`).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from flask import current_app
from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.emails import queue_email, render
from shopify_app.i18n import N_, stored
from shopify_app.models import OutgoingDelivery, OutgoingEndpoint, OutgoingEvent, Shop, utcnow
from shopify_app.values import iso_utc as iso

from . import addresses, endpoints, signing
from .secrets_store import signing_secrets

log = logging.getLogger(__name__)

SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(SCHEDULE) + 1
GIVE_UP_AFTER = sum(SCHEDULE, timedelta()) + timedelta(hours=1)
ENDPOINT_BACKOFF = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
)
DISABLE_AFTER = timedelta(days=3)
# Finished deliveries, and events none of whose deliveries is pending, are kept this long
# for the log and for replays.
RETENTION = timedelta(days=30)
EXCERPT_BYTES = 1024
BATCH = 500
BUDGET_SECONDS = 10.0
# An answer slower than this ends the drain after it (re-enqueued at the back of the queue):
# a slow endpoint with a backlog takes turns with the other endpoints' jobs instead of
# keeping a worker to itself.
SLOW_MS = 1000
FETCH = 50
USER_AGENT = "ReferralsApp-Webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    latency_ms: int | None
    excerpt: str | None
    error: str | None


@dataclass(frozen=True)
class _Due:
    delivery_id: int
    public_id: str
    body: bytes


def envelope(event: OutgoingEvent) -> bytes:
    """The request body: `{"type", "timestamp", "data"}` (the Standard Webhooks payload
    structure), the same bytes on every attempt."""
    return json.dumps(
        {"type": event.event_type, "timestamp": iso(event.occurred_at), "data": event.data},
        separators=(",", ":"),
        sort_keys=True,
        default=str,
    ).encode()


def lease_length() -> timedelta:
    return timedelta(seconds=current_app.config["OUTGOING_TOTAL_TIMEOUT_SECONDS"] * 2 + 30)


def _take_lease(session: Session, endpoint_id: int, owner: str, now: datetime) -> bool:
    result = session.execute(
        update(OutgoingEndpoint)
        .where(
            OutgoingEndpoint.id == endpoint_id,
            OutgoingEndpoint.enabled.is_(True),
            or_(OutgoingEndpoint.lease_until.is_(None), OutgoingEndpoint.lease_until < now),
            or_(OutgoingEndpoint.retry_at.is_(None), OutgoingEndpoint.retry_at <= now),
        )
        .values(lease_until=now + lease_length(), lease_owner=owner)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def _release(session: Session, endpoint_id: int, owner: str) -> None:
    session.rollback()
    session.execute(
        update(OutgoingEndpoint)
        .where(OutgoingEndpoint.id == endpoint_id, OutgoingEndpoint.lease_owner == owner)
        .values(lease_until=None, lease_owner=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _due_batch(session: Session, endpoint_id: int, now: datetime) -> list[_Due]:
    rows = session.execute(
        select(OutgoingDelivery.id, OutgoingEvent)
        .join(OutgoingEvent, OutgoingEvent.id == OutgoingDelivery.event_id)
        .where(
            OutgoingDelivery.endpoint_id == endpoint_id,
            OutgoingDelivery.status == "pending",
            OutgoingDelivery.next_attempt_at <= now,
        )
        .order_by(OutgoingDelivery.next_attempt_at, OutgoingDelivery.id)
        .limit(FETCH)
    ).all()
    return [_Due(delivery_id, event.public_id, envelope(event)) for delivery_id, event in rows]


def has_due(session: Session, endpoint_id: int, now: datetime | None = None) -> bool:
    """Whether a drain of the endpoint would send something now."""
    now = now or utcnow()
    found = session.scalar(
        select(OutgoingDelivery.id)
        .join(OutgoingEndpoint, OutgoingEndpoint.id == OutgoingDelivery.endpoint_id)
        .where(
            OutgoingDelivery.endpoint_id == endpoint_id,
            OutgoingDelivery.status == "pending",
            OutgoingDelivery.next_attempt_at <= now,
            OutgoingEndpoint.enabled.is_(True),
            or_(OutgoingEndpoint.retry_at.is_(None), OutgoingEndpoint.retry_at <= now),
            or_(OutgoingEndpoint.lease_until.is_(None), OutgoingEndpoint.lease_until < now),
        )
        .limit(1)
    )
    return found is not None


def drain(session: Session, endpoint_id: int) -> str:
    """Send the endpoint's due deliveries while holding its lease (see the module
    docstring). Returns what happened, for the job's result."""
    owner = secrets.token_hex(8)
    if not _take_lease(session, endpoint_id, owner, utcnow()):
        return "not taken (busy, held back, disabled or gone)"
    sent = failed = 0
    started = time.monotonic()
    stop = False
    try:
        while not stop:
            batch = _due_batch(session, endpoint_id, utcnow())
            if not batch:
                break
            # The endpoint once per batch of at most FETCH: a rotation, a change or a
            # disabling is seen within a batch; its address is checked for the batch too.
            plan = _plan(session, endpoint_id, owner)
            session.commit()  # no transaction open while the endpoint answers
            if plan is None:  # disabled, deleted, or the lease was lost
                break
            target, signing_with, healthy = plan
            for due in batch:
                if isinstance(target, Outcome):  # the address was refused
                    outcome = target
                else:
                    outcome = send(target, due.public_id, due.body, signing_with)
                if outcome.ok:
                    _record_success(session, endpoint_id, due.delivery_id, outcome, owner, healthy)
                    healthy = True
                else:
                    record(session, endpoint_id, due.delivery_id, outcome, owner)
                    failed += 1
                    stop = True
                    break
                sent += 1
                slow = (outcome.latency_ms or 0) > SLOW_MS
                if slow or sent >= BATCH or time.monotonic() - started > BUDGET_SECONDS:
                    stop = True
                    break
    finally:
        _release(session, endpoint_id, owner)
    if has_due(session, endpoint_id):
        # More came due while the lease was held (a job that found it taken has ended), or
        # the budget ran out: another turn, at the back of the queue.
        jobs.get_queue().enqueue_call(jobs.DELIVER_OUTGOING, args=(endpoint_id,))
    session.commit()
    return f"sent {sent}, failed {failed}"


def _plan(
    session: Session, endpoint_id: int, owner: str
) -> tuple[addresses.Target | Outcome, list[str], bool] | None:
    """(the checked address, or the refusal as an outcome; the signing secrets; whether the
    endpoint's health record is clean), or None when the drain must stop."""
    endpoint = session.get(OutgoingEndpoint, endpoint_id, populate_existing=True)
    if endpoint is None or not endpoint.enabled or endpoint.lease_owner != owner:
        return None
    shop = session.get(Shop, endpoint.shop_id)
    if shop is None or not shop.is_installed:
        return None  # nothing leaves for a shop that uninstalled the app (kept if it returns)
    healthy = not (endpoint.consecutive_failures or endpoint.failing_since or endpoint.retry_at)
    allow_local = bool(current_app.config.get("OUTGOING_WEBHOOKS_ALLOW_LOCAL"))
    try:
        target: addresses.Target | Outcome = addresses.check(endpoint.url, allow_local=allow_local)
    except addresses.UnsafeURL as exc:
        target = Outcome(False, None, None, None, f"refused: {exc}")
    return target, signing_secrets(endpoint), healthy


def _record_success(
    session: Session,
    endpoint_id: int,
    delivery_id: int,
    outcome: Outcome,
    owner: str,
    healthy: bool,
) -> None:
    """The common case in two UPDATEs and a commit (no read): the delivery succeeded, the
    endpoint's last success and lease move on, its failure record is cleared if it had one."""
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # Without waiting for the WAL flush (about 5 ms a commit here): a crash may lose the
        # last few of these commits, and those deliveries are sent again (at-least-once, the
        # receiver deduplicates by webhook-id). Failures keep the durable commit.
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    session.execute(
        update(OutgoingDelivery)
        .where(OutgoingDelivery.id == delivery_id)
        .values(
            status="succeeded",
            attempts=OutgoingDelivery.attempts + 1,
            last_attempt_at=now,
            next_attempt_at=None,
            response_status=outcome.status,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt,
            error=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    values: dict = {"last_success_at": now, "lease_until": now + lease_length(), "updated_at": now}
    if not healthy:
        values.update(consecutive_failures=0, failing_since=None, retry_at=None)
    session.execute(
        update(OutgoingEndpoint)
        .where(OutgoingEndpoint.id == endpoint_id, OutgoingEndpoint.lease_owner == owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def send(target: addresses.Target, msg_id: str, body: bytes, signing_with: list[str]) -> Outcome:
    """POST `body` to the checked address (never following a redirect), signed, within
    `OUTGOING_TOTAL_TIMEOUT_SECONDS` in all. httpx's timeouts are per read: an endpoint that
    drips its answer a byte at a time, each within the read timeout, would hold the worker
    for hours. So the exchange runs on a helper thread the worker waits for until the
    deadline; past it the attempt is a timeout and the endpoint's connections are closed,
    which ends the helper's read within one read timeout."""
    client = _client(target)
    total = float(current_app.config["OUTGOING_TOTAL_TIMEOUT_SECONDS"])
    started = time.perf_counter()
    future = _sender().submit(_exchange, client, target, msg_id, body, signing_with)
    try:
        return future.result(timeout=total)
    except concurrent.futures.TimeoutError:
        _drop_client(target)
        latency = int((time.perf_counter() - started) * 1000)
        return Outcome(False, None, latency, None, f"timeout (no full answer in {total:g} s)")


def _exchange(
    client: httpx.Client,
    target: addresses.Target,
    msg_id: str,
    body: bytes,
    signing_with: list[str],
) -> Outcome:
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": target.host_header(),
        **signing.headers(signing_with, msg_id, int(time.time()), body),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    started = time.perf_counter()
    try:
        request = client.build_request(
            "POST", target.connect_url(), content=body, headers=headers, extensions=extensions
        )
        response = client.send(request, stream=True)
        try:
            excerpt = _read_excerpt(response)
        finally:
            response.close()
    except httpx.TimeoutException as exc:
        latency = int((time.perf_counter() - started) * 1000)
        return Outcome(False, None, latency, None, f"timeout ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        latency = int((time.perf_counter() - started) * 1000)
        return Outcome(False, None, latency, None, f"{type(exc).__name__}: {exc}"[:500])
    latency = int((time.perf_counter() - started) * 1000)
    ok = 200 <= response.status_code < 300
    error = None if ok else f"HTTP {response.status_code}"
    return Outcome(ok, response.status_code, latency, excerpt, error)


_senders: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


def _sender() -> concurrent.futures.ThreadPoolExecutor:
    """This process's helper threads (threads do not cross a fork: one pool per pid). A few:
    an abandoned exchange keeps its thread until its read ends."""
    pid = os.getpid()
    pool = _senders.get(pid)
    if pool is None:
        _senders.clear()
        pool = _senders[pid] = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="outgoing-send"
        )
    return pool


def _read_excerpt(response: httpx.Response) -> str:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= EXCERPT_BYTES:
            break
    return data[:EXCERPT_BYTES].decode("utf-8", errors="replace")


_clients: OrderedDict[tuple, httpx.Client] = OrderedDict()
_clients_pid = 0
MAX_CLIENTS = 64


def _client(target: addresses.Target) -> httpx.Client:
    """A pooled client per (scheme, host, address, port): a kept-alive connection is reused
    only for the host it was opened (and its certificate checked) for. Per process."""
    global _clients_pid
    if _clients_pid != os.getpid():
        _clients.clear()  # connections do not cross a fork
        _clients_pid = os.getpid()
    key = _client_key(target)
    client = _clients.get(key)
    if client is not None:
        _clients.move_to_end(key)
        return client
    cfg = current_app.config
    connect = float(cfg["OUTGOING_CONNECT_TIMEOUT_SECONDS"])
    read = float(cfg["OUTGOING_READ_TIMEOUT_SECONDS"])
    client = httpx.Client(
        timeout=httpx.Timeout(read, connect=connect, pool=connect),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
    )
    _clients[key] = client
    while len(_clients) > MAX_CLIENTS:
        _, old = _clients.popitem(last=False)
        old.close()
    return client


def _client_key(target: addresses.Target) -> tuple:
    return (target.scheme, target.host, target.ip, target.port)


def _drop_client(target: addresses.Target) -> None:
    """Close the endpoint's pooled connections (an exchange past its deadline is on one)."""
    client = _clients.pop(_client_key(target), None)
    if client is not None:
        client.close()


def record(
    session: Session, endpoint_id: int, delivery_id: int, outcome: Outcome, owner: str
) -> None:
    """Store the attempt on the delivery and the endpoint's health; renew the lease."""
    now = utcnow()
    delivery = session.get(OutgoingDelivery, delivery_id, populate_existing=True)
    endpoint = session.get(OutgoingEndpoint, endpoint_id, populate_existing=True)
    if delivery is None or endpoint is None:
        session.commit()
        return
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = outcome.status
    delivery.latency_ms = outcome.latency_ms
    delivery.response_excerpt = outcome.excerpt
    delivery.error = outcome.error
    if endpoint.lease_owner == owner:
        endpoint.lease_until = now + lease_length()
    if outcome.ok:
        delivery.status = "succeeded"
        delivery.next_attempt_at = None
        endpoint.last_success_at = now
        if endpoint.consecutive_failures or endpoint.failing_since or endpoint.retry_at:
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
            endpoint.retry_at = None
        session.commit()
        return
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + SCHEDULE[delivery.attempts - 1]
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.last_failure_at = now
    step = min(endpoint.consecutive_failures, len(ENDPOINT_BACKOFF)) - 1
    endpoint.retry_at = now + ENDPOINT_BACKOFF[step]
    log.info(
        "outgoing delivery %s to endpoint %s failed (attempt %s): %s",
        delivery.id,
        endpoint.id,
        delivery.attempts,
        outcome.error,
    )
    if endpoint.failing_since <= now - DISABLE_AFTER:
        disable_failing(session, endpoint, now)
    session.commit()


FAILING_REASON = stored(
    N_("Every delivery has failed since %(since)s; the app stopped sending to it.")
)


def disable_failing(session: Session, endpoint: OutgoingEndpoint, now: datetime) -> None:
    """Disable an endpoint that has only failed for `DISABLE_AFTER`, and email its alert
    address (once per disabling)."""
    shop = session.get(Shop, endpoint.shop_id)
    assert shop is not None and endpoint.failing_since is not None
    since = endpoint.failing_since.strftime("%Y-%m-%d %H:%M UTC")
    reason = FAILING_REASON % {"since": since}
    if not endpoints.disable(session, shop, endpoint, actor="system", reason=reason):
        return
    _email_disabled(session, shop, endpoint, since)


def _email_disabled(session: Session, shop: Shop, endpoint: OutgoingEndpoint, since: str) -> None:
    subject, body = render(
        "webhook_disabled",
        shop_name=shop.name or shop.domain,
        url=endpoint.url,
        since=since,
        reason=endpoint.disabled_reason,
    )
    queue_email(
        session,
        shop,
        kind="webhook_disabled",
        to=endpoint.alert_email,
        subject=subject,
        body=body,
        dedupe_key=f"webhook-disabled:{endpoint.id}:{endpoint.disabled_at.isoformat()}",
    )


def sweep(session: Session, now: datetime | None = None) -> dict[str, int]:
    """The periodic pass: fail deliveries pending for longer than `GIVE_UP_AFTER`, and
    start a drain for every enabled endpoint with a due delivery that nobody is sending."""
    now = now or utcnow()
    expired = session.execute(
        update(OutgoingDelivery)
        .where(
            OutgoingDelivery.status == "pending",
            OutgoingDelivery.created_at < now - GIVE_UP_AFTER,
        )
        .values(
            status="failed",
            next_attempt_at=None,
            error="not delivered within a day: the endpoint kept failing or was disabled",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    endpoint_ids = session.scalars(
        select(OutgoingDelivery.endpoint_id)
        .join(OutgoingEndpoint, OutgoingEndpoint.id == OutgoingDelivery.endpoint_id)
        .where(
            OutgoingDelivery.status == "pending",
            OutgoingDelivery.next_attempt_at <= now,
            OutgoingEndpoint.enabled.is_(True),
            or_(OutgoingEndpoint.retry_at.is_(None), OutgoingEndpoint.retry_at <= now),
            or_(OutgoingEndpoint.lease_until.is_(None), OutgoingEndpoint.lease_until < now),
        )
        .distinct()
    ).all()
    for endpoint_id in endpoint_ids:
        jobs.enqueue_after_commit(session, jobs.DELIVER_OUTGOING, endpoint_id, retry=None)
    session.commit()
    purged = purge(session, now)
    return {"expired": expired or 0, "drains": len(endpoint_ids), "purged": purged}


def purge(session: Session, now: datetime, limit: int = 5000) -> int:
    """Forget finished deliveries older than `RETENTION`, and events left without any
    delivery, a bounded batch per sweep. Returns how many deliveries went."""
    cutoff = now - RETENTION
    old = select(OutgoingDelivery.id).where(
        OutgoingDelivery.status != "pending", OutgoingDelivery.created_at < cutoff
    )
    ids = session.scalars(old.limit(limit)).all()
    if ids:
        session.execute(delete(OutgoingDelivery).where(OutgoingDelivery.id.in_(ids)))
        orphaned = (
            select(OutgoingEvent.id)
            .where(
                OutgoingEvent.occurred_at < cutoff,
                ~select(OutgoingDelivery.id)
                .where(OutgoingDelivery.event_id == OutgoingEvent.id)
                .exists(),
            )
            .limit(limit)
        )
        event_ids = session.scalars(orphaned).all()
        if event_ids:
            session.execute(delete(OutgoingEvent).where(OutgoingEvent.id.in_(event_ids)))
    session.commit()
    return len(ids)
