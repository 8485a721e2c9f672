"""What Shopify signs: ID tokens (HS256 JWT) and query strings (hex HMAC).

Written independently of the app's verifiers on purpose: if both sides shared one
function, a bug in it would be invisible to every test.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import jwt


def sign_id_token(
    *, shop: str, api_key: str, secret: str, user_id: int, ttl: int = 60, now: float | None = None
) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": api_key,
        "sub": str(user_id),
        "exp": issued + ttl,
        "nbf": issued,
        "iat": issued,
        "jti": str(uuid.uuid4()),
        "sid": hashlib.sha256(f"{shop}:{user_id}:{api_key}".encode()).hexdigest()[:32],
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def sign_query(params: dict[str, str], secret: str) -> str:
    """Shopify's query HMAC for flat params: sorted `k=v` joined by `&`, hex SHA-256."""
    message = "&".join(
        f"{k.replace('%', '%25').replace('=', '%3D')}={v.replace('%', '%25')}".replace("&", "%26")
        for k, v in sorted(params.items())
        if k not in ("hmac", "signature")
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign_app_proxy(params: list[tuple[str, str]], secret: str) -> str:
    """Shopify's app-proxy `signature`: `key=v1,v2` per key, sorted, concatenated, HMAC hex."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    message = "".join(sorted(f"{k}={','.join(v)}" for k, v in grouped.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign_inbound_mail(secret: str, timestamp: str, body: bytes) -> str:
    """A mail provider's inbound-webhook signature: `v1=` + hex HMAC-SHA256 of
    `<timestamp>.<raw MIME>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()
