"""What every request meets before a view: the client address from trusted proxies only,
body and form-field caps, rate limits on the public endpoints, and no secrets in access logs
or caches."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from devstore import commerce
from shopify_app.models import AdvocateVisit, EmailMessage, ReferralClick
from shopify_app.referrals import clicks
from tests import payloads
from tests.conftest import SHOP_A
from tests.helpers import id_token, proxy_query, webhook_headers
from tests.support import app_like, close_app

from .webhook_support import enable_program_and_join, install, one, rows, run_jobs


@pytest.fixture
def app_with(live):
    """Build another app on the shared database and Redis with some settings changed."""
    made = []

    def build(**overrides):
        made.append(app_like(live.app, **overrides))
        return made[-1]

    yield build
    for app in made:
        close_app(app)


@pytest.fixture
def advocate(live):
    """Ada, an advocate of an open program in SHOP_A: (live, her Shopify id, her code)."""
    install(live, SHOP_A)
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    for _ in range(3):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)
    code = enable_program_and_join(live, SHOP_A, ada.id, friend_value=15)
    return live, ada.id, code


# --- client address (issue 15 item 2) -------------------------------------------------


def test_a_direct_clients_forwarded_for_is_ignored_without_a_trusted_proxy(advocate):
    live, _ada, code = advocate
    spoofed = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    response = live.http.get(f"{live.app_url}/r/{code}", headers=spoofed)
    assert response.status_code == 302
    assert one(live.app, ReferralClick).ip == "127.0.0.1"
    assert "secure" not in response.headers["set-cookie"].lower()  # the connection was http


def test_behind_one_trusted_proxy_the_address_it_saw_is_the_client(advocate, app_with):
    """A router appends the address it saw; anything the client wrote before it is ignored.
    Its `X-Forwarded-Proto: https` makes the request secure and the visitor cookie Secure."""
    live, ada, code = advocate
    client = app_with(TRUSTED_PROXY_COUNT=1).test_client()
    routed = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Forwarded-Proto": "https"}
    response = client.get(f"/r/{code}", headers={**routed, "User-Agent": "Friend/1"})
    assert response.status_code == 302
    assert one(live.app, ReferralClick).ip == "198.51.100.7"
    assert "secure" in response.headers["set-cookie"].lower()

    # The app proxy: shopper -> Shopify's proxy (writes the shopper) -> router -> app.
    chain = {"X-Forwarded-For": "203.0.113.9, 198.51.100.50, 10.20.30.40", "User-Agent": "Ada/1"}
    page = client.get("/proxy", query_string=proxy_query(SHOP_A, ada), headers=chain)
    assert page.status_code == 200
    assert [(v.ip, v.user_agent) for v in rows(live.app, AdvocateVisit)] == [
        ("198.51.100.50", "Ada/1")
    ]


# --- request limits (issue 15 item 7) -----------------------------------------------------


def admin(shop=SHOP_A) -> dict[str, str]:
    return {"Authorization": f"Bearer {id_token(shop)}"}


def test_a_body_over_the_global_cap_is_413_before_any_view(advocate):
    live, ada, _code = advocate
    two_mb = {"emails": "x" * 2_000_000}
    signed = proxy_query(SHOP_A, ada)
    joined = live.http.post(f"{live.app_url}/proxy/join", params=signed, data=two_mb)
    assert joined.status_code == 413
    settings = live.http.post(f"{live.app_url}/settings", data=two_mb, headers=admin())
    assert settings.status_code == 413
    assert rows(live.app, EmailMessage) == []


def test_webhooks_keep_their_own_cap(live, app_with):
    """`WEBHOOK_MAX_BYTES` may be above the global cap: a large order is still accepted."""
    install(live, SHOP_A)
    client = app_with(WEBHOOK_MAX_BYTES=3 * 1_048_576).test_client()
    order = payloads.order(note="n" * 1_500_000)
    body = json.dumps(order).encode()
    response = client.post(
        "/webhooks", data=body, headers=webhook_headers(SHOP_A, "orders/create", body)
    )
    assert response.status_code == 200
    too_big = json.dumps(payloads.order(note="n" * 3_200_000)).encode()
    refused = client.post(
        "/webhooks", data=too_big, headers=webhook_headers(SHOP_A, "orders/create", too_big)
    )
    assert refused.status_code == 413 and refused.mimetype == "text/plain"


def test_every_form_field_has_a_length_cap(advocate):
    """Far below the body cap, one field longer than FORM_FIELD_MAX_CHARS is refused, on the
    storefront and in the admin alike; so is a form with too many fields."""
    live, ada, _code = advocate
    page = live.http.get(f"{live.app_url}/proxy", params=proxy_query(SHOP_A, ada))
    token = re.search(r'name="token" value="([0-9a-f]+)"', page.text).group(1)
    long_list = ", ".join(f"friend{n:05d}@example.com" for n in range(250))  # ~5,700 chars
    shared = live.http.post(
        f"{live.app_url}/proxy/share",
        params=proxy_query(SHOP_A, ada),
        data={"token": token, "emails": long_list},
    )
    assert shared.status_code == 413 and "longer than 4000 characters" in shared.text
    reason = live.http.post(
        f"{live.app_url}/blocklist", data={"kind": "email", "note": "n" * 4001}, headers=admin()
    )
    assert reason.status_code == 413
    many = live.http.post(f"{live.app_url}/settings", data={"f": ["1"] * 1001}, headers=admin())
    assert many.status_code == 413
    assert rows(live.app, EmailMessage) == []


def test_each_visitor_is_one_click_a_day_and_an_advocate_has_a_daily_cap(advocate, monkeypatch):
    live, _ada, code = advocate
    clock = [datetime(2026, 12, 3, 23, 50, tzinfo=UTC)]
    monkeypatch.setattr(clicks, "utcnow", lambda: clock[0])

    def follow(agent):
        response = live.http.get(f"{live.app_url}/r/{code}", headers={"User-Agent": agent})
        assert response.status_code == 302  # sent on to the shop, recorded or not

    for minutes in (0, 0, 1, 5):  # reloads, and the same visitor minutes later
        clock[0] += timedelta(minutes=minutes)
        follow("Friend/1")
    assert len(rows(live.app, ReferralClick)) == 1
    clock[0] += timedelta(minutes=10)  # the next UTC day: a new click
    follow("Friend/1")

    monkeypatch.setattr(clicks, "CLICKS_PER_ADVOCATE_PER_DAY", 3)
    for n in range(6):  # a bot changing its user agent on every request
        follow(f"Bot/{n}")
    recorded = rows(live.app, ReferralClick)
    assert [(c.day.isoformat(), c.user_agent) for c in recorded] == [
        ("2026-12-03", "Friend/1"),
        ("2026-12-04", "Friend/1"),
        ("2026-12-04", "Bot/0"),
        ("2026-12-04", "Bot/1"),
    ]
    assert len({c.fingerprint for c in recorded}) == 3


def test_the_public_endpoints_answer_429_with_retry_after_over_their_limit(advocate, app_with):
    """Each public surface has its own budget per client; the embedded admin and webhooks
    have none (checked with the same low limits)."""
    live, ada, code = advocate
    client = app_with(
        TRUSTED_PROXY_COUNT=1,
        RATE_LIMIT_REFERRAL_LINK="2 per minute",
        RATE_LIMIT_AUTH="2 per minute",
        RATE_LIMIT_PROXY="3 per minute",
    ).test_client()
    friend = {"X-Forwarded-For": "198.51.100.7"}
    other = {"X-Forwarded-For": "198.51.100.8"}
    assert [client.get(f"/r/{code}", headers=friend).status_code for _ in range(3)] == [
        302,
        302,
        429,
    ]
    limited = client.get(f"/r/{code}", headers=friend)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "Too many requests" in limited.text
    assert client.get(f"/r/{code}", headers=other).status_code == 302  # another client

    auth = [client.get("/auth", query_string={"shop": SHOP_A}, headers=friend) for _ in range(3)]
    assert [r.status_code for r in auth] == [302, 302, 429] and auth[2].headers["Retry-After"]

    # Behind Shopify's proxy every request comes from Shopify (10.20.30.40): the budget is
    # the shopper's, so one shopper's limit leaves another's page working.
    def proxied(shopper):
        return client.get(
            "/proxy",
            query_string=proxy_query(SHOP_A, ada),
            headers={"X-Forwarded-For": f"{shopper}, 10.20.30.40"},
        ).status_code

    assert [proxied("203.0.113.1") for _ in range(4)] == [200, 200, 200, 429]
    assert proxied("203.0.113.2") == 200
    forged = client.get("/proxy", query_string={"shop": SHOP_A}, headers=friend)
    assert forged.status_code == 401  # unsigned: counted against the sender, not a shopper

    for _ in range(5):
        assert client.get("/", headers={**admin(), **friend}).status_code == 200
        body = json.dumps(payloads.order()).encode()
        hook = client.post(
            "/webhooks",
            data=body,
            headers={**webhook_headers(SHOP_A, "orders/create", body), **friend},
        )
        assert hook.status_code == 200


def test_a_referral_link_still_works_when_the_limiter_cannot_reach_redis(advocate, app_with):
    live, _ada, code = advocate
    client = app_with(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    for _ in range(2):
        assert client.get(f"/r/{code}").status_code == 302
    assert len(rows(live.app, ReferralClick)) == 1
