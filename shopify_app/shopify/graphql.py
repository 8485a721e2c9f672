"""GraphQL Admin API client: explicit shop, token and version; no global session.

Throttling is cost-aware: Shopify answers THROTTLED with HTTP 200 and the bucket's state in
`extensions.cost`, from which the client computes how long to wait before retrying.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from .errors import GraphQLError, InvalidAccessToken, ThrottledError, UserErrors
from .http import send_with_retries, shop_url

log = logging.getLogger(__name__)


def throttle_wait(extensions: dict | None) -> float:
    """Seconds until the bucket again holds the requested cost: (requested - available) / rate."""
    cost = (extensions or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        requested = float(cost.get("requestedQueryCost") or 0)
        available = float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 0)
    except (TypeError, ValueError):
        return 1.0
    if rate <= 0:
        return 1.0
    return max(0.05, (requested - available) / rate)


def is_throttled(errors: Any) -> bool:
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED"
        for e in errors
    )


class AdminGraphQL:
    def __init__(
        self,
        http: httpx.Client,
        shop_url_template: str,
        api_version: str,
        *,
        max_throttle_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._http = http
        self._template = shop_url_template
        self.api_version = api_version
        self.max_throttle_wait = max_throttle_wait
        self._sleep = sleep

    def endpoint(self, shop: str) -> str:
        return shop_url(self._template, shop, f"/admin/api/{self.api_version}/graphql.json")

    def execute(
        self, shop: str, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one operation and return its `data`.

        Raises:
            InvalidAccessToken: HTTP 401, the token is expired, revoked or for another shop.
            ThrottledError: still THROTTLED after waiting `max_throttle_wait` seconds in all.
            GraphQLError: any other top-level `errors`.
            RetryableError: network errors or 5xx persisted through the retries.
        """
        url = self.endpoint(shop)
        headers = {"X-Shopify-Access-Token": token, "Content-Type": "application/json"}
        body = {"query": query, "variables": variables or {}}
        waited = 0.0
        while True:
            response = send_with_retries(lambda: self._http.post(url, json=body, headers=headers))
            if response.status_code == 401:
                raise InvalidAccessToken(f"Admin API refused the access token for {shop}")
            if response.status_code != 200:
                raise GraphQLError(f"Admin API HTTP {response.status_code}: {response.text[:200]}")
            payload = response.json()
            errors = payload.get("errors")
            if is_throttled(errors):
                wait = throttle_wait(payload.get("extensions"))
                if waited + wait > self.max_throttle_wait:
                    raise ThrottledError(f"{shop}: still throttled after {waited:.1f}s", wait)
                log.info("%s throttled; waiting %.2fs", shop, wait)
                self._sleep(wait)
                waited += wait
                continue
            if errors:
                first = errors[0].get("message") if isinstance(errors, list) and errors else errors
                raise GraphQLError(
                    f"GraphQL error: {first}", errors if isinstance(errors, list) else []
                )
            return payload.get("data") or {}

    def mutate(
        self, shop: str, token: str, mutation: str, variables: dict[str, Any], payload_key: str
    ) -> dict[str, Any]:
        """Run a mutation and return its payload; `userErrors` raise `UserErrors`."""
        result = (self.execute(shop, token, mutation, variables) or {}).get(payload_key) or {}
        if result.get("userErrors"):
            raise UserErrors(payload_key, result["userErrors"])
        return result
