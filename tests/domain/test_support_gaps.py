"""Issue 21's support gaps in the engine: one story for a voided reward and only the actions
that can succeed (item 3), reassigning re-runs the rules (item 5), and a "Flagged" outcome
that holds a referral for review and issues its reward once on approval (item 10)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shopify_app import audit_undo, jobs
from shopify_app.models import AdvocateVisit, AuditEntry, Customer, EmailMessage, utcnow
from shopify_app.portal import details, search
from shopify_app.referrals import (
    blocklist,
    clicks,
    offline_sales,
    rewards,
    staff_actions,
    states,
)
from shopify_app.referrals import queries as referral_queries
from shopify_app.storefront import share
from shopify_app.sync import order_flow

from .. import factories
from . import queries

pytestmark = pytest.mark.program


def _order(session, shop, advocate, **overrides):
    payload = factories.order_payload(advocate.code, financial_status="paid", **overrides)
    order_flow.apply_order(session, shop, payload)
    [referral] = [
        r for r in queries.referrals(session, shop) if r.order_shopify_id == payload["id"]
    ]
    return referral, payload


# -- item 3: consistent states ------------------------------------------------------------


def test_a_refunded_referral_tells_the_whole_reward_story_and_offers_no_unvoid(session, shop):
    advocate = factories.advocate(session, shop)
    referral, payload = _order(session, shop, advocate)
    [reward] = queries.rewards(session, shop)
    rewards.mark_issued(session, shop, reward, "gid://shopify/DiscountCodeNode/1")
    owner_email = "ada.owner@example.com"
    session.add(
        EmailMessage(
            shop_id=shop.id,
            kind="reward",
            to_address=owner_email,
            subject="Your reward",
            body_text="...",
            status="sent",
            sent_at=utcnow(),
            reward_id=reward.id,
            dedupe_key=f"reward:{reward.id}",
        )
    )
    order_flow.apply_refund(session, shop, factories.refund_payload(payload["id"], "89.90"))
    assert (referral.status, reward.status) == ("voided", "voided")

    view = details.referral_view(session, shop, referral.id)
    assert view.reward_status.startswith("No reward: the referral was voided.")
    assert "refunded in full" in view.reward_status
    assert f"Its reward {reward.code} had been issued on" in view.reward_status
    assert f"emailed to {owner_email}" in view.reward_status
    assert "deactivated in Shopify" in view.reward_status
    assert not view.offers("unvoid") and "refunded" in view.actions["unvoid"]
    assert not view.offers("approve") and not view.offers("void")
    assert not view.offers("reassign")


@pytest.mark.parametrize("start", ["pending", "completed", "blocked", "voided"])
def test_every_offered_action_succeeds_and_every_refused_one_is_refused(session, shop, start):
    owner = factories.customer(session, shop)
    advocate = factories.advocate(session, shop, owner)
    friend = factories.customer(session, shop)
    order = factories.order(session, shop, friend)
    referral = factories.referral(session, shop, advocate, order, status=start)
    other = factories.advocate(session, shop)
    calls = {
        "approve": lambda: staff_actions.staff_approve(session, shop, referral, actor="staff:1"),
        "void": lambda: staff_actions.staff_void(
            session, shop, referral, actor="staff:1", reason="test"
        ),
        "unblock": lambda: staff_actions.staff_unblock(
            session, shop, referral, actor="staff:1", reason="test"
        ),
        "unvoid": lambda: staff_actions.staff_unvoid(
            session, shop, referral, actor="staff:1", reason="test"
        ),
        "reassign": lambda: staff_actions.staff_reassign(
            session, shop, referral, other, actor="staff:1", reason="test"
        ),
    }
    offered = staff_actions.offered_actions(session, shop, referral)
    assert set(offered) == set(calls)
    for action, refusal in offered.items():
        savepoint = session.begin_nested()
        if refusal is None:
            calls[action]()
        else:
            with pytest.raises(states.TransitionRefused, match=refusal.split(";")[0][:20]):
                calls[action]()
        savepoint.rollback()
        session.expire_all()


def test_the_customer_page_and_the_referrals_page_name_a_reward_alike():
    from shopify_app.referrals import vocabulary

    assert vocabulary.reward_status("issued") == "Issued"
    assert vocabulary.reward_status("unused") == "Expired"
    assert vocabulary.email_status("failed") == "Not delivered"
    assert vocabulary.referral_status("voided") == "Voided"


# -- item 5: reassign re-evaluates ------------------------------------------------------------


def test_reassigning_runs_the_rules_against_the_new_advocate(session, shop):
    first = factories.advocate(session, shop)
    referral, payload = _order(session, shop, first, email="bob.builder@example.com")
    assert referral.status == "completed"
    alias = factories.customer(session, shop, email="bob.builder@example.com")
    second = factories.advocate(session, shop, alias)

    staff_actions.staff_reassign(
        session, shop, referral, second, actor="staff:1", reason="Bob says Bo sent him"
    )

    again = queries.checks(session, referral, 2)
    assert again["self_referral.email"].evidence["advocate_email"] == "bob.builder@example.com"
    assert again["self_referral.customer"].evidence["advocate_customer_id"] == alias.id
    assert referral.status == "blocked"
    assert "normalises to" in referral.status_reason
    assert [r.status for r in queries.rewards(session, shop)] == ["voided"]  # none for Bo


def test_reassigning_a_clean_referral_keeps_it_and_clears_the_suggestion(session, shop, enqueued):
    first, second = factories.advocate(session, shop), factories.advocate(session, shop)
    referral, _payload = _order(session, shop, first)
    referral.attribution_evidence = {
        **referral.attribution_evidence,
        "candidates": [
            {"code": first.code, "advocate_id": first.id, "method": "note_attribute"},
            {"code": second.code, "advocate_id": second.id, "method": "discount_code"},
        ],
    }
    assert details.referral_view(session, shop, referral.id).reassign_suggestion == second.code

    new_reward = staff_actions.staff_reassign(
        session, shop, referral, second, actor="staff:1", reason="disputed"
    )

    assert referral.status == "completed" and new_reward.advocate_id == second.id
    assert (
        queries.checks(session, referral, 2)["self_referral.customer"].evidence[
            "advocate_customer_id"
        ]
        == second.customer_id
    )
    assert details.referral_view(session, shop, referral.id).reassign_suggestion == ""


# -- item 10: Flagged, held for review, approved once ----------------------------------------


def _similar_pair(session, shop):
    owner = factories.customer(session, shop, email="ada.lovelace@gmail.com")
    return factories.advocate(session, shop, owner)


def test_a_similar_email_flags_the_referral_and_holds_its_reward(session, shop, enqueued):
    advocate = _similar_pair(session, shop)
    referral, _payload = _order(session, shop, advocate, email="ada.lovelace@yahoo.com")

    assert referral.status == "pending" and referral.flagged_at is not None
    assert "similar" in referral.flag_reason
    assert queries.checks(session, referral)["similar_email"].outcome == "flag"
    assert queries.rewards(session, shop) == []
    assert states.complete_due(session, shop) == 0  # the scheduler does not complete it
    assert [
        r.referral.id for r in referral_queries.list_referrals(session, shop, status="flagged")[0]
    ] == [referral.id]
    assert referral_queries.status_counts(session, shop)["flagged"] == 1
    assert "Held for review" in details.referral_view(session, shop, referral.id).reward_status
    session.commit()
    assert jobs.CREATE_REWARD_CODE not in enqueued.names()


def test_approving_a_flagged_referral_issues_its_reward_exactly_once(session, shop, enqueued):
    advocate = _similar_pair(session, shop)
    referral, _payload = _order(session, shop, advocate, email="ada.lovelace@yahoo.com")

    reward = staff_actions.staff_approve(session, shop, referral, actor="staff:1", reason="ok")
    with pytest.raises(states.TransitionRefused):
        staff_actions.staff_approve(session, shop, referral, actor="staff:1")
    session.commit()

    assert referral.status == "completed"
    assert [r.id for r in queries.rewards(session, shop)] == [reward.id]
    assert enqueued.calls(jobs.CREATE_REWARD_CODE) == [(reward.id,)]
    assert referral_queries.status_counts(session, shop)["flagged"] == 0


def test_voiding_a_flagged_referral_issues_nothing(session, shop, enqueued):
    advocate = _similar_pair(session, shop)
    referral, _payload = _order(session, shop, advocate, email="ada.lovelace@yahoo.com")
    staff_actions.staff_void(session, shop, referral, actor="staff:1", reason="same person")
    session.commit()
    assert referral.status == "voided" and queries.rewards(session, shop) == []
    assert jobs.CREATE_REWARD_CODE not in enqueued.names()


def test_a_household_sharing_an_ip_is_flagged_not_blocked(session, shop):
    advocate = factories.advocate(session, shop)
    session.add(
        AdvocateVisit(
            shop_id=shop.id, advocate_id=advocate.id, ip="203.0.113.7", user_agent="Safari (Mac)"
        )
    )
    session.flush()
    referral, _payload = _order(session, shop, advocate)  # 203.0.113.7, Mozilla/5.0 (X11)

    checks = queries.checks(session, referral)
    assert checks["shared_ip"].outcome == "flag"
    assert checks["self_referral.device"].outcome == "pass"
    assert referral.status == "pending" and referral.flagged_at is not None


def test_a_block_wins_over_a_flag(session, shop):
    advocate = _similar_pair(session, shop)
    session.add(
        AdvocateVisit(
            shop_id=shop.id,
            advocate_id=advocate.id,
            ip="203.0.113.7",
            user_agent="Mozilla/5.0 (X11)",
        )
    )
    session.flush()
    referral, _payload = _order(session, shop, advocate, email="ada.lovelace@yahoo.com")
    assert referral.status == "blocked" and referral.flagged_at is None


def test_names_with_digits_or_far_apart_are_not_similar():
    from shopify_app.referrals.fraud import similar_emails

    assert similar_emails("customer-17@example.com", "customer-18@example.com") is None
    assert similar_emails("ada@example.com", "ada@example.com") is None
    assert similar_emails("adalovelace@x.com", "adalovelance@x.com") is not None
    assert similar_emails("mary.smith@x.com", "john.smith@x.com") is None
    assert similar_emails("ada.lovelace@gmail.com", "ada.lovelace@yahoo.com") is not None


# -- item 9: did my friend get an email? ---------------------------------------------------

SHARE_LIMITS = share.ShareLimits(
    per_advocate=50, per_recipient=5, recipient_days=30, per_ip=50, per_shop=1000
)


def test_search_finds_a_friend_who_is_no_customer_by_the_share_they_were_sent(session, shop):
    advocate = factories.advocate(session, shop)
    owner = session.get(Customer, advocate.customer_id)
    friend = "zoe.stranger@example.net"
    share.share_offer(session, shop, advocate, owner, [friend], ip=None, limits=SHARE_LIMITS)

    found = search.search(session, shop, "  Zoe.Stranger@EXAMPLE.net ")
    assert found.people == [] and not found.empty
    [(message, by, by_customer)] = found.emails
    assert (message.kind, message.to_address) == ("share", friend)
    assert (by.id, by_customer.id) == (advocate.id, owner.id)
    other = factories.shop(session)
    assert search.search(session, other, friend).emails == []


def test_the_shares_tab_lists_delivery_clicks_on_its_own_link_and_the_order(session, shop):
    advocate = factories.advocate(session, shop)
    owner = session.get(Customer, advocate.customer_id)
    friends = ["una@example.net", "val@example.net"]
    share.share_offer(session, shop, advocate, owner, friends, ip=None, limits=SHARE_LIMITS)
    messages = {
        m.to_address: m
        for m in session.scalars(select(EmailMessage).where(EmailMessage.shop_id == shop.id))
    }
    tag = share.share_token(messages["una@example.net"].dedupe_key)
    assert f"/r/{advocate.code}?s={tag}" in messages["una@example.net"].body_text
    for visitor in ("1", "2"):
        clicks.record_click(
            session,
            shop,
            advocate,
            ip=f"198.51.100.{visitor}",
            user_agent="x",
            visitor_id=visitor,
            share_token=tag,
        )
    clicks.record_click(session, shop, advocate, ip="198.51.100.9", user_agent="x", visitor_id="9")
    una = factories.customer(session, shop, email="una@example.net")
    order = factories.order(session, shop, una)
    referral = factories.referral(session, shop, advocate, order)

    rows = {r.message.to_address: r for r in details.shares_of(session, shop, advocate)}
    assert rows["una@example.net"].clicks == 2 and rows["val@example.net"].clicks == 0
    assert rows["una@example.net"].order_name == order.name
    assert rows["una@example.net"].referral_id == referral.id
    assert rows["val@example.net"].order_name is None
    assert details.shares_of(session, shop, factories.advocate(session, shop)) == []


# -- item 11: paste a blocklist ---------------------------------------------------------------

PASTE = """*@spam.example
+358 40 123 4567, 198.51.100.0/24
not an address
*@SPAM.example
ada@@example.com

2001:db8::/32; +1 202 555 0143"""


def test_a_pasted_list_says_what_became_of_each_line(session, shop):
    blocklist.add_entry(session, shop, "ip", "198.51.100.7/24", note=None, actor="staff:1")
    results = blocklist.add_many(session, shop, PASTE, note="spam wave", actor="staff:2")

    assert [(r.line, r.outcome, r.kind) for r in results] == [
        (1, "added", "email"),
        (2, "added", "phone"),
        (2, "already", "ip"),
        (3, "invalid", None),
        (4, "already", "email"),
        (5, "invalid", "email"),
        (7, "added", "ip"),
        (7, "added", "phone"),
    ]
    assert results[1].value == "+358401234567" and results[4].message == "Repeats line 1."
    listed = {(e.kind, e.value) for e in blocklist.entries_for(session, shop)}
    assert ("email", "*@spam.example") in listed and ("ip", "2001:db8::/32") in listed
    added = session.scalars(
        select(AuditEntry).where(
            AuditEntry.shop_id == shop.id, AuditEntry.action == "blocklist.added"
        )
    ).all()
    assert len(added) == 1 + 4 and {a.actor for a in added[1:]} == {"staff:2"}

    again = blocklist.add_many(session, shop, PASTE, note=None, actor="staff:2")
    assert [r.outcome for r in again].count("added") == 0
    assert len(blocklist.entries_for(session, shop)) == 5


def test_a_forced_kind_and_a_list_too_long(session, shop):
    [result] = blocklist.add_many(session, shop, "198.51.100.1", kind="phone", note=None, actor="s")
    assert result.outcome == "invalid" and "phone" in result.message
    with pytest.raises(blocklist.InvalidEntry, match="at most"):
        blocklist.add_many(
            session,
            shop,
            "\n".join(f"10.0.{i // 250}.{i % 250}" for i in range(1001)),
            note=None,
            actor="s",
        )
    assert blocklist.entries_for(session, shop) == []


# -- item 12: a referral for an offline sale ------------------------------------------------


def _offline(session, shop, advocate, friend, **overrides):
    values = {
        "subtotal": "49,90",
        "reason": "Sold in the shop on 3 December",
        "actor": "staff:7",
        "request_key": f"k{factories.next_id()}",
    }
    return offline_sales.create_offline_referral(
        session, shop, advocate, friend, **{**values, **overrides}
    )


def test_an_offline_sale_makes_an_audited_referral_and_one_reward(session, shop, enqueued):
    advocate = factories.advocate(session, shop)
    friend = factories.customer(session, shop)

    referral = _offline(session, shop, advocate, friend, request_key="form1")
    again = _offline(session, shop, advocate, friend, request_key="form1")  # a double submit
    session.commit()

    assert again.id == referral.id and len(queries.referrals(session, shop)) == 1
    assert (referral.status, referral.attribution, referral.order_total_minor) == (
        "completed",
        "manual",
        4990,
    )
    assert referral.order_shopify_id < 0 and referral.attribution_evidence["offline_sale"]
    assert referral.friend_customer_id == friend.id
    assert len(queries.checks(session, referral)) > 0  # every rule ran
    [audit] = session.scalars(
        select(AuditEntry).where(
            AuditEntry.shop_id == shop.id, AuditEntry.action == "referral.created_offline"
        )
    ).all()
    assert (audit.actor, audit.reason, audit.subject_id) == (
        "staff:7",
        "Sold in the shop on 3 December",
        referral.id,
    )
    assert audit.after["subtotal"].startswith("49.90")
    [reward] = queries.rewards(session, shop)
    assert enqueued.calls(jobs.CREATE_REWARD_CODE) == [(reward.id,)]
    # The sale is found again for the staff actions that re-read "the order".
    staff_actions.staff_recheck(session, shop, referral, actor="staff:7")
    assert len(queries.checks(session, referral, 2)) == len(queries.checks(session, referral))


def test_an_offline_sale_is_checked_and_refused_without_a_reason_or_amount(session, shop):
    owner = factories.customer(session, shop)
    advocate = factories.advocate(session, shop, owner)
    friend = factories.customer(session, shop)
    for bad in ({"reason": " "}, {"subtotal": "0"}, {"subtotal": "abc"}, {"subtotal": "-5"}):
        with pytest.raises(states.TransitionRefused):
            _offline(session, shop, advocate, friend, **bad)
    with pytest.raises(states.TransitionRefused, match="own friend"):
        _offline(session, shop, advocate, owner)
    other_shop = factories.shop(session)
    stranger = factories.customer(session, other_shop)
    with pytest.raises(states.TransitionRefused, match="another shop"):
        _offline(session, shop, advocate, stranger)
    assert queries.referrals(session, shop) == []

    listed = factories.customer(session, shop, email="banned@spam.example")
    blocklist.add_entry(session, shop, "email", "*@spam.example", note=None, actor="staff:1")
    blocked = _offline(session, shop, advocate, listed)
    assert blocked.status == "blocked" and "Blocklisted" in blocked.status_reason
    forced = _offline(
        session,
        shop,
        advocate,
        factories.customer(session, shop, email="x@spam.example"),
        force=True,
    )
    assert forced.status == "completed"


# -- item 14: undo from the audit -------------------------------------------------------------


def _entry(session, shop, action):
    return session.scalars(
        select(AuditEntry)
        .where(AuditEntry.shop_id == shop.id, AuditEntry.action == action)
        .order_by(AuditEntry.id.desc())
    ).first()


def test_a_void_is_undone_from_the_audit_once(session, shop, enqueued):
    advocate = factories.advocate(session, shop)
    referral, _payload = _order(session, shop, advocate)
    staff_actions.staff_void(session, shop, referral, actor="staff:1", reason="duplicate")
    voided = _entry(session, shop, "referral.voided")
    assert audit_undo.undo_options(session, shop, [voided])[voided.id].label == "Un-void"

    with pytest.raises(audit_undo.UndoRefused, match="Say why"):
        audit_undo.undo(session, shop, voided.id, actor="staff:2", reason="")
    own, done = audit_undo.undo(session, shop, voided.id, actor="staff:2", reason="checked")

    assert referral.status == "completed" and "completed again" in done
    assert own.action == "referral.unvoided" and own.after["undoes"] == voided.id
    assert voided.undone_by_id == own.id
    with pytest.raises(audit_undo.UndoRefused, match="undone already"):
        audit_undo.undo(session, shop, voided.id, actor="staff:2", reason="again")
    assert audit_undo.undo_options(session, shop, [voided]) == {}
    # The un-void is itself undoable (void again), and is now the latest on the referral.
    assert audit_undo.undo_options(session, shop, [own])[own.id].label == "Void again"


def test_an_undo_is_offered_only_while_it_can_succeed(session, shop):
    advocate = factories.advocate(session, shop)
    referral, payload = _order(session, shop, advocate)
    staff_actions.staff_void(session, shop, referral, actor="staff:1", reason="duplicate")
    voided = _entry(session, shop, "referral.voided")
    staff_actions.staff_recheck(session, shop, referral, actor="staff:1")  # changes nothing
    assert voided.id in audit_undo.undo_options(session, shop, [voided])
    order_flow.apply_refund(session, shop, factories.refund_payload(payload["id"], "89.90"))
    assert audit_undo.undo_options(session, shop, [voided]) == {}  # refunded: no un-void
    with pytest.raises(audit_undo.UndoRefused, match="refunded"):
        audit_undo.undo(session, shop, voided.id, actor="staff:2", reason="please")
    assert voided.undone_by_id is None

    other = factories.shop(session)
    with pytest.raises(audit_undo.UndoRefused, match="No such"):
        audit_undo.undo(session, other, voided.id, actor="staff:2", reason="x")
    rechecked = _entry(session, shop, "referral.rechecked")
    assert audit_undo.undo_options(session, shop, [rechecked]) == {}


def test_a_reassignment_is_given_back_and_a_later_action_stands_in_the_way(session, shop):
    first, second = factories.advocate(session, shop), factories.advocate(session, shop)
    referral, _payload = _order(session, shop, first)
    staff_actions.staff_reassign(session, shop, referral, second, actor="staff:1", reason="x")
    moved = _entry(session, shop, "referral.reassigned")
    staff_actions.staff_void(session, shop, referral, actor="staff:1", reason="oops")
    assert audit_undo.undo_options(session, shop, [moved]) == {}  # the void came later
    voided = _entry(session, shop, "referral.voided")
    audit_undo.undo(session, shop, voided.id, actor="staff:1", reason="undo the void")
    unvoided = _entry(session, shop, "referral.unvoided")
    assert audit_undo.undo_options(session, shop, [moved, unvoided]).keys() == {unvoided.id}


def test_blocklist_additions_and_removals_are_undone(session, shop):
    entry = blocklist.add_entry(session, shop, "email", "*@spam.example", note="n", actor="s:1")
    added = _entry(session, shop, "blocklist.added")
    assert audit_undo.undo_options(session, shop, [added])[added.id].needs_reason is False
    _own, done = audit_undo.undo(session, shop, added.id, actor="staff:2", reason="")
    assert "removed" in done and blocklist.entries_for(session, shop) == []
    removed = _entry(session, shop, "blocklist.removed")
    assert removed.subject_id == entry.id
    audit_undo.undo(session, shop, removed.id, actor="staff:2", reason="")
    [back] = blocklist.entries_for(session, shop)
    assert (back.kind, back.value, back.note) == ("email", "*@spam.example", "n")


def test_the_timeline_offers_un_void_only_when_it_would_succeed(session, shop):
    from shopify_app.timeline import entries

    advocate = factories.advocate(session, shop)
    staff_voided, _payload = _order(session, shop, advocate)
    staff_actions.staff_void(session, shop, staff_voided, actor="staff:1", reason="duplicate")
    refunded, payload = _order(session, shop, advocate)
    order_flow.apply_refund(session, shop, factories.refund_payload(payload["id"], "89.90"))

    offered = {
        e.referral.id: e.undo
        for e in entries.entries_for(session, shop, queries.events(session, shop))
        if e.referral is not None and e.event.kind == "referral.voided"
    }
    assert offered == {staff_voided.id: "unvoid", refunded.id: None}
