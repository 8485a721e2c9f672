"""The public API (/api/v1) over live HTTP with real keys: authentication and scopes, the
error objects of the issue's "Bad input" list, customers (create or update by email or
phone, merged like a storefront signup; get; list with the Customers page's filters; custom
attributes; the batch), third parties' timeline events, idempotency and rate limits."""

from __future__ import annotations

import json
import threading

import pytest
from limits import parse_many
from sqlalchemy import select

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import (
    ApiKey,
    AuditEntry,
    Customer,
    IdempotentRequest,
    Shop,
    TimelineEvent,
    utcnow,
)
from tests.conftest import SHOP_A, SHOP_B

from .api_support import Api, api_for, make_key
from .test_program_pages import get
from .webhook_support import rows, run_jobs


@pytest.fixture
def api(live) -> Api:
    return api_for(live, SHOP_A)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def paths_of(response) -> list[str]:
    return [f["path"] for f in error_of(response).get("fields", [])]


# -- keys and scopes ---------------------------------------------------------------------


def test_missing_wrong_and_revoked_keys_are_401(api):
    live = api.live
    assert Api(live, None).get("/customers").status_code == 401
    missing = Api(live, None).get("/customers")
    assert error_of(missing)["type"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert Api(live, "rk_nonsense").get("/customers").status_code == 401
    # the right prefix with another secret
    forged = Api(live, api.secret[: len("rk_") + 12 + 1] + "A" * 43)
    assert forged.get("/customers").status_code == 401
    assert api.get("/customers").status_code == 200
    with live.app.app_context():
        session = get_session()
        key = session.scalars(select(ApiKey)).one()
        assert api.secret not in (key.secret_hash, key.prefix)  # only a fingerprint is kept
        assert key.last_used_at is not None
        key.revoked_at = key.created_at
        session.commit()
    revoked = api.get("/customers")
    assert revoked.status_code == 401 and error_of(revoked)["type"] == "unauthorized"


def test_a_key_of_a_shop_that_uninstalled_the_app_is_401(api):
    assert api.get("/customers").status_code == 200
    with api.live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
        shop.uninstalled_at = utcnow()
        session.commit()
    gone = api.get("/customers")
    assert gone.status_code == 401 and error_of(gone)["type"] == "unauthorized"


def test_a_read_key_reads_but_cannot_write(api):
    reader = Api(api.live, make_key(api.live, SHOP_A, access="read", name="Reports"))
    assert reader.get("/customers").status_code == 200
    refused = reader.post("/customers", {"email": "ada@example.com"})
    assert refused.status_code == 403
    assert error_of(refused)["type"] == "forbidden"
    assert rows(api.live.app, Customer) == []


def test_a_key_of_shop_a_never_reaches_shop_b(api):
    live = api.live
    shop_b = api_for(live, SHOP_B, name="B's app")
    theirs = shop_b.post("/customers", {"email": "bea@example.com"}).json()
    assert api.get(f"/customers/{theirs['id']}").status_code == 404
    assert error_of(api.get(f"/customers/{theirs['id']}"))["type"] == "not_found"
    event = {"type": "review.submitted", "source": "Yotpo"}
    assert api.post(f"/customers/{theirs['id']}/events", event).status_code == 404
    assert api.get("/customers", q="bea").json()["data"] == []
    # the same address in shop A is shop A's own customer, never B's
    mine = api.post("/customers", {"email": "bea@example.com"})
    assert mine.status_code == 201 and mine.json()["id"] != theirs["id"]
    assert shop_b.get(f"/customers/{mine.json()['id']}").status_code == 404


# -- customers -----------------------------------------------------------------------------


def test_create_then_update_by_email_is_one_customer_and_audited(api):
    made = api.post(
        "/customers",
        {
            "email": "Ada@Example.com",
            "first_name": "Ada",
            "custom_attributes": {
                "plan": "gold",
                "ltv": 120.5,
                "vip": True,
                "renews": "2027-01-31",
            },
        },
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["email"] == "ada@example.com" and body["first_name"] == "Ada"
    assert body["source"] == "api" and body["shopify_id"] is None
    assert body["created_at"].endswith("Z")
    assert body["custom_attributes"] == {
        "plan": "gold",
        "ltv": 120.5,
        "vip": True,
        "renews": "2027-01-31",
    }
    again = api.post(
        "/customers",
        {
            "email": "ada@example.com",
            "phone": "+1 613 555 0123",
            "custom_attributes": {"vip": None},
        },
    )
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["phone"] == "+16135550123"
    assert "vip" not in again.json()["custom_attributes"]
    by_phone = api.post("/customers", {"phone": "+16135550123", "last_name": "Lovelace"})
    assert by_phone.status_code == 200 and by_phone.json()["id"] == body["id"]
    assert len(rows(api.live.app, Customer)) == 1
    got = api.get(f"/customers/{body['id']}")
    assert got.status_code == 200 and got.json()["last_name"] == "Lovelace"
    audits = rows(api.live.app, AuditEntry, AuditEntry.subject_type == "customer")
    assert [a.actor for a in audits] == ["api:Zapier"] * 3
    assert [a.action for a in audits] == [
        "customer.api_created",
        "customer.api_updated",
        "customer.api_updated",
    ]


def test_an_api_customer_is_the_storefront_signup_record_and_becomes_the_shopify_customer(api):
    live = api.live
    made = api.post("/customers", {"email": "sam@example.com", "custom_attributes": {"a": 1}})
    assert made.status_code == 201
    dev = commerce.create_customer(live.state, SHOP_A, email="sam@example.com", first_name="Sam")
    for _ in range(4):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)
    [customer] = rows(live.app, Customer)
    assert customer.id == made.json()["id"]  # adopted: one record, never two
    assert customer.shopify_id == dev.id
    answer = api.post("/customers", {"email": "sam@example.com", "first_name": "Not Sam"})
    assert answer.status_code == 200
    assert answer.json()["first_name"] == "Sam"  # Shopify owns its customers' names
    assert answer.json()["custom_attributes"] == {"a": 1}


def test_email_and_phone_of_two_different_customers_is_a_conflict(api):
    api.post("/customers", {"email": "one@example.com"})
    api.post("/customers", {"phone": "+16135550199"})
    answer = api.post("/customers", {"email": "one@example.com", "phone": "+16135550199"})
    assert answer.status_code == 409 and paths_of(answer) == ["phone"]
    assert len(rows(api.live.app, Customer)) == 2


def test_schema_violations_are_422_with_the_field_path_and_write_nothing(api):
    unknown = api.post("/customers", {"email": "ada@example.com", "nickname": "A"})
    assert unknown.status_code == 422
    assert error_of(unknown)["type"] == "validation_failed"
    assert paths_of(unknown) == ["nickname"]
    nothing = api.post("/customers", {"first_name": "Ada"})
    assert nothing.status_code == 422
    wrong_type = api.post("/customers", {"email": 5})
    assert wrong_type.status_code == 422 and paths_of(wrong_type) == ["email"]
    too_many = {f"a{i}": i for i in range(51)}
    many = api.post("/customers", {"email": "ada@example.com", "custom_attributes": too_many})
    assert many.status_code == 422 and paths_of(many) == ["custom_attributes"]
    nested = api.post(
        "/customers", {"email": "ada@example.com", "custom_attributes": {"x": {"deep": 1}}}
    )
    assert nested.status_code == 422 and paths_of(nested) == ["custom_attributes.x"]
    not_an_address = api.post("/customers", {"email": "not-an-email"})
    assert not_an_address.status_code == 422 and paths_of(not_an_address) == ["email"]
    batch = api.post(
        "/customers/batch", {"customers": [{"email": "a@example.com"}, {"email": "b@x.io", "x": 1}]}
    )
    assert batch.status_code == 422 and paths_of(batch) == ["customers.1.x"]
    assert rows(api.live.app, Customer) == []


def test_malformed_bodies_cursors_and_oversized_bodies(api):
    broken = api.post(
        "/customers", content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and error_of(broken)["type"] == "invalid_request"
    text = api.post("/customers", content=b"email=a", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415 and error_of(text)["type"] == "unsupported_media_type"
    cursor = api.get("/customers", cursor="not-a-cursor")
    assert cursor.status_code == 400 and paths_of(cursor) == ["cursor"]
    limit = api.get("/customers", limit="1000")
    assert limit.status_code == 422 and paths_of(limit) == ["limit"]
    huge = json.dumps({"email": "a@example.com", "first_name": "x" * 1_100_000}).encode()
    big = api.post("/customers", content=huge, headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and error_of(big)["type"] == "payload_too_large"
    unknown = api.get("/nothing-here")
    assert unknown.status_code == 404 and error_of(unknown)["type"] == "not_found"


def test_list_pages_with_cursors_filters_and_search(api):
    for name in ("ada", "bea", "cy"):
        assert api.post("/customers", {"email": f"{name}@example.com"}).status_code == 201
    first = api.get("/customers", limit=2, sort="name")
    assert first.status_code == 200
    page = first.json()
    assert [c["email"] for c in page["data"]] == ["ada@example.com", "bea@example.com"]
    second = api.get("/customers", limit=2, sort="name", cursor=page["next_cursor"]).json()
    assert [c["email"] for c in second["data"]] == ["cy@example.com"]
    assert second["next_cursor"] is None
    assert [c["email"] for c in api.get("/customers", q="be").json()["data"]] == ["bea@example.com"]
    assert api.get("/customers", program="joined").json()["data"] == []
    assert len(api.get("/customers", program="not_joined", shopify="guest").json()["data"]) == 3
    bad_filter = api.get("/customers", email="sometimes")
    assert bad_filter.status_code == 422 and paths_of(bad_filter) == ["email.0"]


def test_custom_attributes_are_shown_in_the_customer_hub(api):
    made = api.post(
        "/customers",
        {"email": "ada@example.com", "custom_attributes": {"tier": "gold", "vip": True}},
    ).json()
    page = get(api.live, f"/customers/{made['id']}")
    assert page.status_code == 200
    assert 'id="custom-attributes"' in page.text
    assert "<dt>tier</dt>" in page.text and "gold" in page.text and ">Yes<" in page.text


def test_the_batch_answers_per_item_and_a_bad_item_fails_alone(api):
    answer = api.post(
        "/customers/batch",
        {
            "customers": [
                {"email": "ada@example.com"},
                {"phone": "12"},
                {"email": "ADA@example.com", "first_name": "Ada"},
            ]
        },
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["data"]
    assert [r["status"] for r in results] == ["created", "failed", "updated"]
    assert results[1]["error"]["fields"][0]["path"] == "customers.1.phone"
    assert results[0]["id"] == results[2]["id"]
    assert api.get(f"/customers/{results[0]['id']}").json()["first_name"] == "Ada"
    assert len(rows(api.live.app, Customer)) == 1
    over = api.post("/customers/batch", {"customers": [{"email": "a@x.io"}] * 101})
    assert over.status_code == 422 and paths_of(over) == ["customers"]


# -- timeline events -----------------------------------------------------------------------


def test_a_third_party_event_is_on_the_timeline_with_its_source(api):
    customer = api.post("/customers", {"email": "ada@example.com"}).json()
    made = api.post(
        f"/customers/{customer['id']}/events",
        {
            "type": "review.submitted",
            "source": "Yotpo",
            "occurred_at": "2026-12-01T10:00:00Z",
            "properties": {"stars": 5, "title": "Lovely"},
        },
    )
    assert made.status_code == 201, made.text
    event = made.json()
    assert event["type"] == "review.submitted" and event["source"] == "Yotpo"
    assert event["occurred_at"] == "2026-12-01T10:00:00.000Z"
    assert event["properties"] == {"stars": 5, "title": "Lovely"}
    page = get(api.live, f"/customers/{customer['id']}")
    assert "Review submitted (from Yotpo)" in page.text
    future = api.post(
        f"/customers/{customer['id']}/events",
        {"type": "review.submitted", "source": "Yotpo", "occurred_at": "2999-01-01T00:00:00Z"},
    )
    assert future.status_code == 422 and paths_of(future) == ["occurred_at"]
    many = {f"p{i}": i for i in range(31)}
    crowded = api.post(
        f"/customers/{customer['id']}/events",
        {"type": "x.y", "source": "S", "properties": many},
    )
    assert crowded.status_code == 422 and paths_of(crowded) == ["properties"]
    assert api.post("/customers/999999/events", {"type": "a", "source": "S"}).status_code == 404
    kinds = [e.kind for e in rows(api.live.app, TimelineEvent, TimelineEvent.source == "api")]
    assert kinds == ["review.submitted"]
    for hour in (11, 12):
        api.post(
            f"/customers/{customer['id']}/events",
            {
                "type": "points.earned",
                "source": "Smile",
                "occurred_at": f"2026-12-01T{hour}:00:00Z",
            },
        )
    first = api.get(f"/customers/{customer['id']}/events", limit=2).json()
    assert [e["occurred_at"][11:13] for e in first["data"]] == ["12", "11"]
    rest = api.get(f"/customers/{customer['id']}/events", limit=2, cursor=first["next_cursor"])
    assert [e["type"] for e in rest.json()["data"]] == ["review.submitted"]
    assert rest.json()["next_cursor"] is None
    assert api.get(f"/customers/{customer['id']}/events", cursor="eyJ4Ijox").status_code == 400


# -- idempotency ---------------------------------------------------------------------------


def test_a_repeated_post_replays_the_first_answer_and_another_body_is_409(api):
    key = {"Idempotency-Key": "order-1001-sync"}
    first = api.post("/customers", {"email": "ada@example.com", "first_name": "Ada"}, headers=key)
    assert first.status_code == 201
    # the same body, keys in another order and spacing: the same request
    same = json.dumps({"first_name": "Ada", "email": "ada@example.com"}, indent=1).encode()
    again = api.post(
        "/customers", content=same, headers={**key, "Content-Type": "application/json"}
    )
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.post("/customers", {"email": "bea@example.com"}, headers=key)
    assert other.status_code == 409 and error_of(other)["type"] == "conflict"
    assert len(rows(api.live.app, Customer)) == 1
    assert len(rows(api.live.app, AuditEntry, AuditEntry.subject_type == "customer")) == 1
    [kept] = rows(api.live.app, IdempotentRequest)
    assert kept.state == "done" and (kept.expires_at - kept.created_at).total_seconds() == 86400
    bad_key = api.post("/customers", {"email": "cy@example.com"}, headers={"Idempotency-Key": ""})
    assert bad_key.status_code == 422 and set(paths_of(bad_key)) == {"Idempotency-Key"}


def test_another_key_of_the_shop_never_gets_the_first_keys_answer(api):
    key = {"Idempotency-Key": "shared-1"}
    body = {"email": "ada@example.com"}
    assert api.post("/customers", body, headers=key).status_code == 201
    second = api_for(api.live, SHOP_A, name="Klaviyo")
    answer = second.post("/customers", body, headers=key)
    assert answer.status_code == 409 and "Idempotent-Replayed" not in answer.headers


def test_head_is_checked_as_its_get_and_limits_stay_bounded(api):
    for _ in range(3):
        assert api.post("/customers", {"email": f"h{_}@example.com"}).status_code == 201
    url = api.url("/customers")
    huge = api.live.http.head(url, params={"limit": "100000000"}, headers=api.headers())
    assert huge.status_code == 422
    negative = api.live.http.head(url, params={"limit": "-1"}, headers=api.headers())
    assert negative.status_code == 422
    fine = api.live.http.head(url, params={"limit": "2"}, headers=api.headers())
    assert fine.status_code == 200 and fine.content == b""


def test_concurrent_repeats_run_once(api):
    body = {"customers": [{"email": f"c{i}@example.com"} for i in range(40)]}
    answers = []

    def send():
        answers.append(api.post("/customers/batch", body, headers={"Idempotency-Key": "same"}))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 409}
    done = [a.json() for a in answers if a.status_code == 200]
    assert all(d == done[0] for d in done)  # the first answer, replayed
    assert [r["status"] for r in done[0]["data"]] == ["created"] * 40
    assert len(rows(api.live.app, Customer)) == 40


def test_concurrent_batches_for_the_same_addresses_make_one_record_each(api):
    emails = [f"same{i}@example.com" for i in range(30)]
    answers = []

    def send(order):
        body = {"customers": [{"email": e} for e in order]}
        answers.append(api.post("/customers/batch", body))

    threads = [
        threading.Thread(target=send, args=(emails,)),
        threading.Thread(target=send, args=(list(reversed(emails)),)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200, 200]
    statuses = [r["status"] for a in answers for r in a.json()["data"]]
    assert statuses.count("created") == 30 and statuses.count("updated") == 30
    assert len(rows(api.live.app, Customer)) == 30


# -- rate limits ---------------------------------------------------------------------------


@pytest.fixture
def tight_limits(api):
    limiter = api.live.app.extensions["rate_limits"]
    saved = dict(limiter.limits)
    limiter.limits["api-key"] = parse_many("3 per minute")
    limiter.limits["api-shop"] = parse_many("5 per minute")
    yield api
    limiter.limits.clear()
    limiter.limits.update(saved)


def test_rate_limits_per_key_and_per_shop(tight_limits):
    api = tight_limits
    answers = [api.get("/customers") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    limited = answers[3]
    assert error_of(limited)["type"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 61  # the window is a minute
    assert int(limited.headers["RateLimit-Reset"]) >= 1
    # another key of the shop has its own budget, until the shop's is spent
    other = Api(api.live, make_key(api.live, SHOP_A, name="Other"))
    assert [other.get("/customers").status_code for _ in range(2)] == [200, 429]


# -- the published document ----------------------------------------------------------------


def test_the_spec_and_its_reference_page_are_served(live):
    spec = live.http.get(f"{live.app_url}/api/v1/openapi.json")
    assert spec.status_code == 200
    document = spec.json()
    assert document["openapi"].startswith("3.1")
    assert {"/customers", "/customers/batch", "/customers/{customer_id}"} <= set(document["paths"])
    page = live.http.get(f"{live.app_url}/api/v1/docs")
    assert page.status_code == 200
    assert "Create or update a customer by email or phone" in page.text
    assert 'id="schema-Customer"' in page.text
    # nothing from elsewhere: readable offline
    assert "<script" not in page.text and "https://" not in page.text.split("</head>")[0]
