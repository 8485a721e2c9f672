"""Decoding App Bridge ID tokens (formerly "session tokens")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt

from .domains import sanitize_shop_domain
from .errors import InvalidIdToken, InvalidShopDomain

REQUIRED_CLAIMS = ["iss", "dest", "aud", "sub", "exp", "nbf", "iat", "jti", "sid"]


@dataclass(frozen=True)
class IdTokenClaims:
    shop: str
    user_id: str
    session_id: str
    token_id: str
    expires_at: int
    raw: str


def decode_id_token(
    token: str | None, *, api_key: str, secrets: Iterable[str], leeway: int = 10
) -> IdTokenClaims:
    """Verify `token` and return its claims, or raise `InvalidIdToken` saying why.

    HS256 only, signed with the app secret (the previous secret is tried during rotation),
    `aud` must be the API key, `exp`/`nbf` get `leeway` seconds, and the shop is the host of
    `dest`, which must be a myshopify domain and agree with `iss`.
    """
    if not token:
        raise InvalidIdToken("missing ID token")
    claims = None
    last_error: Exception | None = None
    for secret in [s for s in secrets if s]:
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience=api_key,
                leeway=leeway,
                options={"require": REQUIRED_CLAIMS},
            )
            break
        except jwt.InvalidSignatureError as exc:
            last_error = exc
            continue
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(f"ID token rejected: {exc}") from exc
    if claims is None:
        raise InvalidIdToken(f"ID token rejected: {last_error or 'no secret configured'}")
    dest, iss = str(claims["dest"]), str(claims["iss"])
    try:
        shop = sanitize_shop_domain(urlsplit(dest).hostname)
        issuer_shop = sanitize_shop_domain(urlsplit(iss).hostname)
    except InvalidShopDomain as exc:
        raise InvalidIdToken(f"ID token names an invalid shop: {exc}") from exc
    if shop != issuer_shop or not dest.startswith("https://") or not iss.startswith("https://"):
        raise InvalidIdToken("ID token iss and dest disagree")
    return IdTokenClaims(
        shop=shop,
        user_id=str(claims["sub"]),
        session_id=str(claims["sid"]),
        token_id=str(claims["jti"]),
        expires_at=int(claims["exp"]),
        raw=token,
    )
