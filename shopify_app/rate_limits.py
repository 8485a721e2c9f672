"""Rate limits on the public endpoints, counted in the app's own Redis with `limits` (the
library behind Flask-Limiter: its fixed-window strategy and Redis storage).

| setting | endpoints | counted per |
|---|---|---|
| `RATE_LIMIT_REFERRAL_LINK` | `/r/<code>` | client address |
| `RATE_LIMIT_AUTH` | `/auth`, `/auth/callback` (the OAuth grant) | client address |
| `RATE_LIMIT_PROXY` | `/proxy` and everything under it (the chat too) | the shopper's address |
| `RATE_LIMIT_SIGNUP` | `/proxy/subscribe` (also) | the shopper's address |
| `RATE_LIMIT_SIGNUP_ADDRESS` | `/proxy/subscribe` (also) | the address signed up (a digest) |
| `RATE_LIMIT_CHAT_START` | `/proxy/chat/start` (also), opening one | the shopper's address |
| `RATE_LIMIT_CHAT_MESSAGE` | `/proxy/chat/messages` POST (also) | the conversation |
| `RATE_LIMIT_PIXEL` | `/pixel/events` (the web pixel's cart events) | client address |
| `RATE_LIMIT_PIXEL_EVENT` | `/pixel/events` (also) | the conversation |
| `RATE_LIMIT_API_KEY` | `/api/v1` (`api.limits`) | the API key |
| `RATE_LIMIT_API_SHOP` | `/api/v1` (`api.limits`) | the API key's shop |

Each is one budget shared by its endpoints; the signup budgets are checked by the view
(`limit`), the signup's address once it has been read from the form. A request over a
budget gets 429 with `Retry-After` (seconds until its window ends). Nothing else is limited:
webhooks are signed by Shopify and must never be refused, the embedded admin is
authenticated by ID tokens, and the webhook intake (the hottest path) pays one dict lookup.

Behind Shopify's app proxy every request comes from Shopify's servers, so `/proxy` counts
the shopper's address Shopify forwarded (`storefront.proxy_signature.shopper_ip`, believed only on a
signed request); an unsigned one counts against the address that sent it. When Redis
cannot be reached requests are let through and a warning is logged: a storefront link
must not break because the limiter cannot count.

Flask-Limiter itself is not used: it hooks every request of the app (about 35 µs each,
measured on the webhook intake) to serve limits this app does not have.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import Flask, current_app, render_template, request
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from .client_address import client_ip
from .storefront.proxy_signature import shopper_ip

log = logging.getLogger(__name__)

KEY_PREFIX = "ratelimit"


def client_key() -> str:
    return client_ip() or "unknown"


def shopper_key() -> str:
    return shopper_ip() or client_key()


# budget: (setting, what it counts per; None: the view names the key)
BUDGETS: dict[str, tuple[str, Callable[[], str] | None]] = {
    "referral-link": ("RATE_LIMIT_REFERRAL_LINK", client_key),
    "auth": ("RATE_LIMIT_AUTH", client_key),
    "proxy": ("RATE_LIMIT_PROXY", shopper_key),
    "signup": ("RATE_LIMIT_SIGNUP", shopper_key),
    "signup-address": ("RATE_LIMIT_SIGNUP_ADDRESS", None),
    "chat-start": ("RATE_LIMIT_CHAT_START", shopper_key),
    "chat-message": ("RATE_LIMIT_CHAT_MESSAGE", None),
    "pixel": ("RATE_LIMIT_PIXEL", client_key),
    "pixel-event": ("RATE_LIMIT_PIXEL_EVENT", None),
    "api-key": ("RATE_LIMIT_API_KEY", None),
    "api-shop": ("RATE_LIMIT_API_SHOP", None),
}
ENDPOINT_BUDGETS = {
    "storefront.referral_link": "referral-link",
    "auth.begin": "auth",
    "auth.callback": "auth",
}
BLUEPRINT_BUDGETS = {"proxy": "proxy", "chat_proxy": "proxy", "pixel": "pixel"}


@dataclass(frozen=True)
class Window:
    """Where one key stands in a budget's tightest limit after this request."""

    limit: int
    remaining: int
    reset_after: int  # seconds until the window ends
    allowed: bool


class RateLimited(TooManyRequests):
    description = "Too many requests; try again soon."


class RateLimits:
    """The budgets of one app; Redis is first used by the first limited request."""

    def __init__(self, app: Flask) -> None:
        self._connection = app.extensions["redis"].connection
        self.limits: dict[str, list[RateLimitItem]] = {
            budget: parse_many(app.config[setting]) for budget, (setting, _) in BUDGETS.items()
        }
        self._strategy: FixedWindowRateLimiter | None = None
        self._failing = False

    def strategy(self) -> FixedWindowRateLimiter:
        if self._strategy is None:
            storage = RedisStorage(
                "redis://",
                connection_pool=self._connection().connection_pool,
                key_prefix=KEY_PREFIX,
            )
            self._strategy = FixedWindowRateLimiter(storage)
        return self._strategy

    def check(self, budget: str, key: str) -> None:
        """Count one request against `budget` for `key`; raise `RateLimited` when over."""
        try:
            strategy = self.strategy()
            for item in self.limits[budget]:
                if not strategy.hit(item, budget, key):
                    reset_at, _remaining = strategy.get_window_stats(item, budget, key)
                    raise RateLimited(retry_after=max(1, math.ceil(reset_at - time.time())))
        except redis.RedisError as exc:
            if not self._failing:
                log.warning("rate limits not counted, Redis unreachable: %s", exc)
            self._failing = True
            return
        self._failing = False

    def window(self, budget: str, key: str) -> Window | None:
        """Count one request against `budget` for `key` and say where it stands (the limit
        with the fewest requests left; a refused one first). None when Redis cannot be
        reached (the request goes through, as with `check`)."""
        try:
            strategy = self.strategy()
            tightest: Window | None = None
            now = time.time()
            for item in self.limits[budget]:
                allowed = strategy.hit(item, budget, key)
                reset_at, remaining = strategy.get_window_stats(item, budget, key)
                seen = Window(
                    item.amount, max(0, remaining), max(1, math.ceil(reset_at - now)), allowed
                )
                if tightest is None or (tightest.allowed, tightest.remaining) > (
                    seen.allowed,
                    seen.remaining,
                ):
                    tightest = seen
        except redis.RedisError as exc:
            if not self._failing:
                log.warning("rate limits not counted, Redis unreachable: %s", exc)
            self._failing = True
            return None
        self._failing = False
        return tightest


def limit(budget: str, key: str | None = None) -> None:
    """Count this request against `budget` (for `key`, else the budget's own key); raises
    `RateLimited` (429 + Retry-After) when over."""
    counted_per = BUDGETS[budget][1]
    if key is None:
        assert counted_per is not None, f"budget {budget} needs a key"
        key = counted_per()
    current_app.extensions["rate_limits"].check(budget, key)


def init_app(app: Flask) -> None:
    app.extensions["rate_limits"] = RateLimits(app)
    app.before_request(_limit_request)
    app.register_error_handler(RateLimited, _too_many_requests)


def _limit_request() -> None:
    budget = ENDPOINT_BUDGETS.get(request.endpoint or "") or BLUEPRINT_BUDGETS.get(
        request.blueprint or ""
    )
    if budget is not None:
        limit(budget)


def _too_many_requests(error: RateLimited):
    page = render_template("error.html", title="429 Too Many Requests", message=error.description)
    return page, 429, {"Retry-After": str(error.retry_after)}
