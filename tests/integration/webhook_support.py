"""Deliver signed webhooks to the live app and run the jobs, as Shopify and a worker would; set
up a shop and its program as the merchant would."""

from __future__ import annotations

import json
import uuid

import httpx
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import Customer, Shop, WebhookDelivery
from shopify_app.referrals import advocates
from shopify_app.referrals.program import update_program
from tests.conftest import SHOP_A
from tests.helpers import id_token, webhook_headers
from workers.worker import build_worker


def install(live, shop: str) -> None:
    response = live.http.get(
        f"{live.app_url}/", params={"shop": shop, "embedded": "1", "id_token": id_token(shop)}
    )
    assert response.status_code == 200


def install_with_program(live, shop: str) -> None:
    """`shop` installed, with its referral program on (15 % off for friends), as staff 501
    switched it on."""
    install(live, shop)
    with live.app.app_context():
        session = get_session()
        record = session.scalars(select(Shop).where(Shop.domain == shop)).one()
        update_program(session, record, {"enabled": True, "friend_value": 15}, actor="staff:501")
        session.commit()


def enable_program_and_join(live, shop: str, customer_id: int, **settings: object) -> str:
    """Staff 501 switch `shop`'s program on (with `settings`) and join the customer with
    Shopify id `customer_id` (synced already) as an advocate; returns the advocate's code."""
    with live.app.app_context():
        session = get_session()
        record = session.scalars(select(Shop).where(Shop.domain == shop)).one()
        update_program(session, record, {"enabled": True, **settings}, actor="staff:501")
        customer = session.scalars(select(Customer).where(Customer.shopify_id == customer_id)).one()
        advocate, _ = advocates.join(session, record, customer, via="staff", actor="staff:501")
        session.commit()
        return advocate.code


def deliver(
    live,
    shop: str,
    topic: str,
    payload,
    *,
    webhook_id: str | None = None,
    triggered_at: str | None = None,
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = webhook_headers(
        shop, topic, body, webhook_id=webhook_id or str(uuid.uuid4()), triggered_at=triggered_at
    )
    response = live.http.post(f"{live.app_url}/webhooks", content=body, headers=headers)
    assert response.status_code in (200, 400), response.text
    return response


def run_jobs(app) -> None:
    build_worker(app, simple=True).work(burst=True)


def rows(app, model, *where):
    """Matching rows in insertion (id) order, whatever order the database keeps them in."""
    with app.app_context():
        return get_session().scalars(select(model).where(*where).order_by(model.id)).all()


def one(app, model, *where):
    found = rows(app, model, *where)
    assert len(found) == 1, f"expected one {model.__name__}, found {len(found)}"
    return found[0]


def shop_id(app, domain: str) -> int:
    return one(app, Shop, Shop.domain == domain).id


def statuses(app) -> list[str]:
    return [d.status for d in rows(app, WebhookDelivery)]


def cli_env(app) -> dict[str, str]:
    """The environment a `referrals` command needs to reach this test's database and Redis."""
    return {
        "APP_ENV": "test",
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "INSTANCE_PATH": app.config["INSTANCE_PATH"],
        "ENCRYPTION_KEY": app.config["ENCRYPTION_KEY"],
    }


DEVSTORE_GRAPHQL = "/shops/{shop}/admin/api/2026-07/graphql.json"


def admin_token(live, shop: str = SHOP_A) -> str:
    """The offline token the devstore issued the app for `shop` (installed first)."""
    return next(
        token
        for token, issued in live.state.access_tokens.items()
        if issued.shop == shop and not issued.revoked
    )


def devstore_gql(live, query: str, shop: str = SHOP_A, **variables):
    """Ask the devstore's Admin GraphQL as the app does, with its token."""
    response = httpx.post(
        live.devstore_url + DEVSTORE_GRAPHQL.format(shop=shop),
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": admin_token(live, shop)},
    )
    assert response.status_code == 200, response.text
    return response.json()
