"""Test helpers that sign what Shopify signs, with the test app's real secret.

Independent of both the app's verifiers and the devstore's signers, so a bug on either
side shows up as a failing test rather than two wrongs agreeing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt

API_KEY = "test-api-key"
API_SECRET = "test-api-secret-0123456789abcdef"
OLD_API_SECRET = "test-old-secret-fedcba9876543210"


def id_token(
    shop: str,
    *,
    secret: str = API_SECRET,
    api_key: str = API_KEY,
    user_id: int = 42,
    exp_in: int = 60,
    nbf_in: int = 0,
    algorithm: str = "HS256",
    drop: tuple[str, ...] = (),
    **overrides: Any,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": api_key,
        "sub": str(user_id),
        "exp": now + exp_in,
        "nbf": now + nbf_in,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    claims.update(overrides)
    for name in drop:
        claims.pop(name, None)
    return jwt.encode(claims, secret, algorithm=algorithm)


def unsigned_token(shop: str) -> str:
    """An `alg: none` token with otherwise perfect claims."""
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    now = int(time.time())
    payload = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": API_KEY,
        "sub": "1",
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "jti": "x",
        "sid": "y",
    }
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{header}.{body}."


def webhook_signature(body: bytes, secret: str = API_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(
    shop: str,
    topic: str,
    body: bytes,
    *,
    webhook_id: str | None = None,
    secret: str = API_SECRET,
    triggered_at: str | None = None,
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Hmac-Sha256": webhook_signature(body, secret),
    }
    if triggered_at:
        headers["X-Shopify-Triggered-At"] = triggered_at
    return headers


def signed_query(params: dict[str, str], secret: str = API_SECRET) -> dict[str, str]:
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return {
        **params,
        "hmac": hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest(),
    }


def proxy_query(
    shop: str,
    customer_id: int | None = None,
    *,
    extra: dict[str, str] | None = None,
    timestamp: int | None = None,
    secret: str = API_SECRET,
) -> dict[str, str]:
    """The query Shopify adds to an app-proxy request, signed as Shopify signs it."""
    import time

    params = {
        **(extra or {}),
        "shop": shop,
        "logged_in_customer_id": "" if customer_id is None else str(customer_id),
        "path_prefix": "/apps/referrals",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
    }
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    return {
        **params,
        "signature": hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest(),
    }


def signed_proxy_pairs(
    pairs: list[tuple[str, str]], secret: str = API_SECRET
) -> list[tuple[str, str]]:
    """Query pairs, keys possibly repeated, signed as Shopify signs an app-proxy request:
    a repeated key's values joined by commas, `key=value` sorted and put side by side."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    message = "".join(sorted(f"{k}={','.join(v)}" for k, v in grouped.items()))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return [*pairs, ("signature", digest)]
