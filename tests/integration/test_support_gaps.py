"""Issue 21's support gaps over HTTP, with real signed ID tokens: a flagged referral in the
review queue, approved or voided from the portal's referral page (its reward issued once),
only the actions that can succeed offered, and another shop's referral a 404."""

from __future__ import annotations

import pytest

from devstore import commerce
from shopify_app.models import AuditEntry, Referral, Reward
from tests.conftest import SHOP_A, SHOP_B

from .test_program_pages import LINES, auth, get, post, referral_setup, settle
from .webhook_support import install, install_with_program, one, rows, run_jobs


@pytest.fixture
def flagged(live):
    """Ada (ada.l@gmail.com) refers Bob (completed) and ada.l@yahoo.com (flagged)."""
    install(live, SHOP_A)
    _ada, advocate, _order = referral_setup(live, last_name="Lovelace")
    twin = commerce.create_customer(live.state, SHOP_A, email="ada.l@yahoo.com", first_name="A")
    commerce.place_order(
        live.state, SHOP_A, customer_id=twin.id, lines=LINES, discount_code=advocate.code
    )
    settle(live)
    referral = one(live.app, Referral, Referral.flagged_at.is_not(None))
    return live, referral


def test_a_flagged_referral_waits_in_the_review_queue(flagged):
    live, referral = flagged
    assert referral.status == "pending"
    assert rows(live.app, Reward, Reward.referral_id == referral.id) == []
    queue = get(live, "/referrals", status="flagged")
    assert queue.status_code == 200
    assert queue.text.count('<tr id="referral-') == 1 and f"referral-{referral.id}" in queue.text
    assert "Flagged for review (1)" in queue.text and "similar to the advocate" in queue.text
    page = get(live, f"/portal/referrals/{referral.id}")
    assert "Held for review" in page.text and 'id="approve-form"' in page.text
    assert "Flagged</span>" in page.text  # the similar_email check's outcome


def test_approving_from_the_portal_issues_the_reward_once(flagged):
    live, referral = flagged
    url = f"/portal/referrals/{referral.id}/approve"
    first = post(live, url, {"reason": "Her second address"})
    again = post(live, url, {"reason": "double click"})
    assert first.status_code == 200 and "approved" in first.text
    assert again.status_code == 422 and "only pending referrals can be approved" in again.text
    settle(live)
    [reward] = rows(live.app, Reward, Reward.referral_id == referral.id)
    assert reward.status == "issued"
    assert one(live.app, Referral, Referral.id == referral.id).status == "completed"
    [audit] = rows(
        live.app,
        AuditEntry,
        AuditEntry.action == "referral.approved",
        AuditEntry.subject_id == referral.id,
    )
    assert (audit.actor, audit.reason) == ("staff:501", "Her second address")
    page = get(live, f"/portal/referrals/{referral.id}")
    assert 'id="approve-form"' not in page.text and "Issued</span>" in page.text
    assert get(live, "/referrals", status="flagged").text.count('<tr id="referral-') == 0


def test_voiding_from_the_portal_needs_a_reason_and_issues_nothing(flagged):
    live, referral = flagged
    url = f"/portal/referrals/{referral.id}/void"
    assert post(live, url, {"reason": " "}).status_code == 422
    done = post(live, url, {"reason": "Same person, two addresses"})
    assert done.status_code == 200 and "voided" in done.text
    settle(live)
    assert one(live.app, Referral, Referral.id == referral.id).status == "voided"
    assert rows(live.app, Reward, Reward.referral_id == referral.id) == []
    page = get(live, f"/portal/referrals/{referral.id}")
    assert 'id="void-form"' not in page.text and "Un-void" in page.text  # order not refunded


def test_another_shop_cannot_see_or_decide_the_referral(flagged):
    live, referral = flagged
    install(live, SHOP_B)
    for path in ("approve", "void"):
        refused = post(
            live, f"/portal/referrals/{referral.id}/{path}", {"reason": "x"}, shop=SHOP_B
        )
        assert refused.status_code == 404
    assert get(live, f"/portal/referrals/{referral.id}", shop=SHOP_B).status_code == 404
    assert one(live.app, Referral, Referral.id == referral.id).status == "pending"
    unsigned = live.http.post(
        f"{live.app_url}/portal/referrals/{referral.id}/approve", data={"reason": "x"}
    )
    assert unsigned.status_code in (302, 400, 401)  # no shop, no token: refused
    assert one(live.app, Referral, Referral.id == referral.id).status == "pending"


def test_a_refunded_referral_explains_its_reward_and_offers_no_unvoid(live):
    install(live, SHOP_A)
    _ada, _advocate, order = referral_setup(live)
    completed = one(live.app, Referral, Referral.status == "completed")
    commerce.refund_order(live.state, SHOP_A, order.id, order.total)
    settle(live)
    run_jobs(live.app)
    page = get(live, f"/portal/referrals/{completed.id}")
    assert "No reward: the referral was voided." in page.text
    assert "had been issued on" in page.text and "deactivated in Shopify" in page.text
    assert "Un-void</button>" not in page.text and 'id="undo-refused"' in page.text
    refused = post(live, f"/portal/referrals/{completed.id}/unvoid", {"reason": "please"})
    assert refused.status_code == 422  # what the page no longer offers is refused anyway


def test_resend_says_queued_as_its_row_does(live):
    install(live, SHOP_A)
    referral_setup(live)
    completed = one(live.app, Referral, Referral.status == "completed")
    done = post(live, f"/portal/referrals/{completed.id}/resend", {"request_key": "k9"})
    assert done.status_code == 200
    assert "queued to be sent again" in done.text and "Queued</span>" in done.text


def test_did_my_friend_get_the_email_search_and_the_shares_tab(live):
    """A shopper shares from the storefront page (signed app proxy) to a friend who is no
    customer; the friend follows the link in the email; support finds the friend's address
    and the advocate's Shares tab."""
    import re

    from shopify_app.models import Advocate, EmailMessage, ReferralClick

    from .test_share_limits import advocates, share

    install_with_program(live, SHOP_A)
    [ben] = advocates(live, "Ben")
    friend = "zoe.stranger@example.net"
    assert share(live, ben, friend).status_code == 200
    run_jobs(live.app)
    message = one(live.app, EmailMessage, EmailMessage.kind == "share")
    link = re.search(r"(/r/\S+\?s=[0-9a-f]{16})", message.body_text).group(1)
    followed = live.http.get(f"{live.app_url}{link}", follow_redirects=False)
    assert followed.status_code in (302, 303)
    assert one(live.app, ReferralClick).share_token == link.rsplit("=", 1)[1]

    found = get(live, "/portal", q=friend.upper())
    assert found.status_code == 200 and 'id="emails-to"' in found.text
    assert "Referral offer email" in found.text and "shared their offer" in found.text
    advocate = one(live.app, Advocate)
    tab = get(live, f"/portal/customers/{advocate.customer_id}", tab="shares")
    assert tab.status_code == 200 and 'id="shares"' in tab.text
    row = tab.text[tab.text.index(friend) :]
    assert "Sent</span>" in row and '<td class="num">1</td>' in row and "Not yet" in row
    install(live, SHOP_B)
    assert 'id="emails-to"' not in get(live, "/portal", shop=SHOP_B, q=friend).text


def test_pasting_a_blocklist_answers_line_by_line(live):
    from shopify_app.models import BlocklistEntry

    install(live, SHOP_A)
    pasted = "*@spam.example\n+358 40 123 4567\nnonsense\n198.51.100.0/24\n*@spam.example"
    page = post(live, "/blocklist/bulk", {"values": pasted, "kind": "detect", "note": "wave"})
    assert page.status_code == 200 and 'id="bulk-results"' in page.text
    assert "3 added, 1 already on the blocklist, 1 not valid." in page.text
    assert page.text.count('<tr class="added">') == 3
    assert page.text.count('<tr class="invalid">') == 1 and "Repeats line 1." in page.text
    assert len(rows(live.app, BlocklistEntry)) == 3
    audits = rows(live.app, AuditEntry, AuditEntry.action == "blocklist.added")
    assert len(audits) == 3 and {a.actor for a in audits} == {"staff:501"}
    again = post(live, "/blocklist/bulk", {"values": pasted, "kind": "detect"})
    assert "0 added" in again.text and len(rows(live.app, BlocklistEntry)) == 3
    assert post(live, "/blocklist/bulk", {"values": " \n "}).status_code == 422
    install(live, SHOP_B)
    post(live, "/blocklist/bulk", {"values": "*@spam.example"}, shop=SHOP_B)
    assert len(rows(live.app, BlocklistEntry)) == 4  # B's own entry; A's untouched
    assert get(live, "/blocklist", shop=SHOP_B).text.count('<tr id="entry-') == 1


def test_an_offline_sale_from_the_portal_is_audited_and_rewarded_once(live):
    install(live, SHOP_A)
    _ada, advocate, _order = referral_setup(live)
    commerce.create_customer(live.state, SHOP_A, email="cleo@example.com", first_name="Cleo")
    settle(live)
    form = {
        "advocate": advocate.code,
        "friend": "Cleo@example.com",
        "subtotal": "49.90",
        "reason": "Sold at the market stall",
        "request_key": "offline1",
    }
    first = post(live, "/portal/referrals/offline", form)
    again = post(live, "/portal/referrals/offline", form)  # a double click
    assert first.status_code == again.status_code == 200
    assert "created for the offline sale" in first.text
    assert "An offline sale of 49.90 EUR, entered by staff" in first.text
    settle(live)
    [sale] = rows(live.app, Referral, Referral.order_shopify_id < 0)
    assert (sale.status, sale.order_total_minor) == ("completed", 4990)
    assert len(rows(live.app, Reward, Reward.referral_id == sale.id)) == 1
    [audit] = rows(live.app, AuditEntry, AuditEntry.action == "referral.created_offline")
    assert (audit.actor, audit.reason) == ("staff:501", "Sold at the market stall")
    refused = post(live, "/portal/referrals/offline", {**form, "reason": "", "request_key": "k2"})
    assert refused.status_code == 422 and "Say why" in refused.text
    unknown = post(live, "/portal/referrals/offline", {**form, "friend": "nobody@example.com"})
    assert unknown.status_code == 422 and "No customer with the friend" in unknown.text
    install(live, SHOP_B)
    other = post(live, "/portal/referrals/offline", {**form, "request_key": "k3"}, shop=SHOP_B)
    assert other.status_code == 422  # Shop B knows neither the advocate nor the friend
    assert len(rows(live.app, Referral, Referral.order_shopify_id < 0)) == 1


def test_undo_from_the_audit_page(live):
    install(live, SHOP_A)
    referral_setup(live)
    completed = one(live.app, Referral, Referral.status == "completed")
    post(live, f"/referrals/{completed.id}/void", {"reason": "Returned in store"})
    voided = one(live.app, AuditEntry, AuditEntry.action == "referral.voided")
    page = get(live, "/portal/audit")
    row = page.text[page.text.index(f'<tr id="audit-{voided.id}"') :].split("</tr>")[0]
    assert "Un-void</button>" in row and f"/portal/audit/{voided.id}/undo" in row

    install(live, SHOP_B)
    other = post(live, f"/portal/audit/{voided.id}/undo", {"reason": "x"}, shop=SHOP_B)
    assert other.status_code == 404
    assert one(live.app, Referral, Referral.id == completed.id).status == "voided"

    url = f"/portal/audit/{voided.id}/undo"
    assert post(live, url, {"reason": ""}).status_code == 422
    done = post(live, url, {"reason": "The return was cancelled"})
    again = post(live, url, {"reason": "double click"})
    assert done.status_code == 200 and "Undone: Referral" in done.text
    assert again.status_code == 422 and "undone already" in again.text
    settle(live)
    assert one(live.app, Referral, Referral.id == completed.id).status == "completed"
    [unvoided] = rows(live.app, AuditEntry, AuditEntry.action == "referral.unvoided")
    assert (unvoided.actor, unvoided.after["undoes"]) == ("staff:501", voided.id)
    assert one(live.app, AuditEntry, AuditEntry.id == voided.id).undone_by_id == unvoided.id
    issued = rows(live.app, Reward, Reward.referral_id == completed.id)
    assert [r.status for r in issued] == ["issued"]  # given back once, with a new code


def test_two_approvals_at_once_issue_one_reward(flagged):
    """Two staff members click Approve on the same flagged referral at the same moment: the
    row lock orders them, the second is refused, one reward exists."""
    import threading

    live, referral = flagged
    url = f"/portal/referrals/{referral.id}/approve"
    start = threading.Barrier(2)
    answers: list[int] = []

    def click(user_id: int) -> None:
        start.wait()
        answers.append(
            live.http.post(
                f"{live.app_url}{url}", data={"reason": "ok"}, headers=auth(SHOP_A, user_id)
            ).status_code
        )

    threads = [threading.Thread(target=click, args=(u,)) for u in (501, 502)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 422]
    settle(live)
    assert len(rows(live.app, Reward, Reward.referral_id == referral.id)) == 1
    approvals = rows(
        live.app,
        AuditEntry,
        AuditEntry.action == "referral.approved",
        AuditEntry.subject_id == referral.id,
    )
    assert len(approvals) == 1
