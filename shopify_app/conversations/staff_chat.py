"""Who chats with shoppers and a conversation's details (issue 20, F4 and F6): the chat
permission, assignment, status (active / inactive) and the archive.

Shopify tells apps neither a staff member's permissions nor (outside Plus) who the staff
are (shopify-platform.md § 11.5), so the staff are those who have opened the app
(`StaffMember`, from the online token exchange) and the account owner grants the chat
permission here; the owner always has it (`service.may_chat`). Only staff who may chat are
assigned conversations.

Every change is audited (and, for a conversation linked to a customer, on their timeline
through the audit) and announced after the commit on the staff channel as a "conversation"
event, so every open inbox of the shop updates. Nothing here is ever shown to the shopper.
Unchanged requests (assigning the current assignee, archiving an archived conversation)
change nothing and record nothing.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.audit import record_audit
from shopify_app.i18n import N_, stored
from shopify_app.models import Conversation, Shop, StaffMember, utcnow

from . import notify
from .service import MessageRefused, may_chat

STATUSES = ("active", "inactive")
# What the audit's reason and the customer's timeline say after the staff member's name:
# stored in English, shown in the page's language (i18n.stored).
ASSIGNED = stored(N_("assigned the conversation to %(name)s"))
UNASSIGNED = stored(N_("unassigned the conversation (it was %(name)s's)"))
MARKED = {
    "active": stored(N_("marked the conversation active")),
    "inactive": stored(N_("marked the conversation inactive")),
}
ARCHIVED = stored(N_("archived the conversation"))
RESTORED = stored(N_("restored the conversation from the archive"))


def shop_staff(session: Session, shop: Shop) -> list[StaffMember]:
    """Every staff member of the shop who has opened the app: the owner first, then by name."""
    rows = session.scalars(select(StaffMember).where(StaffMember.shop_id == shop.id))
    return sorted(rows, key=lambda s: (not s.account_owner, s.name.lower(), s.id))


def staff_of(session: Session, shop: Shop, staff_id: Any) -> StaffMember | None:
    """The shop's staff member with this id (`StaffMember.id`); None for another shop's, a
    bad or an unknown id."""
    if isinstance(staff_id, bool) or not isinstance(staff_id, int | str):
        return None
    try:
        wanted = int(staff_id)
    except ValueError:
        return None
    if not 0 < wanted < 2**31:
        return None
    return session.scalar(
        select(StaffMember).where(StaffMember.shop_id == shop.id, StaffMember.id == wanted)
    )


def set_chat_permission(
    session: Session, shop: Shop, actor: StaffMember | None, staff_id: Any, allowed: Any
) -> bool:
    """The account owner (`actor`) grants or withdraws a staff member's chat permission.
    True when it changed. Conversations already assigned to someone whose permission is
    withdrawn stay theirs until reassigned (the inbox marks them)."""
    if actor is None or actor.shop_id != shop.id or not actor.account_owner:
        raise MessageRefused(_("Only the shop owner can change who can chat with shoppers."), 403)
    if not isinstance(allowed, bool):
        raise MessageRefused(_("Say whether the staff member may chat: true or false."), 422)
    staff = staff_of(session, shop, staff_id)
    if staff is None:
        raise MessageRefused(_("No such staff member in this shop."), 422)
    if staff.account_owner:
        if not allowed:
            raise MessageRefused(_("The shop owner can always chat with shoppers."), 422)
        return False
    if staff.chat_permission == allowed:
        return False
    staff.chat_permission = allowed
    record_audit(
        session,
        shop,
        actor=f"staff:{actor.user_id}",
        action="staff.chat_permission_granted" if allowed else "staff.chat_permission_withdrawn",
        subject_type="staff_member",
        subject_id=staff.id,
        # "staff" the same on both sides: who it is, not a change (the Audit page's subject)
        before={"chat_permission": not allowed, "staff": staff.label},
        after={"chat_permission": allowed, "staff": staff.label},
    )
    return True


def _ours(shop: Shop, conversation: Conversation) -> None:
    if conversation.shop_id != shop.id:
        raise MessageRefused(_("No such conversation in this shop."), 404)


def details_json(session: Session, conversation: Conversation) -> dict[str, Any]:
    """A conversation's details as the inbox shows them in the thread's header."""
    assignee = (
        session.get(StaffMember, conversation.assigned_staff_id)
        if conversation.assigned_staff_id is not None
        else None
    )
    return {
        "id": conversation.id,
        "assigned_staff_id": conversation.assigned_staff_id,
        "assigned_staff_name": assignee.name if assignee is not None else None,
        "assignee_may_chat": may_chat(assignee) if assignee is not None else None,
        "status": conversation.status,
        "archived": conversation.archived_at is not None,
    }


def _changed(
    session: Session,
    shop: Shop,
    conversation: Conversation,
    *,
    actor: str,
    action: str,
    field: str,
    before: Any,
    after: Any,
    sentence: str,
) -> None:
    """Audit a change (the sentence, a predicate after the actor's name, is what the
    customer's timeline says) and announce it once committed."""
    session.flush()
    record_audit(
        session,
        shop,
        actor=actor,
        action=action,
        subject_type="conversation",
        subject_id=conversation.id,
        before={field: before},
        after={field: after},
        reason=sentence,
        customer_id=conversation.customer_id,
    )
    data = details_json(session, conversation)
    shop_id, conversation_id = shop.id, conversation.id

    def announce() -> None:
        notify.publish_event(
            shop_id=shop_id,
            conversation_id=conversation_id,
            event="conversation",
            data=data,
            to_shopper=False,
            to_staff=True,
        )

    jobs.after_commit(session, announce)


def assign(
    session: Session, shop: Shop, conversation: Conversation, actor: str, staff_id: Any
) -> bool:
    """Assign the conversation to the shop's staff member `staff_id` (`StaffMember.id`), or
    unassign it with None. Refused (422) for an unknown id, another shop's staff member or
    one without the chat permission. True when it changed. `actor` is the audit's form
    (`staff:<user id>`)."""
    _ours(shop, conversation)
    previous = (
        session.get(StaffMember, conversation.assigned_staff_id)
        if conversation.assigned_staff_id is not None
        else None
    )
    if staff_id is None:
        if previous is None:
            return False
        conversation.assigned_staff_id = None
        _changed(
            session,
            shop,
            conversation,
            actor=actor,
            action="conversation.unassigned",
            field="assigned_to",
            before=previous.label,
            after=None,
            sentence=UNASSIGNED % {"name": previous.name},
        )
        return True
    staff = staff_of(session, shop, staff_id)
    if staff is None:
        raise MessageRefused(_("No such staff member in this shop."), 422)
    if not may_chat(staff):
        raise MessageRefused(
            _(
                "%(name)s does not have the chat permission: the shop owner can grant it in "
                "Settings.",
                name=staff.name,
            ),
            422,
        )
    if previous is not None and previous.id == staff.id:
        return False
    conversation.assigned_staff_id = staff.id
    _changed(
        session,
        shop,
        conversation,
        actor=actor,
        action="conversation.assigned",
        field="assigned_to",
        before=previous.label if previous is not None else None,
        after=staff.label,
        sentence=ASSIGNED % {"name": staff.name},
    )
    return True


def set_status(
    session: Session, shop: Shop, conversation: Conversation, actor: str, status: Any
) -> bool:
    """Mark the conversation active or inactive. True when it changed. A shopper's new
    message makes it active again (`service.post_message`)."""
    _ours(shop, conversation)
    if status not in STATUSES:
        raise MessageRefused(_('The status is "active" or "inactive".'), 422)
    if conversation.status == status:
        return False
    previous, conversation.status = conversation.status, status
    _changed(
        session,
        shop,
        conversation,
        actor=actor,
        action="conversation.status_changed",
        field="status",
        before=previous,
        after=status,
        sentence=MARKED[status],
    )
    return True


def archive(session: Session, shop: Shop, conversation: Conversation, actor: str) -> bool:
    """Archive the conversation: out of every view but "Archived" and search, never deleted.
    A shopper's new message brings it back (`service.post_message`). True when it changed."""
    _ours(shop, conversation)
    if conversation.archived_at is not None:
        return False
    conversation.archived_at = utcnow()
    _changed(
        session,
        shop,
        conversation,
        actor=actor,
        action="conversation.archived",
        field="archived",
        before=False,
        after=True,
        sentence=ARCHIVED,
    )
    return True


def restore(session: Session, shop: Shop, conversation: Conversation, actor: str) -> bool:
    """Bring an archived conversation back to the inbox. True when it changed."""
    _ours(shop, conversation)
    if conversation.archived_at is None:
        return False
    conversation.archived_at = None
    _changed(
        session,
        shop,
        conversation,
        actor=actor,
        action="conversation.restored",
        field="archived",
        before=True,
        after=False,
        sentence=RESTORED,
    )
    return True
