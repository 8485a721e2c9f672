"""HMACs Shopify puts on query strings (hex) and on webhook bodies (base64)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence


def _signature_message(params: Mapping[str, Sequence[str]]) -> str:
    """The string Shopify signs: every param but `hmac`/`signature`, escaped and sorted.

    Array params (`ids[]=2&ids[]=1`) are signed as `ids=["2", "1"]`, as Shopify's own
    Python library does.
    """
    pairs = []
    for key, values in params.items():
        if key in ("hmac", "signature"):
            continue
        if key.endswith("[]"):
            key = key[:-2]
            value = json.dumps([str(v) for v in values])
        else:
            value = str(values[-1]) if values else ""
        key = key.replace("%", "%25").replace("=", "%3D")
        value = value.replace("%", "%25")
        pairs.append(f"{key}={value}".replace("&", "%26"))
    return "&".join(sorted(pairs))


def _same(a: str, b: str) -> bool:
    """Constant-time comparison that treats any non-ASCII input as a mismatch, not an error."""
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def query_hmac(params: Mapping[str, Sequence[str]], secret: str) -> str:
    message = _signature_message(params)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_query_hmac(params: Mapping[str, Sequence[str]], secrets: Iterable[str]) -> bool:
    """True when `params['hmac']` matches one of `secrets` (current, then the rotated-out one).

    A repeated key that is not an array (`shop=a&shop=b`) is refused outright: the value
    signed and the value a handler reads could otherwise differ.
    """
    given = params.get("hmac") or []
    if len(given) != 1 or not given[0]:
        return False
    if any(len(v) > 1 and not k.endswith("[]") for k, v in params.items()):
        return False
    return any(_same(query_hmac(params, s), given[0].lower()) for s in secrets if s)


def webhook_hmac(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_webhook_hmac(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    if not header:
        return False
    return any(_same(webhook_hmac(body, s), header.strip()) for s in secrets if s)


def app_proxy_signature(params: Mapping[str, Sequence[str]], secret: str) -> str:
    """What Shopify puts in `signature` on app-proxy requests: every other param as
    `key=v1,v2`, sorted, joined with nothing between, HMAC-SHA256 in hex."""
    message = "".join(
        sorted(
            f"{k}={','.join(str(v) for v in values)}"
            for k, values in params.items()
            if k != "signature"
        )
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


# What Shopify adds to every proxied request: each exactly once (`logged_in_customer_id` is
# empty for a shopper who is not logged in).
APP_PROXY_PARAMS = ("shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature")
_APP_PROXY_KEY = re.compile(r"[A-Za-z0-9_\[\]-]+")


def verify_app_proxy(params: Mapping[str, Sequence[str]], secrets: Iterable[str]) -> bool:
    """True when the query is an app-proxy request Shopify signed, read one way only.

    Shopify signs a repeated parameter as its values joined by commas, while a handler reads
    one of them: `...&logged_in_customer_id=<mine>&logged_in_customer_id=<victim>` would verify
    as `logged_in_customer_id=<mine>,<victim>` and act as the first or the last. So every
    parameter Shopify adds (`APP_PROXY_PARAMS`, and `hmac`) must appear exactly once (`hmac`
    at most once). Shopify's own library refuses the same since PR #3328 ("Harden App Proxy
    query parameter validation", 857c598) and its follow-up d282da5 "Harden App Proxy HMAC
    validation": `APP_PROXY_SINGLE_VALUE_PARAMS` (`hmac`, `shop`, `signature`, `timestamp`) in
    Shopify/shopify-app-js packages/apps/shopify-api/lib/utils/hmac-validator.ts throws
    "must not appear more than once"; its app parameters may still repeat (comma-joined), as
    here. This app also names the customer and the path by those parameters, so it holds
    `logged_in_customer_id` and `path_prefix` to the same rule.

    The signed message puts `key=value` pairs side by side with no separator, so a key
    carrying `=` or `,` could make two different queries sign alike; keys outside
    `[A-Za-z0-9_[]-]` are refused (Shopify's library does not check keys; this is stricter).
    The comparison is constant-time (`hmac.compare_digest`, like the library's `safeCompare`).
    """
    if any(not _APP_PROXY_KEY.fullmatch(key) for key in params):
        return False
    if any(len(params.get(name) or ()) != 1 for name in APP_PROXY_PARAMS):
        return False
    if len(params.get("hmac") or ()) > 1:
        return False
    given = params["signature"][0]
    if not given:
        return False
    return any(_same(app_proxy_signature(params, s), given.lower()) for s in secrets if s)
