"""Realtime stream tokens: what they carry, and everything that is not one."""

from __future__ import annotations

import time

import jwt
import pytest

from shopify_app.realtime import publish
from shopify_app.realtime.tokens import (
    issue_realtime_token,
    realtime_secret,
    verify_realtime_token,
)

SECRET = "an-app-secret-of-thirty-two-bytes-or-more"


def test_a_shopper_token_names_its_shop_and_conversation():
    token = issue_realtime_token(SECRET, shop_id=4, audience="shopper", conversation_id=9)
    claims = verify_realtime_token(SECRET, token, "shopper")
    assert claims is not None
    assert (claims.shop_id, claims.conversation_id, claims.audience) == (4, 9, "shopper")
    assert claims.channel == publish.shopper_channel(4, 9) == "rt:4:conv:9"
    unverified = jwt.decode(token, options={"verify_signature": False})
    assert unverified["exp"] - unverified["iat"] == 300 == claims.expires_at - unverified["iat"]


def test_a_staff_token_is_for_the_whole_shop():
    token = issue_realtime_token(SECRET, shop_id=4, audience="staff", staff_user_id=77)
    claims = verify_realtime_token(SECRET, token, "staff")
    assert claims is not None
    assert (claims.shop_id, claims.conversation_id, claims.staff_user_id) == (4, None, 77)
    assert claims.channel == "rt:4:staff"


def test_tokens_are_refused_for_the_other_audience_secret_or_when_expired():
    shopper = issue_realtime_token(SECRET, shop_id=4, audience="shopper", conversation_id=9)
    staff = issue_realtime_token(SECRET, shop_id=4, audience="staff")
    assert verify_realtime_token(SECRET, shopper, "staff") is None
    assert verify_realtime_token(SECRET, staff, "shopper") is None
    assert verify_realtime_token("other-secret", shopper, "shopper") is None
    expired = issue_realtime_token(SECRET, shop_id=4, audience="staff", ttl=-1)
    assert verify_realtime_token(SECRET, expired, "staff") is None
    assert verify_realtime_token(SECRET, "", "staff") is None
    assert verify_realtime_token(SECRET, "a.b.c", "staff") is None


def test_a_token_signed_with_the_bare_secret_is_not_a_realtime_token():
    """Shopify signs ID tokens with the API secret itself; realtime tokens use a key derived
    from it, so no JWT made with the secret (forged claims included) opens a stream."""
    now = int(time.time())
    forged = jwt.encode(
        {
            "iss": "referrals-realtime",
            "aud": "realtime:staff",
            "iat": now,
            "exp": now + 60,
            "shop": 4,
        },
        SECRET,
        algorithm="HS256",
    )
    assert verify_realtime_token(SECRET, forged, "staff") is None
    unsigned = jwt.encode(
        {"iss": "referrals-realtime", "aud": "realtime:staff", "iat": now, "exp": now + 60,
         "shop": 4},
        None,
        algorithm="none",
    )  # fmt: skip
    assert verify_realtime_token(SECRET, unsigned, "staff") is None


def test_a_shopper_token_needs_a_conversation():
    with pytest.raises(ValueError):
        issue_realtime_token(SECRET, shop_id=4, audience="shopper")
    with pytest.raises(ValueError):
        issue_realtime_token(SECRET, shop_id=4, audience="admin")  # type: ignore[arg-type]


def test_the_secret_is_the_apps():
    assert realtime_secret({"SHOPIFY_API_SECRET": "s"}) == "s"
    assert realtime_secret({"SECRET_KEY": "k", "SHOPIFY_API_SECRET": "s"}) == "k"
    with pytest.raises(ValueError):
        realtime_secret({})
