"""The inbound endpoint's request signature, as a mail provider's webhook signs:
`X-Inbound-Timestamp: <unix seconds>` and `X-Inbound-Signature: v1=<hex HMAC-SHA256 of
"<timestamp>.<raw body>" under INBOUND_EMAIL_SECRET>` (several `v1=` values, comma
separated, during a rotation). A timestamp more than `TOLERANCE_SECONDS` away from now is
refused, so a captured request cannot be replayed later."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

TIMESTAMP_HEADER = "X-Inbound-Timestamp"
SIGNATURE_HEADER = "X-Inbound-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={digest.hexdigest()}"


def refusal(
    secret: str | Sequence[str],
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
) -> str | None:
    """Why the request is not the provider's (None: it is). `secret`: one, or the current
    and the previous during a rotation."""
    if not timestamp or not signature:
        return "unsigned"
    if not timestamp.isdigit() or len(timestamp) > 12:
        return "bad timestamp"
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return "stale timestamp"
    keys = (secret,) if isinstance(secret, str) else tuple(secret)
    expected = [sign(key, timestamp, body).encode() for key in keys]
    offered = [value.strip().encode() for value in signature.split(",") if value.strip()][:5]
    matches = [hmac.compare_digest(e, o) for e in expected for o in offered]
    if not any(matches):
        return "bad signature"
    return None
