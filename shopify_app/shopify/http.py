"""The outbound HTTP client and the URLs of a shop, from configuration."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from .errors import RetryableError

USER_AGENT = "shopify-referrals/0.1 (+httpx)"


def make_http_client(timeout: float) -> httpx.Client:
    """One pooled, thread-safe client with a timeout on every phase; never without one."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=False,
    )


def shop_url(template: str, shop: str, path: str) -> str:
    """`https://{shop}` + path in production; the devstore's `/shops/{shop}` prefix locally."""
    return template.format(shop=shop).rstrip("/") + path


def send_with_retries(
    send: Callable[[], httpx.Response], *, attempts: int = 3, backoff: float = 0.5
) -> httpx.Response:
    """Call `send`, retrying network errors, 429 and 5xx with exponential backoff."""
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            response = send()
        except httpx.TransportError as exc:
            last = exc
        else:
            if response.status_code == 429 or response.status_code >= 500:
                last = RetryableError(f"HTTP {response.status_code}")
                retry_after = response.headers.get("Retry-After")
                if (
                    retry_after
                    and retry_after.replace(".", "", 1).isdigit()
                    and attempt < attempts - 1
                ):
                    time.sleep(min(float(retry_after), 10.0))
                    continue
            else:
                return response
        if attempt < attempts - 1:
            time.sleep(backoff * (2**attempt))
    raise RetryableError(f"request failed after {attempts} attempts: {last}") from last
