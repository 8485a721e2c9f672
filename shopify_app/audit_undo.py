"""Undo from the audit (D8, issue 21 item 14): an audit entry whose action has an undo offers
it on the Audit page, and only while it can succeed: the entry is the latest action on its
subject, the subject is still in the state the entry left it, and the undo's own checks
pass. The undo runs the ordinary service (`staff_actions`, `blocklist`), so it is audited
like any action; its entry names the one it undoes, and the undone entry is marked once
(`undone_by_id`, set by a conditional UPDATE), so two clicks undo it once.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shopify_app.i18n import N_, status_word, stored
from shopify_app.models import Advocate, AuditEntry, BlocklistEntry, Referral, Shop
from shopify_app.referrals import blocklist, rewards, staff_actions
from shopify_app.referrals.states import TransitionRefused


class UndoRefused(ValueError):
    """The entry cannot be undone (now); the message says why."""


@dataclass(frozen=True)
class UndoOption:
    label: str  # the button: "Un-void", "Remove from the blocklist", ...
    needs_reason: bool


# The referral actions with an undo, and the undo's button. All but these two are undone
# by voiding the referral (its unused reward deactivated).
UNDO_REASON = stored(N_("Undo of an action on %(at)s UTC"))
_REFERRAL_UNDO = {
    "referral.voided": N_("Un-void"),
    "referral.reassigned": N_("Give it back"),
    "referral.unvoided": N_("Void again"),
    "referral.approved": N_("Void the referral"),
    "referral.unblocked": N_("Void the referral"),
    "referral.created": N_("Void the referral"),
    "referral.created.forced": N_("Void the referral"),
    "referral.created_offline": N_("Void the referral"),
    "referral.created_offline.forced": N_("Void the referral"),
}
# Audited actions that change nothing about their subject: they never stand in the way.
_NO_CHANGE = ("referral.rechecked",)


def _latest_ids(session: Session, shop: Shop, entries: list[AuditEntry]) -> dict:
    """The newest audit entry id per subject of `entries`."""
    subjects = {(e.subject_type, e.subject_id) for e in entries if e.subject_id is not None}
    if not subjects:
        return {}
    rows = session.execute(
        select(AuditEntry.subject_type, AuditEntry.subject_id, func.max(AuditEntry.id))
        .where(
            AuditEntry.shop_id == shop.id,
            AuditEntry.subject_id.in_({s for _t, s in subjects}),
            AuditEntry.subject_type.in_({t for t, _s in subjects}),
            AuditEntry.action.not_in(_NO_CHANGE),
        )
        .group_by(AuditEntry.subject_type, AuditEntry.subject_id)
    ).all()
    return {(t, s): newest for t, s, newest in rows}


def _referral(session: Session, shop: Shop, entry: AuditEntry) -> Referral | None:
    return session.scalar(
        select(Referral).where(Referral.shop_id == shop.id, Referral.id == entry.subject_id)
    )


def _refusal(session: Session, shop: Shop, entry: AuditEntry, latest: int | None) -> str | None:
    """Why `entry` cannot be undone now (None: it can)."""
    if entry.undone_by_id is not None:
        return _("It was undone already.")
    if entry.action == "blocklist.added":
        found = session.scalar(
            select(BlocklistEntry).where(
                BlocklistEntry.shop_id == shop.id, BlocklistEntry.id == entry.subject_id
            )
        )
        return None if found is not None else _("The entry is no longer on the blocklist.")
    if entry.action == "blocklist.removed":
        before = entry.before or {}
        kind, value = before.get("kind"), before.get("value")
        if kind not in blocklist.KINDS or not value:
            return _("The removed entry is not recorded.")
        exists = session.scalar(
            select(BlocklistEntry.id).where(
                BlocklistEntry.shop_id == shop.id,
                BlocklistEntry.kind == kind,
                BlocklistEntry.value == value,
            )
        )
        return None if exists is None else _("It is on the blocklist again.")
    if entry.action not in _REFERRAL_UNDO:
        return _("This action has no undo.")
    if latest is not None and latest != entry.id:
        return "A later action changed the referral; undo that one first."
    referral = _referral(session, shop, entry)
    if referral is None:
        return _("The referral no longer exists.")
    if entry.action == "referral.voided":
        return staff_actions.unvoid_refusal(session, shop, referral)
    if entry.action == "referral.reassigned":
        before = session.scalar(
            select(Advocate).where(
                Advocate.shop_id == shop.id,
                Advocate.id == (entry.before or {}).get("advocate_id"),
            )
        )
        if before is None:
            return _("The previous advocate no longer exists.")
        if referral.advocate_id != (entry.after or {}).get("advocate_id"):
            return _("The referral belongs to another advocate now.")
        return staff_actions.reassign_refusal(session, shop, referral)
    # The rest are undone by voiding the referral; a used reward cannot be taken back.
    refused = staff_actions.void_refusal(referral)
    if refused:
        return refused
    reward = rewards.reward_for(session, shop, referral)
    if reward is not None and reward.status == "used":
        return _(
            "Its reward %(code)s was used already; voiding cannot take it back.", code=reward.code
        )
    return None


def undo_options(session: Session, shop: Shop, entries: list[AuditEntry]) -> dict[int, UndoOption]:
    """The undo each entry offers now (entries that offer none are absent)."""
    latest = _latest_ids(session, shop, entries)
    offered = {}
    for entry in entries:
        if entry.undone_by_id is not None:
            continue
        if _refusal(session, shop, entry, latest.get((entry.subject_type, entry.subject_id))):
            continue
        offered[entry.id] = _option(entry)
    return offered


def _option(entry: AuditEntry) -> UndoOption:
    if entry.action == "blocklist.added":
        return UndoOption(_("Remove from the blocklist"), needs_reason=False)
    if entry.action == "blocklist.removed":
        return UndoOption(_("Add back to the blocklist"), needs_reason=False)
    return UndoOption(_(_REFERRAL_UNDO[entry.action]), needs_reason=True)


def undo(
    session: Session, shop: Shop, entry_id: int, *, actor: str, reason: str
) -> tuple[AuditEntry, str]:
    """Undo one audit entry of the shop; (the undo's own audit entry, a sentence saying what
    was done). Raises UndoRefused (and changes nothing) when it cannot. The caller commits."""
    entry = session.scalar(
        select(AuditEntry)
        .where(AuditEntry.shop_id == shop.id, AuditEntry.id == entry_id)
        .with_for_update()
    )
    if entry is None:
        raise UndoRefused(_("No such audit entry."))
    latest = _latest_ids(session, shop, [entry]).get((entry.subject_type, entry.subject_id))
    refused = _refusal(session, shop, entry, latest)
    if refused:
        raise UndoRefused(refused)
    why = (reason or "").strip()
    if _option(entry).needs_reason and not why:
        raise UndoRefused(_("Say why the action is undone."))
    why = why or UNDO_REASON % {"at": f"{entry.at:%Y-%m-%d %H:%M}"}
    before_max = session.scalar(
        select(func.max(AuditEntry.id)).where(AuditEntry.shop_id == shop.id)
    )
    savepoint = session.begin_nested()
    try:
        done = _perform(session, shop, entry, actor=actor, reason=why)
    except TransitionRefused as exc:
        savepoint.rollback()
        raise UndoRefused(str(exc)) from exc
    own = session.scalar(
        select(AuditEntry)
        .where(AuditEntry.shop_id == shop.id, AuditEntry.id > (before_max or 0))
        .order_by(AuditEntry.id)
        .limit(1)
    )
    assert own is not None, "every undo is an audited action"
    own.after = {**(own.after or {}), "undoes": entry.id}
    claimed = session.execute(
        update(AuditEntry)
        .where(AuditEntry.id == entry.id, AuditEntry.undone_by_id.is_(None))
        .values(undone_by_id=own.id)
    ).rowcount
    if claimed != 1:  # undone by a concurrent click
        savepoint.rollback()
        raise UndoRefused(_("It was undone already."))
    savepoint.commit()
    session.refresh(entry)
    return own, done


def _perform(session: Session, shop: Shop, entry: AuditEntry, *, actor: str, reason: str) -> str:
    if entry.action == "blocklist.added":
        removed = blocklist.remove_entry(session, shop, entry.subject_id, actor=actor)
        assert removed is not None
        return f"{removed.value} was removed from the blocklist."
    if entry.action == "blocklist.removed":
        before = entry.before or {}
        added = blocklist.add_entry(
            session, shop, before["kind"], before["value"], note=before.get("note"), actor=actor
        )
        return f"{added.value} is on the blocklist again."
    referral = _referral(session, shop, entry)
    assert referral is not None
    if entry.action == "referral.voided":
        staff_actions.staff_unvoid(session, shop, referral, actor=actor, reason=reason)
        return _(
            "Referral #%(id)s is %(status)s again.",
            id=referral.id,
            status=status_word(referral.status),
        )
    if entry.action == "referral.reassigned":
        advocate = session.get(Advocate, (entry.before or {})["advocate_id"])
        assert advocate is not None
        staff_actions.staff_reassign(session, shop, referral, advocate, actor=actor, reason=reason)
        return _("Referral #%(id)s belongs to %(code)s again.", id=referral.id, code=advocate.code)
    staff_actions.staff_void(session, shop, referral, actor=actor, reason=reason)
    return _("Referral #%(id)s was voided.", id=referral.id)
