"""The program's admin pages over HTTP with real ID tokens: Settings, Advocates, Referrals
(filters, search, approve, void, refusals), shop isolation, escaping; and `/r/<code>`."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import (
    Advocate,
    AuditEntry,
    BlocklistEntry,
    EmailMessage,
    FraudCheck,
    Program,
    Referral,
    ReferralClick,
    Reward,
    Shop,
)
from shopify_app.referrals import fraud
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token

from .webhook_support import install, one, rows, run_jobs

LINES = [{"title": "Green tea", "price": "40.00", "quantity": 1}]

SETTINGS = {
    "enabled": "on",
    "friend_kind": "percentage",
    "friend_value": "20",
    "friend_min_subtotal": "0",
    "friend_once_per_customer": "on",
    "friend_new_customers_only": "on",
    "reward_kind": "fixed_amount",
    "reward_value": "10.00",
    "reward_expiry_days": "60",
    "reward_trigger": "paid",
    "reward_trigger_days": "0",
    "approval_mode": "auto",
    "approval_delay_hours": "0",
    "cap_per_day": "",
    "cap_total": "",
}


def auth(shop=SHOP_A, user_id=501):
    return {"Authorization": f"Bearer {id_token(shop, user_id=user_id)}"}


def get(live, path, shop=SHOP_A, **params):
    return live.http.get(f"{live.app_url}{path}", params=params, headers=auth(shop))


def post(live, path, data, shop=SHOP_A, **params):
    return live.http.post(f"{live.app_url}{path}", params=params, data=data, headers=auth(shop))


def settle(live, rounds=4):
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


@pytest.fixture
def shop(live):
    install(live, SHOP_A)
    return live


def test_settings_refuse_bad_input_field_by_field_and_change_nothing(shop):
    live = shop
    page = get(live, "/settings")
    assert page.status_code == 200 and "Referral program settings" in page.text
    bad = post(live, "/settings", {**SETTINGS, "friend_value": "0", "reward_value": "ten"})
    assert bad.status_code == 422
    assert "percentage must be a whole number from 1 to 100" in bad.text
    assert "positive amount in EUR" in bad.text
    program = one(live.app, Program)
    assert (program.enabled, program.version) == (False, 1)
    assert rows(live.app, AuditEntry) == []


def test_saving_settings_bumps_the_version_audits_and_updates_friend_codes(shop):
    live = shop
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    settle(live)
    assert post(live, "/advocates", {"email": "ADA@example.com"}).status_code == 200
    run_jobs(live.app)
    advocate = one(live.app, Advocate)
    assert advocate.friend_discount_status == "active"

    saved = post(live, "/settings", SETTINGS)
    assert saved.status_code == 200 and "Settings saved" in saved.text
    program = one(live.app, Program)
    assert (program.enabled, program.version, program.friend_value) == (True, 2, 20)
    audit = one(live.app, AuditEntry, AuditEntry.action == "program.updated")
    assert audit.actor == "staff:501" and audit.after["friend_value"] == 20
    assert audit.before["friend_value"] == 10
    run_jobs(live.app)
    code = commerce.find_discount(commerce.data(live.state, SHOP_A), advocate.code)
    assert code.percentage == pytest.approx(0.20)

    again = post(live, "/settings", SETTINGS)  # unchanged: no new version, no audit
    assert again.status_code == 200
    assert one(live.app, Program).version == 2
    assert len(rows(live.app, AuditEntry, AuditEntry.action == "program.updated")) == 1
    assert ada.id  # the devstore customer behind the advocate


def test_joining_explains_refusals_and_is_idempotent(shop):
    live = shop
    commerce.create_customer(live.state, SHOP_A, email="bo@example.com", first_name="<script>Bo")
    settle(live)
    missing = post(live, "/advocates", {"email": "nobody@example.com"})
    assert missing.status_code == 422 and "No customer with the email" in missing.text
    blank = post(live, "/advocates", {"email": ""})
    assert blank.status_code == 422 and "Enter the customer" in blank.text
    first = post(live, "/advocates", {"email": "bo@example.com"})
    second = post(live, "/advocates", {"email": "bo@example.com"})
    assert first.status_code == second.status_code == 200
    assert "had already joined" in second.text
    assert len(rows(live.app, Advocate)) == 1
    assert "<script>Bo" not in first.text and "&lt;script&gt;Bo" in first.text
    page = get(live, "/advocates")
    assert f"/r/{one(live.app, Advocate).code}" in page.text


def referral_setup(live, *, manual=False, **advocate_fields):
    """Ada refers Bob (his order completes) and an alias of her own (blocked)."""
    post(live, "/settings", {**SETTINGS, "approval_mode": "manual" if manual else "auto"})
    ada = commerce.create_customer(
        live.state,
        SHOP_A,
        email="ada.l@gmail.com",
        first_name="Ada",
        state="enabled",
        **advocate_fields,
    )
    settle(live)
    post(live, "/advocates", {"email": "ada.l@gmail.com"})
    run_jobs(live.app)
    advocate = one(live.app, Advocate)
    bob = commerce.create_customer(live.state, SHOP_A, email="bob@example.com", first_name="Bob")
    order = commerce.place_order(
        live.state, SHOP_A, customer_id=bob.id, lines=LINES, discount_code=advocate.code
    )
    alias = commerce.create_customer(live.state, SHOP_A, email="A.da.L+x@gmail.com")
    commerce.place_order(
        live.state, SHOP_A, customer_id=alias.id, lines=LINES, discount_code=advocate.code
    )
    settle(live)
    return ada, advocate, order


def test_the_referrals_page_filters_searches_and_explains_blocks(shop):
    live = shop
    _ada, advocate, order = referral_setup(live)
    page = get(live, "/referrals")
    assert page.status_code == 200
    assert page.text.count('<tr id="referral-') == 2
    assert "Completed (1)" in page.text and "Blocked (1)" in page.text
    blocked = get(live, "/referrals", status="blocked")
    assert blocked.text.count('<tr id="referral-') == 1
    assert "normalises to adal@gmail.com" in blocked.text
    by_order = get(live, "/referrals", q=f"#{order.number}")
    assert by_order.text.count('<tr id="referral-') == 1
    reward = one(live.app, Reward)
    by_reward = get(live, "/referrals", q=reward.code.lower())
    assert by_reward.text.count('<tr id="referral-') == 1
    assert get(live, "/referrals", status="nonsense", before="x").status_code == 200
    none = get(live, "/referrals", q="nobody-at-all")
    assert "No referral matches" in none.text


def test_manual_approval_queue_approve_and_void_with_reason(shop):
    live = shop
    _ada, _advocate, order = referral_setup(live, manual=True)
    waiting = one(live.app, Referral, Referral.order_shopify_id == order.id)
    assert waiting.status == "pending" and waiting.needs_manual_approval
    queue = get(live, "/referrals", status="approval")
    assert f'id="referral-{waiting.id}"' in queue.text
    approved = post(live, f"/referrals/{waiting.id}/approve", {})
    assert approved.status_code == 200 and "approved" in approved.text
    again = post(live, f"/referrals/{waiting.id}/approve", {})  # a double click
    assert again.status_code == 422 and "only pending referrals can be approved" in again.text
    run_jobs(live.app)
    assert one(live.app, Reward).status == "issued"
    assert len(rows(live.app, Reward)) == 1

    no_reason = post(live, f"/referrals/{waiting.id}/void", {"reason": " "})
    assert no_reason.status_code == 422 and "Say why" in no_reason.text
    voided = post(live, f"/referrals/{waiting.id}/void", {"reason": "Customer returned it"})
    assert voided.status_code == 200
    referral = one(live.app, Referral, Referral.id == waiting.id)
    assert referral.status == "voided" and referral.status_reason == "Customer returned it"
    run_jobs(live.app)
    reward = one(live.app, Reward)
    assert reward.status == "voided"
    assert commerce.find_discount(commerce.data(live.state, SHOP_A), reward.code).active is False
    actions = [a.action for a in rows(live.app, AuditEntry)]
    assert {"referral.approved", "referral.voided"} <= set(actions)
    twice = post(live, f"/referrals/{waiting.id}/void", {"reason": "again"})
    assert twice.status_code == 422 and "already voided" in twice.text


def test_another_shops_referral_is_not_found(shop):
    live = shop
    referral_setup(live)
    install(live, SHOP_B)
    referral = rows(live.app, Referral)[0]
    response = post(live, f"/referrals/{referral.id}/void", {"reason": "x"}, shop=SHOP_B)
    assert response.status_code == 404
    other = get(live, "/referrals", shop=SHOP_B)
    assert 'id="referral-' not in other.text
    assert one(live.app, Referral, Referral.id == referral.id).status != "voided"


def test_the_referral_link_records_the_click_and_applies_the_friend_discount(shop):
    live = shop
    post(live, "/settings", SETTINGS)
    commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    settle(live)
    post(live, "/advocates", {"email": "ada@example.com"})
    run_jobs(live.app)
    advocate = one(live.app, Advocate)
    response = live.http.get(
        f"{live.app_url}/r/{advocate.code.lower()}", headers={"User-Agent": "FriendBrowser/1"}
    )
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == f"/shops/{SHOP_A}/discount/{advocate.code}"
    assert parse_qs(target.query)["redirect"] == [f"/?ref={advocate.code}"]
    assert "ref_vid=" in response.headers["set-cookie"]
    click = one(live.app, ReferralClick)
    assert (click.advocate_id, click.ip, click.user_agent) == (
        advocate.id,
        "127.0.0.1",
        "FriendBrowser/1",
    )
    assert click.visitor_id

    unknown = live.http.get(f"{live.app_url}/r/NOPE-12345678")
    assert unknown.status_code == 200 and "no longer active" in unknown.text
    hinted = live.http.get(f"{live.app_url}/r/NOPE-12345678", params={"shop": SHOP_A})
    assert hinted.status_code == 302 and hinted.headers["Location"].endswith(f"/shops/{SHOP_A}/")
    with live.app.app_context():
        session = get_session()
        program = session.query(Program).one()
        program.enabled = False
        session.commit()
        assert session.query(Shop).filter_by(domain=SHOP_A).one()
    off = live.http.get(f"{live.app_url}/r/{advocate.code}")
    assert off.status_code == 302 and off.headers["Location"].endswith(f"/shops/{SHOP_A}/")


def test_staff_invitations_skip_members_unsubscribed_and_repeat_sends(shop):
    live = shop
    post(live, "/settings", SETTINGS)
    commerce.create_customer(
        live.state, SHOP_A, email="gil@example.com", first_name="Gil", email_consent="subscribed"
    )
    commerce.create_customer(
        live.state, SHOP_A, email="out@example.com", email_consent="unsubscribed"
    )
    settle(live)
    sent = post(live, "/advocates/invite", {"email": "gil@example.com"})
    assert sent.status_code == 200 and "Invitation sent to gil@example.com" in sent.text
    twice = post(live, "/advocates/invite", {"email": "gil@example.com"})
    assert "already invited today" in twice.text
    out = post(live, "/advocates/invite", {"email": "out@example.com"})
    assert out.status_code == 422 and "unsubscribed from email marketing" in out.text
    run_jobs(live.app)
    mail = live.devstore.extensions["devstore_mailbox"].to("gil@example.com")
    assert len(mail) == 1 and "/apps/referrals?via=invitation" in mail[0].text
    assert "20% off" in mail[0].text
    post(live, "/advocates", {"email": "gil@example.com"})
    member = post(live, "/advocates/invite", {"email": "gil@example.com"})
    assert member.status_code == 422 and "already joined" in member.text
    assert one(live.app, AuditEntry, AuditEntry.action == "customer.invited").actor == "staff:501"


def test_recheck_stores_a_new_evaluation_and_explains_it(shop):
    live = shop
    referral_setup(live)
    blocked = one(live.app, Referral, Referral.status == "blocked")
    response = post(live, f"/referrals/{blocked.id}/recheck", {})
    assert response.status_code == 200 and "re-checked" in response.text
    assert "normalises to adal@gmail.com" in response.text
    checks = rows(live.app, FraudCheck, FraudCheck.referral_id == blocked.id)
    assert {c.evaluation for c in checks} == {1, 2}
    assert len([c for c in checks if c.evaluation == 2]) == len(fraud.RULES)
    assert one(live.app, Referral, Referral.id == blocked.id).status == "blocked"


def test_the_email_log_shows_sent_and_failed_deliveries(shop):
    live = shop
    mailbox = live.devstore.extensions["devstore_mailbox"]
    mailbox.refuse_next = 1  # the relay refuses the first message
    referral_setup(live)  # the completed referral's reward email
    failed = one(live.app, EmailMessage)
    assert failed.status == "failed" and "451" in failed.error and failed.attempts == 1
    page = get(live, "/emails", status="failed")
    assert f'id="email-{failed.id}"' in page.text and "451" in page.text
    with live.app.app_context():
        from workers.email_jobs import deliver_email

        assert deliver_email(failed.id) == "sent"  # what RQ's retry does
    sent = get(live, "/emails", status="sent")
    assert f'id="email-{failed.id}"' in sent.text
    assert one(live.app, EmailMessage).attempts == 2


def test_the_blocklist_page_adds_removes_audits_and_the_rules_use_it(shop):
    live = shop
    post(live, "/settings", SETTINGS)
    bad = post(live, "/blocklist", {"kind": "ip", "value": "10.0.0.300/33", "note": "x"})
    assert bad.status_code == 422 and "not an IP address or CIDR range" in bad.text
    assert rows(live.app, BlocklistEntry) == []
    added = post(
        live, "/blocklist", {"kind": "email", "value": "*@Spam.test", "note": "fraud ring"}
    )
    assert added.status_code == 200 and "*@spam.test is on the blocklist" in added.text
    # "Added" names the staff member (staff 501 is Ada Alpha), never `staff:501`.
    assert "Ada Alpha (ada@alpha.example)" in added.text and "staff:501" not in added.text
    twice = post(live, "/blocklist", {"kind": "email", "value": "*@spam.test"})
    assert twice.status_code == 200 and len(rows(live.app, BlocklistEntry)) == 1

    commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    settle(live)
    post(live, "/advocates", {"email": "ada@example.com"})
    run_jobs(live.app)
    advocate = one(live.app, Advocate)
    spammer = commerce.create_customer(live.state, SHOP_A, email="x@spam.test")
    commerce.place_order(
        live.state, SHOP_A, customer_id=spammer.id, lines=LINES, discount_code=advocate.code
    )
    settle(live)
    referral = one(live.app, Referral)
    assert referral.status == "blocked" and "x@spam.test matches email *@spam.test" in (
        referral.status_reason
    )

    entry = one(live.app, BlocklistEntry)
    removed = post(live, f"/blocklist/{entry.id}/remove", {})
    assert removed.status_code == 200 and "was removed" in removed.text
    again = post(live, f"/blocklist/{entry.id}/remove", {})
    assert "Already removed" in again.text
    audit = [
        (a.action, a.before, a.after)
        for a in rows(live.app, AuditEntry)
        if a.action.startswith("blocklist.")
    ]
    assert audit[0][0] == "blocklist.added" and audit[0][2]["value"] == "*@spam.test"
    assert audit[1][0] == "blocklist.removed" and audit[1][1]["note"] == "fraud ring"
    assert len(audit) == 2
