"""The ID-token matrix: only a well-formed, fresh, correctly signed token for this app passes."""

from __future__ import annotations

import pytest

from shopify_app.shopify.errors import InvalidIdToken
from shopify_app.shopify.id_token import decode_id_token
from tests.helpers import API_KEY, API_SECRET, OLD_API_SECRET, id_token, unsigned_token

SHOP = "alpha-shop.myshopify.com"


def decode(token, secrets=(API_SECRET,)):
    return decode_id_token(token, api_key=API_KEY, secrets=secrets, leeway=10)


def test_valid_token_gives_shop_from_dest_and_staff_user():
    claims = decode(id_token(SHOP, user_id=9001))
    assert claims.shop == SHOP
    assert claims.user_id == "9001"
    assert claims.session_id and claims.token_id


def test_token_signed_with_rotated_out_secret_still_accepted():
    assert decode(id_token(SHOP, secret=OLD_API_SECRET), (API_SECRET, OLD_API_SECRET)).shop == SHOP


@pytest.mark.parametrize(
    ("label", "token", "reason"),
    [
        ("expired beyond leeway", lambda: id_token(SHOP, exp_in=-30), "expired"),
        ("not yet valid beyond leeway", lambda: id_token(SHOP, nbf_in=60), "not yet valid"),
        ("wrong audience", lambda: id_token(SHOP, api_key="another-app"), "audience"),
        (
            "wrong secret",
            lambda: id_token(SHOP, secret="not-the-secret-but-just-as-long-as-one"),
            "Signature",
        ),
        ("alg none", lambda: unsigned_token(SHOP), "alg"),
        (
            "HS512 instead of HS256",
            lambda: id_token(SHOP, algorithm="HS512", secret=API_SECRET * 2),
            "alg",
        ),
        (
            "iss and dest disagree",
            lambda: id_token(SHOP, iss="https://beta-shop.myshopify.com/admin"),
            "disagree",
        ),
        (
            "dest not a myshopify domain",
            lambda: id_token(SHOP, dest="https://evil.example"),
            "shop",
        ),
        ("dest over plain http", lambda: id_token(SHOP, dest=f"http://{SHOP}"), "disagree"),
        ("missing sub", lambda: id_token(SHOP, drop=("sub",)), "sub"),
        ("missing dest", lambda: id_token(SHOP, drop=("dest",)), "dest"),
        ("malformed", lambda: "not.a.jwt", "rejected"),
        ("garbage", lambda: "%%%", "rejected"),
        ("missing", lambda: None, "missing"),
        ("empty", lambda: "", "missing"),
    ],
)
def test_invalid_tokens_are_rejected_with_a_reason(label, token, reason):
    with pytest.raises(InvalidIdToken) as exc:
        decode(token())
    assert reason.lower() in str(exc.value).lower(), label


def test_leeway_accepts_small_clock_skew():
    assert decode(id_token(SHOP, nbf_in=5)).shop == SHOP
    assert decode(id_token(SHOP, exp_in=-5)).shop == SHOP


def test_no_secret_configured_rejects_everything():
    with pytest.raises(InvalidIdToken):
        decode(id_token(SHOP), secrets=("",))
