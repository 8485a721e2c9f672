"""Encryption at rest for Shopify tokens (Fernet; several keys allow rotation)."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class TokenCipher:
    """Encrypts with the first key of `ENCRYPTION_KEY` and decrypts with any of them."""

    def __init__(self, keys: str):
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ValueError("no encryption key configured")
        self._fernet = MultiFernet([Fernet(k) for k in parts])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("token cannot be decrypted with the configured keys") from exc


@functools.lru_cache(maxsize=32)
def derived_keys(keys: str, purpose: str, length: int = 32) -> tuple[bytes, ...]:
    """Keys for one purpose (signing links, hashing counters) derived by HKDF-SHA256 from each
    `ENCRYPTION_KEY` entry, the current one first: a purpose never reuses the Fernet key
    itself, and a rotation keeps what the older keys made verifiable."""
    result = []
    for part in (k.strip() for k in keys.split(",")):
        if part:
            material = base64.urlsafe_b64decode(part.encode())
            hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode())
            result.append(hkdf.derive(material))
    if not result:
        raise ValueError("no encryption key configured")
    return tuple(result)


def seal(keys: Sequence[bytes], plain: str, context: bytes) -> str:
    """`plain` encrypted and authenticated (AES-SIV, bound to `context`) under the current
    key, as URL-safe text for a link: unguessable and unalterable, and deterministic, so
    one message makes one token."""
    sealed = AESSIV(keys[0]).encrypt(plain.encode(), [context])
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def unseal(keys: Sequence[bytes], token: str, context: bytes, max_length: int) -> str | None:
    """What `seal` sealed for `context` under any of `keys`; None for anything else (forged,
    altered, sealed for another purpose, or longer than `max_length`)."""
    if not re.fullmatch(rf"[A-Za-z0-9_-]{{24,{max_length}}}", token or ""):
        return None
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    for key in keys:
        try:
            return AESSIV(key).decrypt(sealed, [context]).decode()
        except (InvalidTag, UnicodeDecodeError):
            continue
    return None
