"""The widget's own chat token: which conversation this browser may read and write.

Shopify's app proxy drops cookies, so the widget keeps this token (in localStorage) and
sends it with every request. It is a JWT signed with the app's API secret (the current one
or, while it is being rotated, the previous one), naming the shop and the conversation,
good for CHAT_TOKEN_DAYS. Knowing a conversation's id is worth nothing without it.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from shopify_app.models import Conversation, Shop
from shopify_app.shopify.services import shopify

AUDIENCE = "chat"
ALGORITHM = "HS256"
CHAT_TOKEN_DAYS = 90


def issue_chat_token(shop: Shop, conversation: Conversation, *, now: float | None = None) -> str:
    if conversation.shop_id != shop.id:
        raise ValueError("conversation of another shop")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "aud": AUDIENCE,
        "shop": shop.id,
        "sub": str(conversation.id),
        "iat": issued,
        "exp": issued + CHAT_TOKEN_DAYS * 86400,
    }
    return jwt.encode(claims, shopify().secrets[0], algorithm=ALGORITHM)


def verify_chat_token(token: Any, shop: Shop) -> int | None:
    """The conversation id the token names; None when it is not signed by this app, has
    expired, or was issued for another shop."""
    if not isinstance(token, str) or not token or len(token) > 1000:
        return None
    for secret in shopify().secrets:
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "iat", "sub", "shop", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            return None
        except jwt.InvalidTokenError:
            continue
        if claims.get("shop") != shop.id or not str(claims.get("sub", "")).isdigit():
            return None
        return int(claims["sub"])
    return None
