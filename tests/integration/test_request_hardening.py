"""What every request meets before a view: the client address from trusted proxies only,
body and form-field caps, rate limits on the public endpoints, and no secrets in access logs
or caches."""

from __future__ import annotations

import pytest

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import AdvocateVisit, Customer, ReferralClick, Shop
from shopify_app.referrals import advocates
from shopify_app.referrals.program import update_program
from tests.conftest import SHOP_A
from tests.helpers import proxy_query
from tests.support import app_like, close_app

from .webhook_support import install, one, rows, run_jobs


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
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        update_program(session, shop, {"enabled": True, "friend_value": 15}, actor="staff:501")
        customer = session.query(Customer).filter_by(shopify_id=ada.id).one()
        joined, _ = advocates.join(session, shop, customer, via="staff", actor="staff:501")
        session.commit()
        code = joined.code
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
