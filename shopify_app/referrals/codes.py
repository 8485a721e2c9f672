"""Advocate and reward codes: readable, unique per shop, unguessable."""

from __future__ import annotations

import re
import secrets
import unicodedata

# Crockford-style: no 0/O, 1/I/L, U, so a code read aloud or copied by hand survives.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_CHARS = 8  # 30**8 ≈ 6.6e11 codes per prefix: not guessable by enumeration


def _prefix(name: str | None, fallback: str) -> str:
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    letters = re.sub(r"[^A-Za-z]", "", text).upper()[:8]
    return letters or fallback


def advocate_code(first_name: str | None) -> str:
    """`ADA-7Q3K9X2M`: the advocate's first name, then random characters."""
    return f"{_prefix(first_name, 'FRIEND')}-{_random()}"


def reward_code() -> str:
    return f"REWARD-{_random()}"


def _random() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))


def normalise_code(code: str | None) -> str | None:
    """Shopify matches codes case-insensitively; so does the app."""
    if not code:
        return None
    cleaned = code.strip().upper()
    return cleaned if re.fullmatch(r"[A-Z0-9-]{3,32}", cleaned) else None
