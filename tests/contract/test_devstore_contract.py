"""The devstore checked by Shopify's official JavaScript library, so it cannot drift from
Shopify's contract: ID tokens it issues decode, webhooks it sends validate, the admin's
query HMAC verifies, and tampered copies of each are refused."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from devstore.webhooks import Delivery
from tests.conftest import SHOP_A, SHOP_NEW
from tests.helpers import API_KEY, API_SECRET

HERE = Path(__file__).parent
NODE = shutil.which("node")
LIBRARY = HERE / "node_modules" / "@shopify" / "shopify-api"


def library_check(payload: dict) -> dict:
    if NODE is None or not LIBRARY.exists():
        reason = (
            "Node.js is missing"
            if NODE is None
            else "@shopify/shopify-api is not installed (make test runs npm ci in tests/contract)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"contract test cannot run on CI: {reason}")
        pytest.skip(reason)
    done = subprocess.run(
        [NODE, str(HERE / "check.mjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=HERE,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def devstore_outputs(live) -> dict:
    token = live.http.post(f"{live.devstore_url}/store/alpha-shop/id-token").json()["id_token"]
    dispatcher = live.state.dispatcher
    delivery = Delivery(
        shop=SHOP_A,
        topic="orders/create",
        uri="/webhooks",
        body=b'{"id":5001,"name":"#1001","note":"caf\\u00e9"}',
        webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        event_id="5ac0a2a8-1e35-4c94-a8df-b0a6a6f0a1f9",
        triggered_at="2026-11-23T10:00:00Z",
    )
    frame = live.http.get(live.admin_url("alpha-shop")).text
    src = html.unescape(re.search(r'id="app-frame"[^>]*src="([^"]+)"', frame).group(1))
    return {
        "apiKey": API_KEY,
        "apiSecret": API_SECRET,
        "idToken": token,
        "webhook": {"body": delivery.body.decode(), "headers": dispatcher.headers(delivery)},
        "query": dict(parse_qsl(urlsplit(src).query)),
    }


def test_shopifys_library_accepts_what_the_devstore_issues(live):
    result = library_check(devstore_outputs(live))
    assert result["idToken"] == {
        "ok": True,
        "dest": f"https://{SHOP_A}",
        "aud": API_KEY,
        "sub": "501",
    }
    assert result["webhook"]["valid"] is True, result["webhook"]
    assert result["webhook"]["topic"] == "ORDERS_CREATE"  # the library normalises topics
    assert result["webhook"]["domain"] == SHOP_A
    assert result["webhook"]["webhookId"] == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert result["queryHmac"] is True, result.get("queryHmacError")


def test_shopifys_library_refuses_tampered_copies(live):
    outputs = devstore_outputs(live)
    header, claims, signature = outputs["idToken"].split(".")
    outputs["idToken"] = f"{header}.{claims}.{signature[:-4]}AAAA"
    outputs["webhook"]["body"] = outputs["webhook"]["body"].replace("5001", "5002")
    outputs["query"]["shop"] = "beta-shop.myshopify.com"
    result = library_check(outputs)
    assert result["idToken"]["ok"] is False
    assert result["webhook"]["valid"] is False
    assert result["queryHmac"] is False


def oauth_callback_query(live) -> dict:
    """The query the devstore's authorize page sends to the app's OAuth callback."""
    begin = live.http.get(f"{live.app_url}/auth", params={"shop": SHOP_NEW})
    authorize = urlsplit(begin.headers["Location"])
    approved = live.http.post(
        f"{live.devstore_url}{authorize.path}", data=dict(parse_qsl(authorize.query))
    )
    return dict(parse_qsl(urlsplit(approved.headers["Location"]).query))


def test_shopifys_library_verifies_the_oauth_callback_as_the_app_does(live):
    """The callback's `host` is unpadded base64, as Shopify sends it: the JS library encodes
    a value's `=` as `%3D` before signing, so a padded host fails its HMAC check."""
    query = oauth_callback_query(live)
    assert "=" not in query["host"]
    result = library_check({**devstore_outputs(live), "callbackQuery": query})
    assert result["callbackHmac"] is True, result.get("callbackHmacError")
    tampered = library_check(
        {**devstore_outputs(live), "callbackQuery": {**query, "code": "forged"}}
    )
    assert tampered["callbackHmac"] is False
