"""Webhook delivery to the subscriptions in the app's `shopify.app.toml`, as Shopify does it.

Signed with the app secret (base64 HMAC-SHA256 of the body), Shopify's headers, at least
once: a failed delivery (non-2xx, or no answer within 5 s) is retried 8 times with
exponential backoff over about 4 hours, `time_scale` shrinking that for tests. Faults for
reliability tests: drop, duplicate, reorder (held back behind the next one), delay; chosen at
random (`fault_rates`), for the next deliveries (`next_faults`) or for every delivery of a
topic (`topic_faults`, e.g. `{"orders/paid": "drop"}`).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from .app_config import RegisteredApp

log = logging.getLogger(__name__)

RETRY_DELAYS = (60, 120, 240, 480, 960, 1920, 3840, 7680)  # 8 retries, ~4 h
FAULTS = ("drop", "duplicate", "reorder", "delay")


@dataclass(order=True)
class Scheduled:
    due: float
    seq: int
    delivery: Delivery = field(compare=False)


@dataclass
class Delivery:
    shop: str
    topic: str
    uri: str
    body: bytes
    webhook_id: str
    event_id: str
    triggered_at: str
    attempt: int = 0


class WebhookDispatcher:
    def __init__(self, app: RegisteredApp, *, time_scale: float = 1.0, seed: int = 0):
        self.app = app
        self.time_scale = time_scale
        self.fault_rates: dict[str, float] = {}
        self.next_faults: list[str] = []
        self.topic_faults: dict[str, str] = {}
        self.rng = random.Random(seed)  # noqa: S311 - fault injection, not security
        self.log: list[dict] = []  # one entry per attempt (and per dropped delivery)
        self._heap: list[Scheduled] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._sending: dict[int, Delivery] = {}  # id(delivery) -> delivery, while in flight
        self.on_change: Callable[[], None] | None = None  # a persistent devstore saves
        self._held: Delivery | None = None
        self._stop = False
        self._http = httpx.Client(timeout=httpx.Timeout(5.0, connect=1.0))
        self._thread = threading.Thread(target=self._run, name="devstore-webhooks", daemon=True)
        self._thread.start()

    def uris_for(self, topic: str) -> list[str]:
        uris = []
        for sub in self.app.webhook_subscriptions:
            if topic in sub.get("topics", []) or topic in sub.get("compliance_topics", []):
                uris.append(sub["uri"])
        return uris

    def emit(self, shop: str, topic: str, payload: dict) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        event_id = str(uuid.uuid4())
        triggered_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        for uri in self.uris_for(topic):
            delivery = Delivery(shop, topic, uri, body, str(uuid.uuid4()), event_id, triggered_at)
            self._apply_fault(delivery)

    def _choose_fault(self, topic: str) -> str | None:
        if topic in self.topic_faults:
            return self.topic_faults[topic]
        if self.next_faults:
            return self.next_faults.pop(0)
        for fault in FAULTS:
            if self.rng.random() < self.fault_rates.get(fault, 0.0):
                return fault
        return None

    def _apply_fault(self, delivery: Delivery) -> None:
        fault = self._choose_fault(delivery.topic)
        with self._cond:
            if fault == "drop":
                self.log.append(self._entry(delivery, "dropped"))
                return
            if fault == "reorder" and self._held is None:
                self._held = delivery  # goes out right after the next delivery
                return
            delay = 2.0 * self.time_scale if fault == "delay" else 0.0
            self._schedule(delivery, delay)
            if fault == "duplicate":
                self._schedule(Delivery(**{**delivery.__dict__, "attempt": 0}), 0.0)
            if self._held is not None and self._held is not delivery:
                held, self._held = self._held, None
                self._schedule(held, 0.001)

    def _schedule(self, delivery: Delivery, delay: float) -> None:
        heapq.heappush(self._heap, Scheduled(time.monotonic() + delay, next(self._seq), delivery))
        self._cond.notify_all()

    def _entry(self, d: Delivery, outcome: str, status: int | None = None) -> dict:
        return {
            "shop": d.shop,
            "topic": d.topic,
            "webhook_id": d.webhook_id,
            "attempt": d.attempt,
            "outcome": outcome,
            "status": status,
        }

    def headers(self, d: Delivery) -> dict[str, str]:
        digest = hmac.new(self.app.api_secret.encode(), d.body, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": d.topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": d.shop,
            "X-Shopify-API-Version": self.app.webhooks_api_version,
            "X-Shopify-Webhook-Id": d.webhook_id,
            "X-Shopify-Event-Id": d.event_id,
            "X-Shopify-Triggered-At": d.triggered_at,
        }

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0].due > time.monotonic()):
                    timeout = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stop:
                    return
                delivery = heapq.heappop(self._heap).delivery
                self._in_flight += 1
                self._sending[id(delivery)] = delivery
            try:
                self._send(delivery)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._sending.pop(id(delivery), None)
                    self._cond.notify_all()
                if self.on_change is not None:
                    self.on_change()

    def _send(self, d: Delivery) -> None:
        status = None
        try:
            response = self._http.post(
                self.app.application_url + d.uri, content=d.body, headers=self.headers(d)
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            log.info("webhook %s to %s failed: %s", d.topic, d.uri, exc)
        ok = status is not None and 200 <= status < 300
        with self._cond:
            self.log.append(self._entry(d, "delivered" if ok else "failed", status))
            if not ok and d.attempt < len(RETRY_DELAYS):
                retry = Delivery(**{**d.__dict__, "attempt": d.attempt + 1})
                self._schedule(retry, RETRY_DELAYS[d.attempt] * self.time_scale)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is scheduled or in flight (a held 'reorder' is released first)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._held is not None:
                held, self._held = self._held, None
                self._schedule(held, 0.0)
            while self._heap or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def pending(self) -> list[tuple[Delivery, float]]:
        """What is still to be delivered, with seconds until each is due: scheduled and held
        deliveries, and those in flight (sent again after a restart: at least once)."""
        with self._cond:
            moment = time.monotonic()
            due = [(s.delivery, max(0.0, s.due - moment)) for s in self._heap]
            due += [(d, 0.0) for d in self._sending.values()]
            if self._held is not None:
                due.append((self._held, 0.0))
        return due

    def restore(self, deliveries: list[tuple[Delivery, float]]) -> None:
        """Schedule deliveries saved by `pending` (a restarted devstore's retries)."""
        with self._cond:
            for delivery, delay in deliveries:
                self._schedule(delivery, delay)

    def reset(self) -> None:
        """Forget scheduled deliveries, faults and the log (between tests)."""
        with self._cond:
            self._heap.clear()
            self._held = None
            self.log.clear()
            self.fault_rates = {}
            self.next_faults = []
            self.topic_faults = {}

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._http.close()
