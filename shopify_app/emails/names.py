"""A shopper-given name made safe to quote in an email's body.

Anyone can open a free store account and type anything as their name; a share email would
then carry it to a stranger from the shop's address. So a quoted name keeps only letters,
marks, spaces, apostrophes, hyphens and dots, loses every word that looks like a link, an
address or a domain, and is at most `MAX_LENGTH` characters. Subjects never quote it.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 40
PUNCTUATION_KEPT = frozenset("'’-.")
# A dot between a letter or digit and two or more letters: `evil.com`, `x.co`, `a.b.info`.
_DOMAIN_LIKE = re.compile(r"[^\W_]\.[^\W\d_]{2,}")
_LINK_MARKS = ("://", "@", "/", "\\", "www.")


def _looks_like_link(word: str) -> bool:
    lowered = word.lower()
    return any(mark in lowered for mark in _LINK_MARKS) or bool(_DOMAIN_LIKE.search(lowered))


def _kept(word: str) -> str:
    letters = "".join(
        ch for ch in word if ch in PUNCTUATION_KEPT or unicodedata.category(ch)[0] in "LM"
    )
    return letters.strip("'’-").lstrip(".")


def safe_name(value: object, limit: int = MAX_LENGTH) -> str | None:
    """The name to quote, or None when nothing presentable is left."""
    if not isinstance(value, str):
        return None
    # NFKC folds look-alikes (fullwidth letters and dots) into plain ones first; control,
    # format (bidi overrides, zero-width) and separator characters split words or vanish.
    text = unicodedata.normalize("NFKC", value[: limit * 20])
    text = "".join(ch if unicodedata.category(ch)[0] not in "CZ" else " " for ch in text)
    words = []
    for word in text.split():
        if _looks_like_link(word):
            continue
        kept = _kept(word)
        if kept and not _looks_like_link(kept) and kept.strip("."):
            words.append(kept)
    name = " ".join(words)
    if len(name) > limit:
        cut = name[: limit + 1].rsplit(" ", 1)[0]
        name = cut if 0 < len(cut) <= limit else name[:limit]
    return name.strip() or None
