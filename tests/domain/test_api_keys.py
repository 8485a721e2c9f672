"""API keys: the secret is shown once and only its keyed hash kept; a wrong, malformed or
revoked key finds nothing; the last-used time is written at most once a minute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shopify_app.api import keys
from shopify_app.models import ApiKey, AuditEntry

from .. import factories


def test_a_key_is_found_by_its_secret_only_while_active(session, shop):
    made = keys.create_key(session, shop, name=" Klaviyo  sync ", access="read", actor="staff:1")
    assert made.key.name == "Klaviyo sync" and made.key.scope_set == {"read"}
    stored = session.scalar(select(ApiKey).where(ApiKey.id == made.key.id))
    assert made.secret not in (stored.secret_hash, stored.prefix)
    assert keys.find_key(session, made.secret).id == made.key.id
    assert (
        keys.find_key(session, made.secret[:-1] + ("A" if made.secret[-1] != "A" else "B")) is None
    )
    assert keys.find_key(session, "rk_short") is None
    assert keys.find_key(session, None) is None
    other_shop = factories.shop(session)
    assert keys.revoke_key(session, other_shop, made.key.id, actor="staff:2") is None
    keys.revoke_key(session, shop, made.key.id, actor="staff:1")
    assert keys.find_key(session, made.secret) is None
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.shop_id == shop.id).order_by(AuditEntry.id)
    ).all()
    assert actions == ["api_key.created", "api_key.revoked"]


def test_a_write_key_reads_too_and_bad_requests_are_refused(session, shop):
    made = keys.create_key(session, shop, name="Zapier", access="write", actor="staff:1")
    assert made.key.scope_set == {"read", "write"}
    with pytest.raises(keys.InvalidKeyRequest):
        keys.create_key(session, shop, name="   ", access="read", actor="staff:1")
    with pytest.raises(keys.InvalidKeyRequest):
        keys.create_key(session, shop, name="x", access="admin", actor="staff:1")


def test_the_last_used_time_is_written_at_most_once_a_minute(session, shop):
    key = keys.create_key(session, shop, name="Zapier", access="read", actor="staff:1").key
    assert keys.note_use(session, key) is True
    assert keys.note_use(session, key) is False  # within the minute: no write
    key.last_used_at -= timedelta(minutes=2)
    session.flush()
    assert keys.note_use(session, key) is True
