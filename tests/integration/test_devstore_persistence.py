"""The devstore kept on disk (`create_devstore(state_dir=...)`, what `referrals devstore` and
so `make dev` run): a new devstore on the same folder continues where the last one stopped."""

from __future__ import annotations

import smtplib
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

from devstore import bulk, commerce, create_devstore
from devstore.app_config import load_registered_app
from devstore.mailbox import start_smtp
from devstore.oauth import ID_TOKEN_TYPE, OFFLINE_TYPE, TOKEN_EXCHANGE
from devstore.persistence import StateError
from devstore.store import Sequence
from tests.helpers import API_KEY, API_SECRET, id_token
from tests.support import LiveServer, wait_until

SHOP = "demo-shop.myshopify.com"
SECOND = "second-shop.myshopify.com"
GRAPHQL = f"/shops/{SHOP}/admin/api/2026-07/graphql.json"
CREATE = """
mutation Create($d: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $d) { codeDiscountNode { id } userErrors { code } }
}"""
BY_CODE = """
query ByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) { codeDiscount { ... on DiscountCodeBasic {
    asyncUsageCount usageLimit } } }
}"""


class Receiver:
    """The app's webhook endpoint: records each delivery's id, answers `status`."""

    def __init__(self):
        self.status = "200 OK"
        self.webhook_ids: list[str] = []
        self.lock = threading.Lock()
        self.server = LiveServer(self)

    def __call__(self, environ, start_response):
        with self.lock:
            self.webhook_ids.append(environ.get("HTTP_X_SHOPIFY_WEBHOOK_ID", ""))
            status = self.status
        start_response(status, [("Content-Type", "text/plain")])
        return [b""]


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.stop()


@pytest.fixture(autouse=True)
def new_process(monkeypatch):
    """Each devstore built here starts its id counters afresh, as a new process would."""

    def restart() -> None:
        monkeypatch.setattr(commerce, "_ids", Sequence(1_000_001))
        monkeypatch.setattr(bulk, "_ids", Sequence(4_000_001))

    return restart


def devstore(folder: Path, app_url: str):
    registered = load_registered_app(api_key=API_KEY, api_secret=API_SECRET, app_url=app_url)
    return create_devstore(registered_app=registered, state_dir=folder)


def stop(devstore_app) -> None:
    """What `referrals devstore` does when it stops: the last save."""
    devstore_app.extensions["devstore_state"].dispatcher.stop()
    devstore_app.extensions["devstore_persistence"].close()


def offline_tokens(client) -> dict:
    response = client.post(
        f"/shops/{SHOP}/admin/oauth/access_token",
        json={
            "client_id": API_KEY,
            "client_secret": API_SECRET,
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": id_token(SHOP),
            "subject_token_type": ID_TOKEN_TYPE,
            "requested_token_type": OFFLINE_TYPE,
            "expiring": "1",
        },
    )
    assert response.status_code == 200, response.text
    return response.get_json()


def graphql(client, token: str, query: str, **variables):
    response = client.post(
        GRAPHQL,
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": token},
    )
    return response.status_code, response.get_json()


def checkout(client, email: str, code: str | None = None) -> commerce.DevOrder:
    form = {"email": email} | ({"discount_code": code} if code else {})
    added = client.post(f"/shops/{SHOP}/cart/add.js", data={"id": "8001", "quantity": "2"})
    assert added.status_code == 200, added.text
    response = client.post(f"/shops/{SHOP}/checkout", data=form)
    assert response.status_code == 200, response.text
    return response


def latest_order(devstore_app) -> commerce.DevOrder:
    orders = commerce.data(devstore_app.extensions["devstore_state"], SHOP).orders
    return max(orders.values(), key=lambda o: o.id)


def all_ids(devstore_app) -> set[int]:
    data = commerce.data(devstore_app.extensions["devstore_state"], SHOP)
    ids = set(data.customers) | set(data.orders) | set(data.discounts)
    for order in data.orders.values():
        ids |= {li.id for li in order.line_items}
    return ids


def send_mail(port: int, to: str, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "app@example.com", to, subject
    message.set_content("Your reward code is THANKS-1.")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.send_message(message)


def test_a_restarted_devstore_continues_where_it_stopped(tmp_path, receiver, new_process):
    folder = tmp_path / "devstore"
    first = devstore(folder, receiver.server.url)
    client = first.test_client()
    tokens = offline_tokens(client)
    status, created = graphql(
        client,
        tokens["access_token"],
        CREATE,
        d={
            "title": "Referral friend offer",
            "code": "FRIEND-ADA",
            "customerGets": {"value": {"percentage": 0.2}, "items": {"all": True}},
            "appliesOncePerCustomer": True,
            "usageLimit": 5,
        },
    )
    assert status == 200 and created["data"]["discountCodeBasicCreate"]["userErrors"] == []
    checkout(client, "fran@example.com", "FRIEND-ADA")
    before = latest_order(first)
    assert before.discount_code == "FRIEND-ADA"
    first.extensions["devstore_state"].uninstall(SECOND)
    smtp = start_smtp(first.extensions["devstore_mailbox"])
    try:
        send_mail(smtp.port, "ada@example.com", "Your friend used your code")
    finally:
        smtp.stop()
    ids_before = all_ids(first)
    stop(first)

    new_process()
    second = devstore(folder, receiver.server.url)
    client = second.test_client()
    try:
        # the app's stored tokens still work, and its refresh token still refreshes
        status, found = graphql(client, tokens["access_token"], BY_CODE, code="FRIEND-ADA")
        assert status == 200, found
        assert found["data"]["codeDiscountNodeByCode"]["codeDiscount"] == {
            "asyncUsageCount": 1,
            "usageLimit": 5,
        }
        refreshed = client.post(
            f"/shops/{SHOP}/admin/oauth/access_token",
            json={
                "client_id": API_KEY,
                "client_secret": API_SECRET,
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
            },
        )
        assert refreshed.status_code == 200, refreshed.text

        # the friend code still applies; order numbers and ids continue, never repeat
        checkout(client, "gil@example.com", "FRIEND-ADA")
        after = latest_order(second)
        assert after.discount_code == "FRIEND-ADA" and after.discount_amount > 0
        assert after.number == before.number + 1
        new_ids = all_ids(second) - ids_before
        assert new_ids and min(new_ids) > max(ids_before)
        # once per customer still holds: the first friend's order was kept
        checkout(client, "fran@example.com", "FRIEND-ADA")
        assert latest_order(second).discount_code is None

        # an uninstalled shop stays uninstalled; the mailbox kept its message
        assert not second.extensions["devstore_state"].shop(SECOND).installed
        assert "Your friend used your code" in client.get("/mailbox").text
        discounts = client.get("/store/demo-shop/discounts").text
        assert "FRIEND-ADA" in discounts and "2 / 5" in discounts
    finally:
        stop(second)


def test_deliveries_not_made_before_the_stop_are_made_after_the_restart(
    tmp_path, receiver, monkeypatch
):
    monkeypatch.setenv("DEVSTORE_TIME_SCALE", "0.001")  # retries after 60 ms, 120 ms, ...
    folder = tmp_path / "devstore"
    receiver.status = "503 Service Unavailable"  # the app is down
    first = devstore(folder, receiver.server.url)
    checkout(first.test_client(), "fran@example.com")
    wait_until(lambda: len(receiver.webhook_ids) >= 3, 30, "failed delivery attempts")
    stop(first)  # still failing: a retry may not succeed before the stop
    with receiver.lock:
        attempted = set(receiver.webhook_ids)
        receiver.webhook_ids.clear()
        receiver.status = "200 OK"
    assert attempted, "the devstore tried to deliver before it stopped"

    second = devstore(folder, receiver.server.url)
    try:
        assert second.extensions["devstore_state"].dispatcher.drain(timeout=30)
        assert attempted <= set(receiver.webhook_ids)  # the same deliveries, same ids
    finally:
        stop(second)


def test_a_bulk_operation_left_unfinished_is_finished_after_the_restart(
    tmp_path, receiver, new_process
):
    folder = tmp_path / "devstore"
    first = devstore(folder, receiver.server.url)
    client = first.test_client()
    token = offline_tokens(client)["access_token"]
    query = "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } } }"
    status, started = graphql(client, token, query, q="{ customers { edges { node { id } } } }")
    assert status == 200, started
    (operation,) = first.extensions["devstore_state"].bulk_operations[SHOP]
    wait_until(lambda: operation.status == "COMPLETED", 30, "the bulk operation")
    operation.status, operation.content = "RUNNING", b""  # as if stopped while it ran
    stop(first)
    new_process()

    second = devstore(folder, receiver.server.url)
    try:
        (resumed,) = second.extensions["devstore_state"].bulk_operations[SHOP]
        wait_until(lambda: resumed.status == "COMPLETED", 30, "the resumed bulk operation")
        status, current = graphql(
            second.test_client(), token, "{ currentBulkOperation { status objectCount url } }"
        )
        node = current["data"]["currentBulkOperation"]
        assert node["status"] == "COMPLETED" and node["objectCount"] == "12"
        lines = second.test_client().get(node["url"].split("localhost", 1)[-1]).data
        assert lines.count(b"\n") == 12
    finally:
        stop(second)


def test_a_second_devstore_on_the_same_folder_is_refused(tmp_path, receiver):
    folder = tmp_path / "devstore"
    first = devstore(folder, receiver.server.url)
    try:
        with pytest.raises(StateError, match="another devstore is using"):
            devstore(folder, receiver.server.url)
    finally:
        stop(first)
    stop(devstore(folder, receiver.server.url))  # free again once the first stopped


def test_a_state_file_it_cannot_read_stops_the_start_and_is_kept(tmp_path, receiver):
    folder = tmp_path / "devstore"
    folder.mkdir()
    broken = b'{"format": 1, "shops": [{"domain": 5}'
    (folder / "state.json").write_bytes(broken)
    with pytest.raises(StateError, match="cannot be read.*make reset"):
        devstore(folder, receiver.server.url)
    assert (folder / "state.json").read_bytes() == broken
    stop(devstore(tmp_path / "elsewhere", receiver.server.url))
    with pytest.raises(StateError, match="cannot be read"):  # and the lock was let go
        devstore(folder, receiver.server.url)


def test_the_apps_web_pixel_is_kept_across_a_restart(tmp_path, receiver, new_process):
    folder = tmp_path / "devstore"
    first = devstore(folder, receiver.server.url)
    client = first.test_client()
    token = offline_tokens(client)["access_token"]
    settings = '{"ingestUrl": "https://x.example/pixel/events", "shopKey": "1.ab"}'
    status, created = graphql(
        client,
        token,
        "mutation C($w: WebPixelInput!) { webPixelCreate(webPixel: $w) "
        "{ webPixel { id } userErrors { code } } }",
        w={"settings": settings},
    )
    assert status == 200 and created["data"]["webPixelCreate"]["userErrors"] == []
    pixel_id = created["data"]["webPixelCreate"]["webPixel"]["id"]
    stop(first)

    new_process()
    second = devstore(folder, receiver.server.url)
    try:
        status, read = graphql(second.test_client(), token, "{ webPixel { id settings } }")
        assert read["data"]["webPixel"]["id"] == pixel_id
        assert "shopKey" in read["data"]["webPixel"]["settings"]
    finally:
        stop(second)
