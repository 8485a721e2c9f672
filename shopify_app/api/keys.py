"""API keys: made by a shop owner (shown once), stored as a keyed hash, revoked by hand.

A key reads `rk_<prefix>_<secret>`: the prefix (public, unique) finds the row, and the whole
key's HMAC-SHA256 under a key derived from `ENCRYPTION_KEY` (purpose `KEY_PURPOSE`) must
equal the stored hash. A stolen database therefore yields no usable key, and a rotation of
`ENCRYPTION_KEY` keeps existing keys working (every configured key is tried).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shopify_app.audit import record_audit
from shopify_app.crypto import derived_keys
from shopify_app.models import ApiKey, Shop, utcnow

KEY_PURPOSE = "referrals/api-key/v1"
SCOPES = ("read", "write")
SCOPE_SETS = {"read": "read", "write": "read write"}  # a write key reads too
NAME_MAX = 100
LAST_USED_EVERY = timedelta(minutes=1)
_KEY_RE = re.compile(r"rk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})")


class InvalidKeyRequest(ValueError):
    """A key cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # the whole key, shown to the owner once


def _digest(secret: str, key: bytes) -> str:
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def _keys() -> tuple[bytes, ...]:
    return derived_keys(current_app.config["ENCRYPTION_KEY"], KEY_PURPOSE)


def create_key(session: Session, shop: Shop, *, name: str, access: str, actor: str) -> NewKey:
    """A new key for `shop` with `access` "read" or "write"; audited. The caller commits."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidKeyRequest(_("Give the key a name, like the app that will use it."))
    if len(name) > NAME_MAX:
        raise InvalidKeyRequest(_("The name is longer than %(max)s characters.", max=NAME_MAX))
    if access not in SCOPE_SETS:
        raise InvalidKeyRequest(_("Choose read or read and write access."))
    prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    secret = f"rk_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        shop_id=shop.id,
        name=name,
        prefix=prefix,
        secret_hash=_digest(secret, _keys()[0]),
        scopes=SCOPE_SETS[access],
        created_at=utcnow(),
        created_by=actor,
    )
    session.add(key)
    session.flush()
    record_audit(
        session,
        shop,
        actor=actor,
        action="api_key.created",
        subject_type="api_key",
        subject_id=key.id,
        after={"name": name, "scopes": key.scopes, "prefix": prefix},
    )
    return NewKey(key, secret)


def revoke_key(session: Session, shop: Shop, key_id: int, *, actor: str) -> ApiKey | None:
    """Revoke the shop's key (at once: the next request with it is refused); audited. None
    when the shop has no such key. Revoking twice changes nothing. The caller commits."""
    key = session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.shop_id == shop.id).with_for_update()
    )
    if key is None or key.revoked_at is not None:
        return key
    key.revoked_at = utcnow()
    key.revoked_by = actor
    record_audit(
        session,
        shop,
        actor=actor,
        action="api_key.revoked",
        subject_type="api_key",
        subject_id=key.id,
        before={"name": key.name, "scopes": key.scopes, "prefix": key.prefix},
    )
    return key


def shop_keys(session: Session, shop: Shop) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.shop_id == shop.id)
            .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())
        )
    )


def find_key(session: Session, secret: str | None) -> ApiKey | None:
    """The active key `secret` is, or None (malformed, unknown, wrong secret, revoked).
    Compares in constant time; an unknown prefix costs the same hashing as a known one."""
    match = _KEY_RE.fullmatch(secret or "")
    if match is None:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == match.group(1)))
    stored = key.secret_hash if key is not None else "0" * 64
    good = False
    for derived in _keys():
        good |= hmac.compare_digest(_digest(secret, derived), stored)  # type: ignore[arg-type]
    if key is None or not good or key.revoked_at is not None:
        return None
    return key


def note_use(session: Session, key: ApiKey) -> bool:
    """Set the key's last-used time, at most once a `LAST_USED_EVERY` (one cheap UPDATE a
    minute per key, none on the other requests). True when it wrote (the caller commits)."""
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_EVERY:
        return False
    result = session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(key, "last_used_at", now)
    return bool(result.rowcount)  # type: ignore[attr-defined]
