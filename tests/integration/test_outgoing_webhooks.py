"""Outgoing webhooks over HTTP and across threads: the Settings › Webhooks page with real ID
tokens (register, secret once, test event, delivery log, replay, rotation, enable/disable,
delete; SSRF refusals in production config; another shop's ids 404), a Shopify webhook
turned into a signed delivery by the worker, and a hanging and a dead endpoint beside a
healthy one."""

from __future__ import annotations

import json
import re
import threading

import pytest
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import OutgoingDelivery, OutgoingEndpoint, Shop
from shopify_app.outgoing import delivery, endpoints, events
from tests import payloads
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token
from tests.receiver import Receiver, dead_url, verify
from tests.support import wait_until

from .webhook_support import deliver, install, one, rows, run_jobs

PAGE = "/settings/webhooks"


def auth(shop=SHOP_A):
    return {"Authorization": f"Bearer {id_token(shop, user_id=501)}"}


def get(live, path, shop=SHOP_A, **params):
    return live.http.get(f"{live.app_url}{path}", params=params, headers=auth(shop))


def post(live, path, data, shop=SHOP_A):
    return live.http.post(f"{live.app_url}{path}", data=data, headers=auth(shop))


def secret_in(page: str) -> str:
    found = re.search(r'<code class="code" id="secret">(whsec_[A-Za-z0-9+/=]+)</code>', page)
    assert found, "the page shows no secret"
    return found.group(1)


def register(live, url, types=("reward.used",), shop=SHOP_A):
    response = post(
        live,
        PAGE,
        {"url": url, "event_types": list(types), "alert_email": "ops@example.com"},
        shop=shop,
    )
    assert response.status_code == 200, response.text
    return response


@pytest.fixture
def shops(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    return live


def test_the_page_needs_an_id_token_and_is_linked_from_settings(shops):
    live = shops
    assert (
        live.http.get(f"{live.app_url}{PAGE}", headers={"Authorization": "Bearer x"}).status_code
        == 401
    )
    settings = get(live, "/settings")
    assert 'href="/settings/webhooks?' in settings.text
    page = get(live, PAGE)
    assert page.status_code == 200 and "No endpoint yet." in page.text


def test_register_send_a_test_event_see_the_log_replay_rotate_disable_delete(shops):
    live = shops
    with Receiver() as receiver:
        bad = post(
            live, PAGE, {"url": "ftp://x", "event_types": ["reward.used"], "alert_email": "a@b.co"}
        )
        assert bad.status_code == 422 and "https://" in bad.text
        assert rows(live.app, OutgoingEndpoint) == []

        created = register(live, receiver.url, types=("reward.used", "referral.completed"))
        secret = secret_in(created.text)
        endpoint = one(live.app, OutgoingEndpoint)
        assert endpoint.event_types == ["referral.completed", "reward.used"]
        assert secret not in get(live, PAGE).text  # shown once

        sent = post(live, f"{PAGE}/{endpoint.id}/test", {})
        assert sent.status_code == 200 and "Test event sent" in sent.text
        run_jobs(live.app)
        [request] = receiver.received
        payload = verify(secret, request)
        assert payload["type"] == "webhook.test" and payload["data"]["endpoint_id"] == endpoint.id
        page = get(live, PAGE)
        assert "HTTP 200" in page.text and "webhook.test" in page.text and " ms" in page.text
        assert "{&#34;ok&#34;:true}" in page.text  # the body excerpt

        [first] = rows(live.app, OutgoingDelivery)
        replayed = post(live, f"{PAGE}/deliveries/{first.id}/replay", {})
        assert replayed.status_code == 200 and f"replayed as #{first.id + 1}" in replayed.text
        run_jobs(live.app)
        assert receiver.count() == 2
        assert receiver.received[1].headers["webhook-id"] == request.headers["webhook-id"]
        verify(secret, receiver.received[1])

        rotated = post(live, f"{PAGE}/{endpoint.id}/rotate", {})
        new_secret = secret_in(rotated.text)
        assert new_secret != secret
        post(live, f"{PAGE}/{endpoint.id}/test", {})
        run_jobs(live.app)
        during = receiver.received[2]
        assert verify(secret, during) == verify(new_secret, during)  # both sign in the grace

        disabled = post(live, f"{PAGE}/{endpoint.id}/disable", {})
        assert "is disabled" in disabled.text and "Disabled by staff." in disabled.text
        refused = post(live, f"{PAGE}/{endpoint.id}/test", {})
        assert refused.status_code == 422 and "enable it first" in refused.text
        assert "is enabled" in post(live, f"{PAGE}/{endpoint.id}/enable", {}).text

        deleted = post(live, f"{PAGE}/{endpoint.id}/delete", {})
        assert "was deleted" in deleted.text
        assert rows(live.app, OutgoingEndpoint) == [] and rows(live.app, OutgoingDelivery) == []


def test_another_shops_endpoints_and_deliveries_are_404(shops):
    live = shops
    register(live, "http://127.0.0.1:9/shop-a-private-hook")
    endpoint = one(live.app, OutgoingEndpoint)
    post(live, f"{PAGE}/{endpoint.id}/test", {})
    [sent] = rows(live.app, OutgoingDelivery)
    for action in ("rotate", "enable", "disable", "delete", "test"):
        assert post(live, f"{PAGE}/{endpoint.id}/{action}", {}, shop=SHOP_B).status_code == 404
    assert post(live, f"{PAGE}/deliveries/{sent.id}/replay", {}, shop=SHOP_B).status_code == 404
    theirs = get(live, PAGE, shop=SHOP_B, endpoint_id=endpoint.id)
    assert "shop-a-private-hook" not in theirs.text and "No deliveries yet." in theirs.text
    assert len(rows(live.app, OutgoingDelivery)) == 1 and one(live.app, OutgoingEndpoint).enabled


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/in", "must use https://"),
        ("https://10.0.0.8/in", "10.0.0.8 is a private address"),
        ("https://127.0.0.1/in", "loopback"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::1]/in", "loopback"),
        ("https://localhost/in", "loopback"),
    ],
)
def test_production_config_refuses_private_endpoints_at_registration(shops, monkeypatch, url, why):
    live = shops
    monkeypatch.setitem(live.app.config, "OUTGOING_WEBHOOKS_ALLOW_LOCAL", False)
    response = post(
        live, PAGE, {"url": url, "event_types": ["reward.used"], "alert_email": "a@b.co"}
    )
    assert response.status_code == 422 and why in response.text
    assert rows(live.app, OutgoingEndpoint) == []


def test_a_shopify_customer_update_reaches_the_endpoint_once(shops):
    live = shops
    with Receiver() as receiver:
        secret = secret_in(register(live, receiver.url, types=("customer.updated",)).text)
        deliver(live, SHOP_A, "customers/create", payloads.customer(updated=0))
        run_jobs(live.app)
        update = payloads.customer(updated=5, first_name="Augusta")
        deliver(live, SHOP_A, "customers/update", update)
        deliver(live, SHOP_A, "customers/update", update)  # Shopify sends it twice
        run_jobs(live.app)
        wait_until(lambda: receiver.count() >= 1, what="the customer.updated delivery")
        run_jobs(live.app)
    [request] = receiver.received
    payload = verify(secret, request)
    assert payload["type"] == "customer.updated"
    assert payload["data"]["customer"]["first_name"] == "Augusta"
    assert payload["data"]["customer"]["shopify_id"] == 1001
    assert json.loads(request.body) == payload


def test_a_hanging_and_a_dead_endpoint_never_delay_a_healthy_one(shops, monkeypatch):
    """Two workers: one is held by the hanging endpoint (for at most its timeout; here until
    the test lets go); the other delivers everything to the healthy endpoint meanwhile,
    fails the dead one fast, and finds the hanging endpoint's lease taken, so no second
    worker waits on it."""
    live = shops
    monkeypatch.setitem(live.app.config, "OUTGOING_READ_TIMEOUT_SECONDS", 30.0)
    with Receiver() as healthy, Receiver("hang") as hanging:
        with live.app.app_context():
            session = get_session()
            shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
            ids = {}
            for name, url in (("hang", hanging.url), ("dead", dead_url()), ("ok", healthy.url)):
                ids[name] = endpoints.register(
                    session,
                    shop,
                    url=url,
                    event_types=["reward.used"],
                    alert_email="ops@example.com",
                    description=name,
                    actor="staff:501",
                ).endpoint.id
            for n in range(40):
                events.emit(session, shop, "reward.used", {"n": n}, key=f"k{n}")
            session.commit()

        outcomes: dict[str, str] = {}

        def work(name: str) -> None:
            with live.app.app_context():
                outcomes[name] = delivery.drain(get_session(), ids[name])

        stuck = threading.Thread(target=work, args=("hang",), daemon=True)
        stuck.start()
        wait_until(lambda: hanging.count() == 1, what="the hanging endpoint to be called")
        with live.app.app_context():
            session = get_session()
            assert delivery.drain(session, ids["hang"]).startswith("not taken")
            assert delivery.drain(session, ids["dead"]) == "sent 0, failed 1"
            assert delivery.drain(session, ids["ok"]) == "sent 40, failed 0"
        assert healthy.count() == 40 and stuck.is_alive() and hanging.count() == 1
        hanging.release()
        stuck.join(15)
    assert outcomes["hang"] == "sent 0, failed 1"
    statuses = {
        name: [
            d.status for d in rows(live.app, OutgoingDelivery, OutgoingDelivery.endpoint_id == i)
        ]
        for name, i in ids.items()
    }
    assert statuses["ok"] == ["succeeded"] * 40
    assert statuses["hang"] == ["pending"] * 40 and statuses["dead"] == ["pending"] * 40


def test_a_hanging_endpoint_holds_a_worker_for_its_timeout_then_is_held_back(shops, monkeypatch):
    live = shops
    monkeypatch.setitem(live.app.config, "OUTGOING_READ_TIMEOUT_SECONDS", 0.5)
    with Receiver("hang") as hanging, live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
        endpoint = endpoints.register(
            session,
            shop,
            url=hanging.url,
            event_types=["reward.used"],
            alert_email="ops@example.com",
            description=None,
            actor="staff:501",
        ).endpoint
        for n in range(5):
            events.emit(session, shop, "reward.used", {"n": n}, key=f"t{n}")
        session.commit()
        assert delivery.drain(session, endpoint.id) == "sent 0, failed 1"
        assert delivery.drain(session, endpoint.id).startswith("not taken")
    failed = rows(live.app, OutgoingDelivery, OutgoingDelivery.attempts == 1)
    assert len(failed) == 1 and failed[0].error == "timeout (ReadTimeout)"
    assert hanging.count() == 1
