"""Webhook intake: HMAC on the raw body, required headers, size cap, durable inbox, dedupe."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import Shop, WebhookDelivery, utcnow
from tests import payloads
from tests.conftest import SHOP_A
from tests.helpers import id_token, webhook_headers
from workers.worker import build_worker


def install(live, shop=SHOP_A):
    live.http.get(
        f"{live.app_url}/", params={"shop": shop, "embedded": "1", "id_token": id_token(shop)}
    )


def post(live, topic, payload, shop=SHOP_A, **kwargs):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = webhook_headers(shop, topic, body, **kwargs)
    return live.http.post(f"{live.app_url}/webhooks", content=body, headers=headers), headers


def deliveries(app):
    with app.app_context():
        return get_session().scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def run_jobs(app):
    build_worker(app, simple=True).work(burst=True)


def test_bad_hmac_is_401_and_stores_nothing(live):
    install(live)
    body = b'{"id": 1}'
    headers = webhook_headers(SHOP_A, "orders/create", body)
    headers["X-Shopify-Hmac-Sha256"] = "AAAA"
    assert (
        live.http.post(f"{live.app_url}/webhooks", content=body, headers=headers).status_code == 401
    )
    response, _ = post(live, "orders/create", {"id": 1}, secret="wrong-secret-wrong-secret-wrong")
    assert response.status_code == 401
    assert deliveries(live.app) == []


def test_missing_headers_are_400(live):
    install(live)
    body = b'{"id": 1}'
    headers = webhook_headers(SHOP_A, "orders/create", body)
    del headers["X-Shopify-Webhook-Id"]
    response = live.http.post(f"{live.app_url}/webhooks", content=body, headers=headers)
    assert response.status_code == 400 and "Webhook-Id" in response.text


def test_oversized_body_is_413(live):
    install(live)
    response, _ = post(live, "orders/create", b'{"x":"' + b"a" * 1_100_000 + b'"}')
    assert response.status_code == 413


def test_duplicate_deliveries_store_one_row(live):
    install(live)
    first, headers = post(live, "orders/create", {"id": 1}, webhook_id="wh-1")
    second, _ = post(live, "orders/create", {"id": 1}, webhook_id="wh-1")
    assert first.status_code == second.status_code == 200
    assert second.text.strip() == "duplicate"
    rows = deliveries(live.app)
    assert len(rows) == 1
    assert rows[0].topic == "orders/create" and rows[0].api_version == "2026-07"
    assert rows[0].event_id == headers["X-Shopify-Event-Id"]
    assert json.loads(rows[0].body) == {"id": 1}


def test_malformed_json_is_400_and_kept_for_inspection(live):
    install(live)
    response, _ = post(live, "orders/create", b"{not json")
    assert response.status_code == 400
    (row,) = deliveries(live.app)
    assert row.status == "dead" and row.body == b"{not json" and "malformed" in row.last_error


def test_delivery_for_a_shop_that_never_opened_the_app_is_kept(live):
    response, _ = post(
        live,
        "shop/redact",
        payloads.shop_redact("never-installed.myshopify.com"),
        shop="never-installed.myshopify.com",
    )
    assert response.status_code == 200
    (row,) = deliveries(live.app)
    assert row.topic == "shop/redact" and row.status == "pending"
    with live.app.app_context():
        shop = get_session().get(Shop, row.shop_id)
        assert shop.domain == "never-installed.myshopify.com"
        assert not shop.is_installed and shop.access_token_enc is None


def test_non_ascii_hmac_is_401_not_500(live):
    body = b'{"id": 1}'
    headers = webhook_headers(SHOP_A, "shop/redact", body)
    headers = {k: v.encode() for k, v in headers.items()}
    headers["X-Shopify-Hmac-Sha256"] = "\u00e9abc".encode()  # raw UTF-8 bytes on the wire
    response = live.http.post(f"{live.app_url}/webhooks", content=body, headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("X-Shopify-Topic", "orders/create; drop table", "malformed X-Shopify-Topic"),
        ("X-Shopify-Topic", "x" * 200, "malformed X-Shopify-Topic"),
        ("X-Shopify-Webhook-Id", "w" * 300, "overlong"),
        ("X-Shopify-Event-Id", "e" * 300, "overlong"),
        ("X-Shopify-API-Version", "v" * 40, "overlong"),
    ],
)
def test_malformed_or_overlong_headers_are_400_on_every_database(live, header, value, reason):
    install(live)
    body = b'{"id": 1}'
    headers = webhook_headers(SHOP_A, "orders/create", body)
    headers[header] = value
    response = live.http.post(f"{live.app_url}/webhooks", content=body, headers=headers)
    assert response.status_code == 400 and reason in response.text
    assert deliveries(live.app) == []


def test_chunked_body_over_the_cap_is_413(live):
    install(live)
    body = b'{"x":"' + b"a" * 1_100_000 + b'"}'
    headers = webhook_headers(SHOP_A, "orders/create", body)

    def chunks():
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    response = live.http.post(f"{live.app_url}/webhooks", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert deliveries(live.app) == []


def test_app_uninstalled_revokes_tokens_through_the_worker(live):
    install(live)
    response, _ = post(
        live,
        "app/uninstalled",
        payloads.app_uninstalled(SHOP_A),
        triggered_at=utcnow().isoformat().replace("+00:00", "Z"),
    )
    assert response.status_code == 200
    run_jobs(live.app)
    (row,) = deliveries(live.app)
    assert row.status == "done" and row.attempts == 1
    with live.app.app_context():
        shop = get_session().scalar(select(Shop).where(Shop.domain == SHOP_A))
        assert shop.uninstalled_at is not None
        assert shop.access_token_enc is None and shop.refresh_token_enc is None


def test_a_late_uninstall_from_before_a_reinstall_is_ignored(live):
    install(live)
    stale = (utcnow() - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    post(live, "app/uninstalled", payloads.app_uninstalled(SHOP_A), triggered_at=stale)
    run_jobs(live.app)
    with live.app.app_context():
        shop = get_session().scalar(select(Shop).where(Shop.domain == SHOP_A))
        assert shop.is_installed and shop.access_token_enc


def test_scopes_update_records_the_new_scopes(live):
    install(live)
    post(
        live,
        "app/scopes_update",
        payloads.scopes_update(["read_orders"], ["read_orders", "read_customers"]),
    )
    run_jobs(live.app)
    with live.app.app_context():
        shop = get_session().scalar(select(Shop).where(Shop.domain == SHOP_A))
        assert shop.scope_set == {"read_orders", "read_customers"}


def test_unknown_topic_is_acknowledged_recorded_and_ignored(live):
    install(live)
    response, _ = post(live, "products/create", {"id": 5})
    assert response.status_code == 200 and "ignored" in response.text
    (row,) = deliveries(live.app)
    assert row.status == "ignored"
    assert queued(live.app) == 0


def queued(app) -> int:
    from shopify_app.jobs import get_queue

    with app.app_context():
        return get_queue().count


def test_a_cached_shop_id_whose_row_vanished_is_looked_up_again(live):
    install(live, SHOP_A)
    live.app.extensions.setdefault("webhook_shop_ids", {})[SHOP_A] = 987654  # no such shop
    response, _ = post(live, "orders/create", {"id": 1})
    assert response.status_code == 200
    (row,) = deliveries(live.app)
    with live.app.app_context():
        assert get_session().get(Shop, row.shop_id).domain == SHOP_A


def test_the_inbox_writer_stores_every_header_value_as_the_orm_reads_it(live):
    install(live, SHOP_A)
    body = (
        b'{"id": 1, "admin_graphql_api_id": "gid://shopify/Order/1", "note": "\xc3\xa4ij\xc3\xa4"}'
    )
    response, headers = post(
        live, "orders/create", body, webhook_id="wh-round-trip", triggered_at="2026-11-20T16:05:07Z"
    )
    assert response.status_code == 200
    (row,) = deliveries(live.app)
    assert row.body == body and row.webhook_id == "wh-round-trip"
    assert row.topic == "orders/create" and row.api_version == headers["X-Shopify-API-Version"]
    assert row.triggered_at.isoformat() == "2026-11-20T16:05:07+00:00"
    assert abs(utcnow() - row.received_at) < timedelta(minutes=1)
    assert row.status == "pending" and row.attempts == 0 and row.last_error is None


def test_dropped_inbox_connections_are_replaced_and_nothing_is_lost(live):
    install(live, SHOP_A)
    assert post(live, "orders/create", {"id": 1})[0].status_code == 200
    writer = live.app.extensions["inbox_writer"]
    idle = [writer._take(), writer._take()]  # the one the first delivery used, and another
    for conn in idle:  # as if the database had restarted under both
        conn.close()
        writer._idle.put(conn)
    assert post(live, "orders/create", {"id": 2})[0].status_code == 200
    assert post(live, "orders/create", {"id": 3})[0].status_code == 200
    assert [json.loads(r.body)["id"] for r in deliveries(live.app)] == [1, 2, 3]
