"""Query-string and webhook HMACs, against Shopify's published test vectors."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from shopify_app.shopify.hmac import (
    query_hmac,
    verify_app_proxy,
    verify_query_hmac,
    verify_webhook_hmac,
    webhook_hmac,
)

VECTORS = [
    (
        {
            "code": ["0907a61c0c8d55e99db179b68161bc00"],
            "shop": ["some-shop.myshopify.com"],
            "state": ["0.6784241404160823"],
            "timestamp": ["1337178173"],
        },
        "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf",
    ),
    (
        {
            "code": ["0907a61c0c8d55e99db179b68161bc00"],
            "shop": ["some-shop.myshopify.com"],
            "timestamp": ["1337178173"],
        },
        "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20",
    ),
    (
        {"shop": ["some-shop.myshopify.com"], "ids[]": ["2", "1"]},
        "b93b9f82996f6f8bf9f1b7bbddec284c8fabacdc4e12dc80550b4705f3003b1e",
    ),
]


@pytest.mark.parametrize(("params", "expected"), VECTORS)
def test_query_hmac_matches_shopify_vectors(params, expected):
    assert query_hmac(params, "hush") == expected
    assert verify_query_hmac({**params, "hmac": [expected]}, ["hush"])


def test_query_hmac_rejects_tampering_missing_and_duplicate_hmac():
    params, digest = VECTORS[0]
    tampered = {**params, "shop": ["evil-shop.myshopify.com"], "hmac": [digest]}
    assert not verify_query_hmac(tampered, ["hush"])
    assert not verify_query_hmac(params, ["hush"])
    assert not verify_query_hmac({**params, "hmac": [digest, digest]}, ["hush"])
    assert not verify_query_hmac({**params, "hmac": [digest]}, ["wrong"])


def test_query_hmac_signs_every_param_including_unknown_ones():
    params, digest = VECTORS[0]
    assert not verify_query_hmac({**params, "host": ["abc"], "hmac": [digest]}, ["hush"])


def test_query_hmac_escapes_delimiters_so_params_cannot_be_merged():
    a = {"a": ["1&b=2"]}
    b = {"a": ["1"], "b": ["2"]}
    assert query_hmac(a, "k") != query_hmac(b, "k")


def test_query_hmac_accepts_the_previous_secret_during_rotation():
    params, digest = VECTORS[0]
    assert verify_query_hmac({**params, "hmac": [digest]}, ["new-secret", "hush"])


def test_webhook_hmac_is_base64_of_raw_body():
    body = b'{"id":1,"note":"caf\xc3\xa9"}'
    sig = webhook_hmac(body, "secret")
    assert verify_webhook_hmac(body, sig, ["secret"])
    assert not verify_webhook_hmac(body + b" ", sig, ["secret"])
    assert not verify_webhook_hmac(body, sig, ["other"])
    assert not verify_webhook_hmac(body, None, ["secret"])
    assert not verify_webhook_hmac(body, "", ["secret"])


def test_repeated_scalar_keys_are_refused_even_if_one_variant_is_signed():
    params, digest = VECTORS[0]
    doubled = {**params, "shop": ["victim.myshopify.com", "some-shop.myshopify.com"]}
    assert not verify_query_hmac({**doubled, "hmac": [digest]}, ["hush"])


def test_non_ascii_signatures_are_a_mismatch_not_an_error():
    params, _digest = VECTORS[0]
    assert not verify_query_hmac({**params, "hmac": ["\u00e9" * 64]}, ["hush"])
    assert not verify_webhook_hmac(b"{}", "\u00e9abc", ["secret"])


def _signed_proxy(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """An app-proxy query signed as Shopify signs it: a repeated key's values joined by
    commas, `key=value` pairs sorted and put side by side (written apart from the app's
    signer, so the two cannot agree on a mistake)."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    message = "".join(sorted(f"{k}={','.join(v)}" for k, v in grouped.items()))
    digest = hmac.new(b"hush", message.encode(), hashlib.sha256).hexdigest()
    return {**grouped, "signature": [digest]}


PROXY_PAIRS = [
    ("shop", "shop-name.myshopify.com"),
    ("logged_in_customer_id", "1"),
    ("path_prefix", "/apps/awesome_reviews"),
    ("timestamp", "1317327555"),
]


def test_a_signed_app_proxy_query_verifies_and_app_params_may_repeat():
    assert verify_app_proxy(_signed_proxy(PROXY_PAIRS), ["hush"])
    assert verify_app_proxy(_signed_proxy([*PROXY_PAIRS, ("extra", "1"), ("extra", "2")]), ["hush"])
    assert verify_app_proxy(_signed_proxy([*PROXY_PAIRS, ("ids[]", "1")]), ["hush"])
    assert not verify_app_proxy(_signed_proxy(PROXY_PAIRS), ["wrong"])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("logged_in_customer_id", "2"),
        ("shop", "victim-shop.myshopify.com"),
        ("path_prefix", "/apps/other"),
        ("timestamp", "1317327556"),
        ("hmac", "x"),
    ],
)
def test_a_repeated_security_param_is_refused_even_when_signed(key, value):
    """Shopify would sign `logged_in_customer_id=1,2`; the handler would read one of them."""
    pairs = (
        [*PROXY_PAIRS, (key, value)] if key != "hmac" else [*PROXY_PAIRS, (key, "y"), (key, value)]
    )
    assert not verify_app_proxy(_signed_proxy(pairs), ["hush"])


def test_a_repeated_signature_or_a_missing_security_param_is_refused():
    params = _signed_proxy(PROXY_PAIRS)
    assert not verify_app_proxy({**params, "signature": params["signature"] * 2}, ["hush"])
    for name in ("shop", "logged_in_customer_id", "path_prefix", "timestamp"):
        pairs = [(k, v) for k, v in PROXY_PAIRS if k != name]
        assert not verify_app_proxy(_signed_proxy(pairs), ["hush"]), name


@pytest.mark.parametrize("key", ["a=b", "a,b", "utm.source", "a b", "caf\u00e9", "a&b", ""])
def test_app_proxy_keys_outside_the_safe_alphabet_are_refused(key):
    assert not verify_app_proxy(_signed_proxy([*PROXY_PAIRS, (key, "1")]), ["hush"])
