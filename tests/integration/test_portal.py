"""The Customer Service Portal: one search box, a referral with its evidence and history,
"where is my reward?" and Resend, shop isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import (
    Advocate,
    AuditEntry,
    Customer,
    EmailMessage,
    Referral,
    Reward,
    StaffMember,
    utcnow,
)
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token

from .test_program_pages import SETTINGS, get, post, referral_setup, settle
from .webhook_support import install, one, rows, run_jobs

LINES = [{"title": "Green tea", "price": "40.00", "quantity": 1}]


@pytest.fixture
def story(live):
    """Ada refers Bob (completed, reward issued) and her own alias (blocked)."""
    install(live, SHOP_A)
    _ada, advocate, order = referral_setup(live, last_name="Lovelace", phone="+358401234567")
    return live, advocate, order


def people(response) -> int:
    return response.text.count("/portal/customers/")


def test_one_box_finds_people_by_every_handle(story):
    live, advocate, order = story
    reward = one(live.app, Reward)
    for query, expected in (
        ("ADA.L@GMAIL.COM", "email ada.l@gmail.com"),
        ("lovelace", "name or email contains"),
        ("+358 40 123 4567", "phone +358401234567"),
        (advocate.code.lower(), f"referral code {advocate.code}"),
        (reward.code, f"reward code {reward.code}"),
        (f"#{order.number}", f"order #{order.number}"),
    ):
        found = get(live, "/portal", q=query)
        assert found.status_code == 200 and expected in found.text, query
        assert people(found) >= 1
    assert "Nothing matches" in get(live, "/portal", q="zz-nobody").text
    install(live, SHOP_B)
    assert people(get(live, "/portal", shop=SHOP_B, q="ada.l@gmail.com")) == 0


def test_a_blocked_referral_shows_the_evidence_side_by_side(story):
    live, _advocate, _order = story
    blocked = one(live.app, Referral, Referral.status == "blocked")
    page = get(live, f"/portal/referrals/{blocked.id}")
    assert page.status_code == 200
    assert "Friend&#39;s email, normalised</dt><dd>adal@gmail.com" in page.text
    assert "Advocate&#39;s email, normalised</dt><dd>adal@gmail.com" in page.text
    assert "self_referral.email" in page.text and "v1" in page.text
    assert "No reward: the referral was blocked." in page.text
    assert "New → Pending" in page.text and "Pending → Blocked" in page.text
    assert get(live, f"/portal/referrals/{blocked.id}", shop=SHOP_B).status_code in (302, 404)


def test_where_is_my_reward_and_resend_once_per_click(story):
    live, _advocate, _order = story
    completed = one(live.app, Referral, Referral.status == "completed")
    reward = one(live.app, Reward)
    page = get(live, f"/portal/referrals/{completed.id}")
    assert f"Issued: code {reward.code}, not used yet" in page.text
    assert page.text.count('<tr id="reward-email-') >= 1  # the first reward email is listed
    first = post(live, f"/portal/referrals/{completed.id}/resend", {"request_key": "k1"})
    again = post(live, f"/portal/referrals/{completed.id}/resend", {"request_key": "k1"})
    assert first.status_code == again.status_code == 200
    assert "reward email to ada.l@gmail.com is queued to be sent again" in first.text
    run_jobs(live.app)
    assert len(rows(live.app, EmailMessage, EmailMessage.reward_id == reward.id)) == 2
    assert len(live.devstore.extensions["devstore_mailbox"].to("ada.l@gmail.com")) == 2
    assert one(live.app, AuditEntry, AuditEntry.action == "reward.email_resent").actor == (
        "staff:501"
    )


def test_resend_to_an_erased_customer_is_refused_with_the_reason(story):
    live, _advocate, _order = story
    completed = one(live.app, Referral, Referral.status == "completed")
    with live.app.app_context():
        session = get_session()
        ada = session.query(Customer).filter_by(email="ada.l@gmail.com").one()
        ada.redacted_at = utcnow()
        session.commit()
    refused = post(live, f"/portal/referrals/{completed.id}/resend", {"request_key": "k2"})
    assert refused.status_code == 422 and "erased at their request" in refused.text


def test_the_audit_page_lists_staff_actions_filterable_by_who_what_and_when(story):
    live, _advocate, _order = story
    completed = one(live.app, Referral, Referral.status == "completed")
    post(live, f"/referrals/{completed.id}/void", {"reason": "Returned in store"})
    everything = get(live, "/portal/audit")
    assert everything.status_code == 200
    assert "program.updated" in everything.text and "referral.voided" in everything.text
    assert "Returned in store" in everything.text
    voids = get(live, "/portal/audit", action="referral.voided")
    assert voids.text.count('<tr id="audit-') == 1
    by_someone_else = get(live, "/portal/audit", actor="staff:999")
    assert "No actions recorded for this filter" in by_someone_else.text
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert "No actions recorded" in get(live, "/portal/audit", **{"from": tomorrow}).text
    assert get(live, "/portal/audit", **{"from": "not-a-day"}).status_code == 200
    install(live, SHOP_B)
    assert '<tr id="audit-' not in get(live, "/portal/audit", shop=SHOP_B).text


def test_the_audit_trail_names_staff_from_an_online_token_exchange(story):
    """Staff 501 of the devstore is Ada Alpha; the ID token says only `sub: 501`."""
    live, _advocate, _order = story
    completed = one(live.app, Referral, Referral.status == "completed")
    post(live, f"/referrals/{completed.id}/void", {"reason": "Returned in store"})
    page = get(live, "/portal/audit")
    assert "Ada Alpha (ada@alpha.example)" in page.text
    member = one(live.app, StaffMember)
    assert (member.user_id, member.email, member.account_owner) == (501, "ada@alpha.example", True)
    # Once known, the identity is not asked for again on every request.
    before = len(live.state.token_requests)
    for _ in range(3):
        get(live, "/portal/audit")
    assert len(live.state.token_requests) == before
    online = [r for r in live.state.token_requests if "online" in (r["requested_token_type"] or "")]
    assert online  # ID tokens of user 42 (not staff of the devstore) ask too, and fail
    # A user the shop does not know (or a failing exchange) never blocks the page.
    stranger = {"Authorization": f"Bearer {id_token(SHOP_A, user_id=999)}"}
    unknown = live.http.get(f"{live.app_url}/portal/audit", headers=stranger)
    assert unknown.status_code == 200 and "staff:999" not in unknown.text


def test_reassigning_moves_the_reward_and_back_again(story):
    live, ada_advocate, _order = story
    commerce.create_customer(live.state, SHOP_A, email="ben@example.com", first_name="Ben")
    settle(live)
    post(live, "/advocates", {"email": "ben@example.com"})
    run_jobs(live.app)
    ben = one(live.app, Advocate, Advocate.code != ada_advocate.code)
    completed = one(live.app, Referral, Referral.status == "completed")
    first_reward = one(live.app, Reward)

    for data, text in (
        ({"advocate": ben.code, "reason": " "}, "Say why"),
        ({"advocate": ada_advocate.code, "reason": "x"}, "already belongs"),
        ({"advocate": "nobody@example.com", "reason": "x"}, "No advocate"),
    ):
        refused = post(live, f"/portal/referrals/{completed.id}/reassign", data)
        assert refused.status_code == 422 and text in refused.text

    moved = post(
        live,
        f"/portal/referrals/{completed.id}/reassign",
        {"advocate": "BEN@example.com", "reason": "Ben sent the link first"},
    )
    assert moved.status_code == 200 and f"now belongs to {ben.code}" in moved.text
    run_jobs(live.app)
    old = one(live.app, Reward, Reward.id == first_reward.id)
    assert old.status == "voided" and "reassigned" in old.void_reason
    shop_data = commerce.data(live.state, SHOP_A)
    assert commerce.find_discount(shop_data, old.code).active is False
    bens = one(live.app, Reward, Reward.advocate_id == ben.id)
    assert bens.status == "issued" and commerce.find_discount(shop_data, bens.code) is not None

    back = post(
        live,
        f"/portal/referrals/{completed.id}/reassign",
        {"advocate": ada_advocate.code, "reason": "Ben's claim was wrong"},
    )
    assert back.status_code == 200
    run_jobs(live.app)
    adas = one(live.app, Reward, Reward.advocate_id == ada_advocate.id)
    assert adas.status == "issued" and adas.code != old.code
    assert one(live.app, Reward, Reward.advocate_id == ben.id).status == "voided"
    assert len(rows(live.app, Reward)) == 2
    actions = [a.action for a in rows(live.app, AuditEntry)]
    assert actions.count("referral.reassigned") == 2
    page = get(live, "/referrals")
    assert page.text.count('<tr id="referral-') == 2  # one row per referral, not per reward


def test_a_referral_created_by_hand_checks_the_rules_and_can_be_forced(live):
    install(live, SHOP_A)
    post(live, "/settings", {**SETTINGS, "friend_new_customers_only": ""} | {"enabled": "on"})
    commerce.create_customer(live.state, SHOP_A, email="ada.l@gmail.com", first_name="Ada")
    settle(live)
    post(live, "/advocates", {"email": "ada.l@gmail.com"})
    run_jobs(live.app)
    advocate = one(live.app, Advocate)
    friend = commerce.create_customer(live.state, SHOP_A, email="adal+1@gmail.com")
    order = commerce.place_order(live.state, SHOP_A, customer_id=friend.id, lines=LINES)
    settle(live)  # no code on the order: no referral
    assert rows(live.app, Referral) == []
    form = {
        "advocate": advocate.code,
        "order": f"#{order.number}",
        "reason": "Friend forgot the code",
    }

    checked = post(live, "/portal/referrals/new", {**form, "action": "check"})
    assert checked.status_code == 200 and "1 rule would block it" in checked.text
    assert "self_referral.email" in checked.text
    assert rows(live.app, Referral) == []  # a check keeps nothing

    no_reason = post(live, "/portal/referrals/new", {**form, "reason": "", "action": "create"})
    assert no_reason.status_code == 422 and "Say why" in no_reason.text
    created = post(live, "/portal/referrals/new", {**form, "action": "create"})
    assert created.status_code == 200 and "created: blocked" in created.text
    again = post(live, "/portal/referrals/new", {**form, "action": "create"})
    assert again.status_code == 422 and "already has a referral" in again.text
    referral = one(live.app, Referral)
    assert referral.attribution == "manual" and referral.status == "blocked"


def test_forcing_past_a_rule_completes_the_referral_and_is_audited(live):
    install(live, SHOP_A)
    post(live, "/settings", {**SETTINGS})
    commerce.create_customer(live.state, SHOP_A, email="ada.l@gmail.com", first_name="Ada")
    settle(live)
    post(live, "/advocates", {"email": "ada.l@gmail.com"})
    run_jobs(live.app)
    assert one(live.app, Advocate).friend_discount_status == "active"
    friend = commerce.create_customer(live.state, SHOP_A, email="adal+2@gmail.com")
    order = commerce.place_order(live.state, SHOP_A, customer_id=friend.id, lines=LINES)
    settle(live)
    forced = post(
        live,
        "/portal/referrals/new",
        {
            "advocate": "ada.l@gmail.com",
            "order": str(order.number),
            "reason": "Sisters share an inbox",
            "force": "on",
            "action": "create",
        },
    )
    assert forced.status_code == 200 and "created: completed" in forced.text
    run_jobs(live.app)
    assert one(live.app, Reward).status == "issued"
    audit = one(live.app, AuditEntry, AuditEntry.action == "referral.created.forced")
    assert audit.reason == "Sisters share an inbox"
    history = get(live, f"/portal/referrals/{one(live.app, Referral).id}").text
    assert (
        "Blocked → Pending · Ada Alpha (ada@alpha.example) · Created by hand, past the fraud rules"
        " · Sisters share an inbox" in history
    )


def test_unblock_and_unvoid_undo_with_a_reason_and_the_reward_follows(story):
    live, _advocate, _order = story
    blocked = one(live.app, Referral, Referral.status == "blocked")
    refused = post(live, f"/portal/referrals/{blocked.id}/unvoid", {"reason": "x"})
    assert refused.status_code == 422 and "not voided" in refused.text
    no_reason = post(live, f"/portal/referrals/{blocked.id}/unblock", {"reason": ""})
    assert no_reason.status_code == 422 and "Say why" in no_reason.text
    unblocked = post(live, f"/portal/referrals/{blocked.id}/unblock", {"reason": "Her sister"})
    assert unblocked.status_code == 200 and "is completed again" in unblocked.text
    run_jobs(live.app)
    assert one(live.app, Reward, Reward.referral_id == blocked.id).status == "issued"

    completed = one(live.app, Referral, Referral.id != blocked.id)
    first = one(live.app, Reward, Reward.referral_id == completed.id)
    post(live, f"/referrals/{completed.id}/void", {"reason": "By mistake"})
    run_jobs(live.app)
    assert one(live.app, Reward, Reward.id == first.id).status == "voided"
    restored = post(live, f"/portal/referrals/{completed.id}/unvoid", {"reason": "Void was wrong"})
    assert restored.status_code == 200 and "is completed again" in restored.text
    run_jobs(live.app)
    back = one(live.app, Reward, Reward.id == first.id)
    assert back.status == "issued" and back.code != first.code
    assert commerce.find_discount(commerce.data(live.state, SHOP_A), back.code) is not None
    actions = {a.action for a in rows(live.app, AuditEntry)}
    assert {"referral.unblocked", "referral.unvoided"} <= actions


def test_a_refunded_referral_cannot_be_unvoided(story):
    live, _advocate, order = story
    commerce.refund_order(live.state, SHOP_A, order.id, order.total)
    settle(live)
    voided = one(live.app, Referral, Referral.order_shopify_id == order.id)
    assert voided.status == "voided"
    refused = post(live, f"/portal/referrals/{voided.id}/unvoid", {"reason": "please"})
    assert refused.status_code == 422 and "refunded in full" in refused.text
