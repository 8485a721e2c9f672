"""Short-lived tokens that open a realtime stream: a shopper's for one conversation, staff's
for their shop. Flask issues them (the widget's through the app proxy, the admin's against
an ID token); the realtime process, which has no database, trusts only their signature.

HS256 JWTs under a key derived from the app's secret, so a realtime token is never valid
where the secret signs anything else (Shopify's ID tokens use the API secret itself).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt

Audience = Literal["shopper", "staff"]
AUDIENCES: tuple[Audience, ...] = ("shopper", "staff")
ISSUER = "referrals-realtime"
DEFAULT_TTL = 300
_KEY_PURPOSE = b"referrals realtime stream token v1"


@dataclass(frozen=True)
class RealtimeClaims:
    shop_id: int
    audience: Audience
    conversation_id: int | None
    staff_user_id: int | str | None
    expires_at: int

    @property
    def channel(self) -> str:
        """The Redis channel this stream listens to."""
        from .publish import shopper_channel, staff_channel

        if self.audience == "shopper":
            assert self.conversation_id is not None
            return shopper_channel(self.shop_id, self.conversation_id)
        return staff_channel(self.shop_id)


def realtime_secret(config: Mapping[str, Any]) -> str:
    """The secret both sides sign with: `SECRET_KEY` when set, else the app's API secret."""
    secret = config.get("SECRET_KEY") or config.get("SHOPIFY_API_SECRET")
    if not secret:
        raise ValueError("no SECRET_KEY or SHOPIFY_API_SECRET to sign realtime tokens with")
    return str(secret)


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha256).digest()


def _aud(audience: str) -> str:
    return f"realtime:{audience}"


def issue_realtime_token(
    secret: str,
    *,
    shop_id: int,
    audience: Audience,
    conversation_id: int | None = None,
    staff_user_id: int | str | None = None,
    ttl: int = DEFAULT_TTL,
) -> str:
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, not {audience!r}")
    if audience == "shopper" and conversation_id is None:
        raise ValueError("a shopper's token names its conversation")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": _aud(audience),
        "iat": now,
        "exp": now + int(ttl),
        "shop": int(shop_id),
    }
    if audience == "shopper":
        claims["conv"] = int(conversation_id)  # type: ignore[arg-type]
    if staff_user_id is not None:
        claims["staff"] = staff_user_id
    return jwt.encode(claims, _key(secret), algorithm="HS256")


def verify_realtime_token(secret: str, token: str, audience: Audience) -> RealtimeClaims | None:
    """The claims of a valid, unexpired token for `audience`; None for anything else."""
    if audience not in AUDIENCES or not token:
        return None
    try:
        claims = jwt.decode(
            token,
            _key(secret),
            algorithms=["HS256"],
            audience=_aud(audience),
            issuer=ISSUER,
            options={"require": ["exp", "iat", "aud", "iss", "shop"]},
        )
    except jwt.PyJWTError:
        return None
    shop_id = claims.get("shop")
    conversation_id = claims.get("conv")
    if not _positive_int(shop_id):
        return None
    if audience == "shopper" and not _positive_int(conversation_id):
        return None
    return RealtimeClaims(
        shop_id=shop_id,
        audience=audience,
        conversation_id=conversation_id if audience == "shopper" else None,
        staff_user_id=claims.get("staff"),
        expires_at=int(claims["exp"]),
    )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
