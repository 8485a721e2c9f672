"""Signing secrets at rest: encrypted with the app's key (`crypto.TokenCipher`, the same
Fernet keys as the shops' tokens, so `ENCRYPTION_KEY` rotation covers them too)."""

from __future__ import annotations

import functools

from flask import current_app

from shopify_app.crypto import TokenCipher
from shopify_app.models import OutgoingEndpoint, utcnow


@functools.lru_cache(maxsize=4)
def _cipher(keys: str) -> TokenCipher:
    return TokenCipher(keys)


def cipher() -> TokenCipher:
    return _cipher(current_app.config["ENCRYPTION_KEY"])


def signing_secrets(endpoint: OutgoingEndpoint) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one
    while its rotation grace lasts."""
    found = [cipher().decrypt(endpoint.secret_enc)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_enc and expires is not None and expires > utcnow():
        found.append(cipher().decrypt(endpoint.previous_secret_enc))
    return found
