"""The referral program over the public API (live HTTP, real keys): advocates, referrals,
rewards and custom conversion events (G5) set up on the Settings page; per resource, and
per error (a read key writing 403, another shop's ids 404, refusals 422 with the reason)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import AuditEntry, Conversion, Referral, Reward, TimelineEvent
from tests.conftest import SHOP_A, SHOP_B

from .api_support import Api, api_for, make_key
from .test_program_pages import LINES, SETTINGS, get, post, settle
from .webhook_support import one, rows, run_jobs

EVENT = "subscription_started"


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


@pytest.fixture
def api(live) -> Api:
    return api_for(live, SHOP_A)


def event_program(live, shop=SHOP_A):
    """The Settings page makes the subscription the reward trigger."""
    saved = post(
        live, "/settings", {**SETTINGS, "reward_trigger": "event", "conversion_event": EVENT}, shop
    )
    assert saved.status_code == 200, saved.text
    page = get(live, "/settings", shop)
    assert f'value="{EVENT}"' in page.text and '<option value="event" selected>' in page.text


def customer(api: Api, email: str) -> int:
    made = api.post("/customers", {"email": email, "first_name": email.split("@")[0].title()})
    assert made.status_code in (200, 201), made.text
    return made.json()["id"]


def join(api: Api, customer_id: int) -> dict:
    joined = api.post("/advocates", {"customer_id": customer_id})
    assert joined.status_code in (200, 201), joined.text
    return joined.json()


def test_settings_refuse_an_event_trigger_without_a_valid_event(api):
    bad = post(
        api.live,
        "/settings",
        {**SETTINGS, "reward_trigger": "event", "conversion_event": "Sub Started"},
    )
    assert bad.status_code == 422 and "Name the conversion event" in bad.text


def test_a_conversion_event_makes_a_referral_and_a_reward_exactly_once(api):
    live = api.live
    event_program(live)
    ada = customer(api, "ada@example.com")
    bob = customer(api, "bob@example.com")

    first_join = api.post("/advocates", {"customer_id": ada})
    again = api.post("/advocates", {"email": "ADA@example.com"})
    assert (first_join.status_code, again.status_code) == (201, 200)
    advocate = first_join.json()
    assert again.json() == advocate
    assert advocate["share_url"].endswith(f"/r/{advocate['code']}")

    body = {
        "customer_id": bob,
        "type": EVENT,
        "event_id": "sub_8311",
        "source": "Recharge",
        "properties": {"referral_code": advocate["code"], "value": "29.90", "plan": "monthly"},
    }
    made = api.post("/conversions", body)
    assert made.status_code == 201, made.text
    result = made.json()
    assert (result["outcome"], result["referral_status"], result["duplicate"]) == (
        "referral",
        "completed",
        False,
    )
    # The same event again, even with another body: the first result, nothing new.
    repeat = api.post("/conversions", {**body, "properties": {}})
    assert repeat.status_code == 200
    assert repeat.json() == {**result, "duplicate": True}
    assert api.get(f"/conversions/{result['id']}").json() == result

    run_jobs(live.app)  # the reward code is created in Shopify (the devstore)
    reward = api.get(f"/rewards/{result['reward_id']}").json()
    assert (reward["status"], reward["advocate_id"], reward["kind"]) == (
        "issued",
        advocate["id"],
        "fixed_amount",
    )
    assert reward["amount"] == {"amount": "10.00", "currency": reward["amount"]["currency"]}
    referral = api.get(f"/referrals/{result['referral_id']}").json()
    assert (referral["order_id"], referral["conversion_id"]) == (None, result["id"])
    assert referral["total"]["amount"] == "29.90"
    assert referral["reward_id"] == reward["id"]
    assert len(rows(live.app, Referral)) == len(rows(live.app, Reward)) == 1
    assert len(rows(live.app, Conversion)) == 1
    timeline = rows(live.app, TimelineEvent, TimelineEvent.kind == EVENT)
    assert [(e.source, e.source_name) for e in timeline] == [("api", "Recharge")]
    actors = {(a.action, a.actor) for a in rows(live.app, AuditEntry)}
    assert ("advocate.joined", "api:Zapier") in actors

    # Staff see it in the admin and the portal as a conversion, not an order.
    listed = get(live, "/referrals")
    assert listed.status_code == 200 and f"Conversion event #{result['id']}" in listed.text
    detail = get(live, f"/portal/referrals/{result['referral_id']}")
    assert detail.status_code == 200 and "a conversion event" in detail.text

    other = api.post(
        "/conversions",
        {
            "customer_id": bob,
            "type": "review.submitted",
            "event_id": "rv-1",
            "properties": {"referral_code": advocate["code"]},
        },
    )
    assert other.status_code == 201
    assert (other.json()["outcome"], other.json()["referral_id"]) == ("not_trigger", None)
    assert len(rows(live.app, Referral)) == 1


def test_lists_page_with_cursors_and_filter(api):
    live = api.live
    event_program(live)
    ada = join(api, customer(api, "ada@example.com"))
    friends = [customer(api, f"friend{i}@example.com") for i in range(3)]
    for i, friend in enumerate(friends):
        made = api.post(
            "/conversions",
            {
                "customer_id": friend,
                "type": EVENT,
                "event_id": f"e-{i}",
                "properties": {"ref": ada["code"]},
            },
        )
        assert made.status_code == 201, made.text

    first = api.get("/referrals", limit=2).json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    rest = api.get("/referrals", limit=2, cursor=first["next_cursor"]).json()
    assert len(rest["data"]) == 1 and rest["next_cursor"] is None
    ids = [r["id"] for r in first["data"] + rest["data"]]
    assert ids == sorted(ids, reverse=True)
    assert len(api.get("/referrals", status="completed", advocate_id=ada["id"]).json()["data"]) == 3
    assert api.get("/referrals", status="voided").json() == {"data": [], "next_cursor": None}
    assert len(api.get("/rewards", advocate_id=ada["id"]).json()["data"]) == 3
    assert [a["id"] for a in api.get("/advocates").json()["data"]] == [ada["id"]]

    malformed = api.get("/referrals", cursor="not-a-cursor")
    assert malformed.status_code == 400 and error_of(malformed)["type"] == "invalid_request"
    bad_status = api.get("/rewards", status="lost")
    assert bad_status.status_code in (400, 422)


def test_a_read_key_reads_but_cannot_write(api):
    live = api.live
    event_program(live)
    ada = join(api, customer(api, "ada@example.com"))
    bob = customer(api, "bob@example.com")
    reader = Api(live, make_key(live, SHOP_A, access="read", name="Reports"))

    assert reader.get("/advocates").status_code == 200
    assert reader.get(f"/advocates/{ada['id']}").status_code == 200
    for path, body in (
        ("/advocates", {"customer_id": bob}),
        ("/conversions", {"customer_id": bob, "type": EVENT, "event_id": "r-1"}),
        ("/referrals", {"advocate_id": ada["id"], "order_name": "#1", "reason": "x"}),
        ("/referrals/1/approve", {}),
        ("/referrals/1/void", {"reason": "x"}),
    ):
        refused = reader.post(path, body)
        assert refused.status_code == 403, (path, refused.text)
        assert error_of(refused)["type"] == "forbidden"
    assert rows(live.app, Conversion) == [] and rows(live.app, Referral) == []


def test_another_shops_ids_are_not_found(api):
    live = api.live
    event_program(live)
    ada = join(api, customer(api, "ada@example.com"))
    bob = customer(api, "bob@example.com")
    made = api.post(
        "/conversions",
        {"customer_id": bob, "type": EVENT, "event_id": "x-1", "properties": {"ref": ada["code"]}},
    ).json()
    theirs = api_for(live, SHOP_B, name="B's app")

    for path in (
        f"/advocates/{ada['id']}",
        f"/referrals/{made['referral_id']}",
        f"/rewards/{made['reward_id']}",
        f"/conversions/{made['id']}",
    ):
        answer = theirs.get(path)
        assert answer.status_code == 404, path
        assert error_of(answer)["type"] == "not_found"
    for path, body in (
        (f"/referrals/{made['referral_id']}/void", {"reason": "mine now"}),
        (f"/referrals/{made['referral_id']}/approve", {}),
        ("/advocates", {"customer_id": bob}),
        ("/conversions", {"customer_id": bob, "type": EVENT, "event_id": "x-2"}),
        ("/referrals", {"advocate_id": ada["id"], "order_name": "#1001", "reason": "x"}),
    ):
        answer = theirs.post(path, body)
        assert answer.status_code == 404, (path, answer.text)
    assert theirs.get("/referrals").json()["data"] == []
    assert api.get(f"/referrals/{made['referral_id']}").json()["status"] == "completed"


def test_referral_actions_refused_with_the_reason(api):
    live = api.live
    event_program(live)
    ada = join(api, customer(api, "ada@example.com"))
    bob = customer(api, "bob@example.com")
    made = api.post(
        "/conversions",
        {"customer_id": bob, "type": EVENT, "event_id": "y-1", "properties": {"ref": ada["code"]}},
    ).json()
    referral = f"/referrals/{made['referral_id']}"

    approve = api.post(f"{referral}/approve", {})
    assert approve.status_code == 422
    assert error_of(approve)["type"] == "validation_failed"
    assert "only pending referrals can be approved" in error_of(approve)["message"]
    blank = api.post(f"{referral}/void", {"reason": "  "})
    assert blank.status_code == 422 and "Say why" in error_of(blank)["message"]
    missing = api.post(f"{referral}/void", {})
    assert missing.status_code == 422
    assert "reason" in [f["path"] for f in error_of(missing).get("fields", [])]

    voided = api.post(f"{referral}/void", {"reason": "Test subscription"})
    assert voided.status_code == 200, voided.text
    assert (voided.json()["status"], voided.json()["status_reason"]) == (
        "voided",
        "Test subscription",
    )
    assert api.get(f"/rewards/{made['reward_id']}").json()["status"] == "voided"
    twice = api.post(f"{referral}/void", {"reason": "again"})
    assert twice.status_code == 422 and "already voided" in error_of(twice)["message"]
    with live.app.app_context():
        actions = [
            (a.action, a.actor, a.reason)
            for a in get_session().scalars(select(AuditEntry).order_by(AuditEntry.id))
            if a.action.startswith("referral.")
        ]
    assert actions == [("referral.voided", "api:Zapier", "Test subscription")]

    unknown_field = api.post(
        "/conversions",
        {"customer_id": bob, "type": EVENT, "event_id": "y-2", "amount": 5},
    )
    assert unknown_field.status_code == 422
    nested = api.post(
        "/conversions",
        {"customer_id": bob, "type": EVENT, "event_id": "y-3", "properties": {"a": {"b": 1}}},
    )
    assert nested.status_code == 422


def test_a_referral_by_hand_checks_the_rules_and_force_passes_a_block(api):
    live = api.live
    post(live, "/settings", SETTINGS)
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    bob = commerce.create_customer(live.state, SHOP_A, email="bob@example.com", first_name="Bob")
    commerce.place_order(live.state, SHOP_A, customer_id=bob.id, lines=LINES)
    second = commerce.place_order(live.state, SHOP_A, customer_id=bob.id, lines=LINES)
    settle(live)
    advocate = api.post("/advocates", {"email": "ada@example.com"}).json()
    assert ada.email == "ada@example.com"
    order_name = f"#{second.number}"

    check = api.post(
        "/referrals",
        {"advocate_id": advocate["id"], "order_name": order_name, "reason": "", "dry_run": True},
    )
    assert check.status_code == 200, check.text
    assert check.json()["referral"] is None
    blocks = {c["rule"] for c in check.json()["checks"] if c["outcome"] == "block"}
    assert blocks == {"existing_customer"}
    assert rows(live.app, Referral) == []

    no_reason = api.post(
        "/referrals", {"advocate_id": advocate["id"], "order_name": order_name, "reason": ""}
    )
    assert no_reason.status_code == 422 and "Say why" in error_of(no_reason)["message"]
    forced = api.post(
        "/referrals",
        {
            "advocate_id": advocate["id"],
            "order_name": order_name,
            "reason": "Phoned in",
            "force": True,
        },
    )
    assert forced.status_code == 201, forced.text
    referral = forced.json()["referral"]
    assert (referral["status"], referral["attribution"], referral["order_name"]) == (
        "completed",
        "manual",
        order_name,
    )
    has_one = api.post(
        "/referrals",
        {"advocate_id": advocate["id"], "order_name": order_name, "reason": "again"},
    )
    assert has_one.status_code == 422 and "already has a referral" in error_of(has_one)["message"]
    nowhere = api.post(
        "/referrals", {"advocate_id": advocate["id"], "order_id": 999999999, "reason": "x"}
    )
    assert nowhere.status_code == 404
    both = api.post(
        "/referrals",
        {"advocate_id": advocate["id"], "order_id": 1, "order_name": "#1", "reason": "x"},
    )
    assert both.status_code == 422
    assert one(live.app, AuditEntry, AuditEntry.action == "referral.created.forced").actor == (
        "api:Zapier"
    )


def test_the_same_conversion_sent_concurrently_makes_one_referral_and_one_reward(api):
    """Retries racing each other (no Idempotency-Key: the event id alone holds it)."""
    live = api.live
    event_program(live)
    ada = join(api, customer(api, "ada@example.com"))
    bob = customer(api, "bob@example.com")
    body = {
        "customer_id": bob,
        "type": EVENT,
        "event_id": "race-1",
        "properties": {"ref": ada["code"]},
    }
    answers = []

    def send():
        answers.append(api.post("/conversions", body))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(a.status_code for a in answers) == [200] * 5 + [201], [a.text for a in answers]
    first = next(a.json() for a in answers if a.status_code == 201)
    assert all({**a.json(), "duplicate": False} == first for a in answers if a.status_code == 200)
    assert len(rows(live.app, Conversion)) == 1
    assert len(rows(live.app, Referral)) == len(rows(live.app, Reward)) == 1
