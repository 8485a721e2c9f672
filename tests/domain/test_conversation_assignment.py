"""Who may chat, assignment, status and the archive (issue 20, F4/F6) on a real session: the
chat permission (the owner always, others when the owner granted it), assignment refused to
staff without it or of another shop, idempotent changes, audit entries and the customer's
timeline, announcements only after the commit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from shopify_app.conversations import notify, service, staff_chat
from shopify_app.models import AuditEntry, StaffMember, TimelineEvent
from shopify_app.timeline.labels import describe

from .. import factories
from .test_conversations import staff_member


@pytest.fixture
def announced(monkeypatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(notify, "publish_event", lambda **kwargs: seen.append(kwargs))
    monkeypatch.setattr(notify, "publish_message", lambda *a, **k: None)
    monkeypatch.setattr(notify, "is_online", lambda *_a: False)
    return seen


@pytest.fixture
def team(session, shop):
    owner = staff_member(session, shop, first_name="Ada", last_name="Alpha", account_owner=True)
    sam = staff_member(session, shop, first_name="Sam", last_name="Support", email="sam@x.example")
    kim = staff_member(session, shop, first_name="Kim", last_name="Clerk", email="kim@x.example")
    return owner, sam, kim


def conversation(session, shop, customer=None):
    return service.start_conversation(
        session, shop, email="shopper@example.com", customer=customer, reuse=False
    )


def audits(session, shop, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.shop_id == shop.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query.order_by(AuditEntry.id)))


def test_the_owner_always_may_chat_others_once_granted(session, shop, team):
    owner, sam, kim = team
    assert service.may_chat(owner) and not service.may_chat(sam) and not service.may_chat(None)
    assert service.chat_staff(session, shop) == [owner]
    assert staff_chat.set_chat_permission(session, shop, owner, sam.id, True)
    assert service.may_chat(sam)
    assert service.chat_staff(session, shop) == [owner, sam]
    [entry] = audits(session, shop, "staff.chat_permission_granted")
    assert (entry.actor, entry.subject_type, entry.subject_id) == (
        f"staff:{owner.user_id}",
        "staff_member",
        sam.id,
    )
    assert entry.before == {"chat_permission": False, "staff": sam.label}
    assert entry.after == {"chat_permission": True, "staff": "Sam Support (sam@x.example)"}
    # Granting again changes and records nothing; withdrawing is recorded.
    assert not staff_chat.set_chat_permission(session, shop, owner, sam.id, True)
    assert staff_chat.set_chat_permission(session, shop, owner, str(sam.id), False)
    assert len(audits(session, shop)) == 2
    assert not service.may_chat(sam) and not service.may_chat(kim)


def test_only_the_owner_changes_the_permission(session, shop, team):
    owner, sam, kim = team
    staff_chat.set_chat_permission(session, shop, owner, sam.id, True)
    for actor in (sam, kim, None):
        with pytest.raises(service.MessageRefused) as refused:
            staff_chat.set_chat_permission(session, shop, actor, kim.id, True)
        assert refused.value.status == 403
    other_shop = factories.shop(session)
    other_owner = staff_member(session, other_shop, account_owner=True)
    with pytest.raises(service.MessageRefused) as refused:  # another shop's owner
        staff_chat.set_chat_permission(session, shop, other_owner, kim.id, True)
    assert refused.value.status == 403
    assert not service.may_chat(kim)


def test_the_permission_is_for_this_shops_staff_and_the_owner_keeps_theirs(session, shop, team):
    owner, _sam, _kim = team
    other_shop = factories.shop(session)
    stranger = staff_member(session, other_shop)
    for wanted in (stranger.id, 10**9, "x", None, True, 2**40):
        with pytest.raises(service.MessageRefused) as refused:
            staff_chat.set_chat_permission(session, shop, owner, wanted, True)
        assert refused.value.status == 422
    assert not stranger.chat_permission
    with pytest.raises(service.MessageRefused, match="always"):
        staff_chat.set_chat_permission(session, shop, owner, owner.id, False)
    with pytest.raises(service.MessageRefused):
        staff_chat.set_chat_permission(session, shop, owner, owner.id, "yes")
    assert not staff_chat.set_chat_permission(session, shop, owner, owner.id, True)


def test_assign_only_to_staff_who_may_chat(session, shop, team, announced):
    owner, sam, kim = team
    staff_chat.set_chat_permission(session, shop, owner, sam.id, True)
    thread = conversation(session, shop)
    with pytest.raises(service.MessageRefused) as refused:
        staff_chat.assign(session, shop, thread, "staff:1", kim.id)
    assert refused.value.status == 422
    assert refused.value.reason == (
        "Kim Clerk does not have the chat permission: the shop owner can grant it in Settings."
    )
    other_shop = factories.shop(session)
    stranger = staff_member(session, other_shop, account_owner=True)
    for wanted in (stranger.id, 10**9, "abc", True, [sam.id], {"id": sam.id}):
        with pytest.raises(service.MessageRefused) as refused:
            staff_chat.assign(session, shop, thread, "staff:1", wanted)
        assert refused.value.status == 422
    assert thread.assigned_staff_id is None
    assert staff_chat.assign(session, shop, thread, "staff:1", sam.id)
    assert thread.assigned_staff_id == sam.id
    assert not staff_chat.assign(session, shop, thread, "staff:1", sam.id)  # idempotent
    assert staff_chat.assign(session, shop, thread, "staff:1", owner.id)
    assert staff_chat.assign(session, shop, thread, "staff:1", None)
    assert not staff_chat.assign(session, shop, thread, "staff:1", None)
    actions = [(a.action, a.before, a.after) for a in audits(session, shop)[1:]]
    assert actions == [
        ("conversation.assigned", {"assigned_to": None}, {"assigned_to": sam.label}),
        ("conversation.assigned", {"assigned_to": sam.label}, {"assigned_to": owner.label}),
        ("conversation.unassigned", {"assigned_to": owner.label}, {"assigned_to": None}),
    ]
    assert announced == []  # nothing committed yet
    session.commit()
    assert [a["event"] for a in announced] == ["conversation"] * 3
    assert {(a["to_staff"], a["to_shopper"]) for a in announced} == {(True, False)}
    assert announced[0]["data"]["assigned_staff_name"] == "Sam Support"
    assert announced[-1]["data"]["assigned_staff_id"] is None


def test_another_shops_conversation_is_not_found(session, shop, team):
    owner, _sam, _kim = team
    other_shop = factories.shop(session)
    theirs = conversation(session, other_shop)
    for change in (
        lambda: staff_chat.assign(session, shop, theirs, "staff:1", owner.id),
        lambda: staff_chat.set_status(session, shop, theirs, "staff:1", "inactive"),
        lambda: staff_chat.archive(session, shop, theirs, "staff:1"),
        lambda: staff_chat.restore(session, shop, theirs, "staff:1"),
    ):
        with pytest.raises(service.MessageRefused) as refused:
            change()
        assert refused.value.status == 404
    assert theirs.assigned_staff_id is None and theirs.archived_at is None


def test_a_rollback_announces_nothing(session, shop, team, announced):
    owner, _sam, _kim = team
    thread = conversation(session, shop)
    session.commit()
    staff_chat.assign(session, shop, thread, "staff:1", owner.id)
    session.rollback()
    session.commit()
    assert announced == []


def test_status_switches_and_a_shopper_message_makes_it_active(session, shop, announced):
    thread = conversation(session, shop)
    with pytest.raises(service.MessageRefused) as refused:
        staff_chat.set_status(session, shop, thread, "staff:1", "closed")
    assert refused.value.status == 422
    assert not staff_chat.set_status(session, shop, thread, "staff:1", "active")
    assert staff_chat.set_status(session, shop, thread, "staff:1", "inactive")
    assert service.list_conversations(session, shop, view="inactive") == [thread]
    assert service.list_conversations(session, shop, view="active") == []
    service.post_message(session, shop, thread, author="shopper", body="Hi?", channel="widget")
    assert thread.status == "active"
    [entry] = audits(session, shop, "conversation.status_changed")
    assert (entry.before, entry.after) == ({"status": "active"}, {"status": "inactive"})


def test_archive_hides_restore_returns_search_finds_and_a_shopper_unarchives(
    session, shop, team, announced
):
    _owner, sam, _kim = team
    thread = conversation(session, shop)
    service.post_message(session, shop, thread, author="shopper", body="Teapot?", channel="widget")
    assert staff_chat.archive(session, shop, thread, "staff:1")
    assert not staff_chat.archive(session, shop, thread, "staff:1")
    for view in ("all", "unassigned", "active"):
        assert service.list_conversations(session, shop, view=view) == []
    assert service.list_conversations(session, shop, view="archived") == [thread]
    assert service.list_conversations(session, shop, q="teapot") == [thread]
    assert service.list_conversations(session, shop, q="shopper@example") == [thread]
    assert staff_chat.restore(session, shop, thread, "staff:1")
    assert not staff_chat.restore(session, shop, thread, "staff:1")
    assert service.list_conversations(session, shop) == [thread]
    staff_chat.archive(session, shop, thread, "staff:1")
    service.post_message(session, shop, thread, author="shopper", body="Hello?", channel="widget")
    assert thread.archived_at is None
    assert service.list_conversations(session, shop) == [thread]
    assert session.get(type(thread), thread.id) is not None  # never deleted
    assert [a.action for a in audits(session, shop)] == [
        "conversation.archived",
        "conversation.restored",
        "conversation.archived",
    ]
    assert sam  # the team exists; "mine" follows the assignee
    staff_chat.assign(session, shop, thread, "staff:1", _owner.id)
    assert service.list_conversations(session, shop, view="mine", staff=_owner) == [thread]
    assert service.list_conversations(session, shop, view="mine", staff=sam) == []
    assert service.list_conversations(session, shop, view="unassigned") == []


def test_changes_to_a_customers_conversation_go_on_their_timeline(session, shop, team):
    owner, _sam, _kim = team
    customer = factories.customer(session, shop, email="shopper@example.com")
    thread = conversation(session, shop, customer=customer)
    staff_chat.assign(session, shop, thread, f"staff:{owner.user_id}", owner.id)
    staff_chat.archive(session, shop, thread, f"staff:{owner.user_id}")
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.customer_id == customer.id, TimelineEvent.kind.like("staff.%"))
        .order_by(TimelineEvent.id)
    ).all()
    assert [e.kind for e in events] == [
        "staff.conversation.assigned",
        "staff.conversation.archived",
    ]
    assert events[0].payload["reason"] == "assigned the conversation to Ada Alpha"
    assert describe(events[0], staff_name="Ada Alpha") == (
        "Ada Alpha assigned the conversation to Ada Alpha"
    )
    assert describe(events[1], staff_name=None) == "Staff archived the conversation"


def test_a_refreshed_identity_keeps_the_chat_permission(session, shop, team, domain_app):
    owner, sam, _kim = team
    staff_chat.set_chat_permission(session, shop, owner, sam.id, True)
    sam.refreshed_at = sam.refreshed_at.replace(year=2000)
    session.commit()

    class Grant:
        associated_user = {
            "id": sam.user_id,
            "first_name": "Samuel",
            "last_name": "Support",
            "email": "sam@x.example",
            "account_owner": False,
        }

    class Tokens:
        def exchange_id_token_online(self, _domain, _token):
            return Grant()

    from shopify_app.staff import remember_staff

    remember_staff(session, shop, str(sam.user_id), "token", Tokens())
    row = session.get(StaffMember, sam.id, populate_existing=True)
    assert row.first_name == "Samuel" and row.chat_permission is True
