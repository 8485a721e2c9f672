"""What staff do to a referral by hand (the admin's Referrals page and the Customer
Service Portal): approve, void, recheck, reassign, create, unblock and unvoid. Each moves
the referral through `states`, is audited with its reason, and refreshes the revenue
stats of the people it touches."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shopify_app.audit import record_audit
from shopify_app.i18n import N_, status_word, stored
from shopify_app.models import (
    Advocate,
    Customer,
    FraudCheck,
    Order,
    Referral,
    ReferralTransition,
    Reward,
    Shop,
    utcnow,
)

from . import conversions, revenue, rewards
from .checks import evaluate_rules
from .fraud import RuleResult
from .states import (
    TransitionRefused,
    advance,
    complete,
    create_from_order,
    flag,
    referral_for_order,
    referral_people,
    transition,
    void,
)


def _audit(
    session: Session,
    shop: Shop,
    referral: Referral,
    action: str,
    actor: str,
    before: str,
    reason: str | None,
) -> None:
    advocate = session.get(Advocate, referral.advocate_id)
    record_audit(
        session,
        shop,
        actor=actor,
        action=action,
        subject_type="referral",
        subject_id=referral.id,
        before={"status": before},
        after={"status": referral.status},
        reason=reason,
        customer_id=advocate.customer_id if advocate else None,
    )


def _order_of(session: Session, shop: Shop, referral: Referral) -> Order | Any:
    """The referral's order, or for a conversion's referral what stands in for it."""
    if referral.order_id:
        return session.get(Order, referral.order_id)
    return conversions.facts_for_referral(session, shop, referral)


def _locked(session: Session, referral: Referral) -> Referral:
    """The referral re-read under a row lock (PostgreSQL), so two staff clicking at once
    act one after the other and the second sees what the first did."""
    session.flush()
    session.refresh(referral, with_for_update=True)
    return referral


def _claim(session: Session, referral: Referral, refusal) -> None:
    """Claim the referral in the state it was read in, by a conditional UPDATE: on SQLite,
    which has no row locks, two requests may both have read it pending; only one UPDATE
    matches, the other is refused with the reason the state it finds gives (`refusal`)."""
    claimed = session.execute(
        update(Referral)
        .where(
            Referral.id == referral.id,
            Referral.status == referral.status,
            Referral.advocate_id == referral.advocate_id,
        )
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        session.refresh(referral)
        raise TransitionRefused(
            refusal(referral)
            or _("Referral #%(id)s changed a moment ago; look again.", id=referral.id)
        )


def approve_refusal(referral: Referral) -> str | None:
    if referral.status != "pending":
        return _(
            "Referral #%(id)s is %(status)s; only pending referrals can be approved.",
            id=referral.id,
            status=status_word(referral.status),
        )
    return None


def void_refusal(referral: Referral) -> str | None:
    if referral.status == "voided":
        return _("Referral #%(id)s is already voided.", id=referral.id)
    return None


def unblock_refusal(referral: Referral) -> str | None:
    if referral.status != "blocked":
        return _(
            "Referral #%(id)s is %(status)s, not blocked.",
            id=referral.id,
            status=status_word(referral.status),
        )
    return None


def unvoid_refusal(session: Session, shop: Shop, referral: Referral) -> str | None:
    """Why the void cannot be undone (None: it can): the same test `staff_unvoid` makes, so
    a page offers Un-void only when it would succeed."""
    if referral.status != "voided":
        return _(
            "Referral #%(id)s is %(status)s, not voided.",
            id=referral.id,
            status=status_word(referral.status),
        )
    order = _order_of(session, shop, referral)
    if order is not None and (
        order.cancelled_at is not None
        or (order.total_minor > 0 and order.refunded_minor >= order.total_minor)
    ):
        return _("Order %(order)s was cancelled or refunded in full.", order=order.name)
    return None


def reassign_refusal(session: Session, shop: Shop, referral: Referral) -> str | None:
    """Why the referral cannot be given to another advocate whoever they are (None: it can)."""
    if referral.status == "voided":
        return _("Referral #%(id)s is voided; nothing to reassign.", id=referral.id)
    old = rewards.reward_for(session, shop, referral)
    if old is not None and old.status == "used":
        return _(
            "The reward %(code)s was already used on order %(order)s; "
            "it cannot follow the referral.",
            code=old.code,
            order=old.used_order_shopify_id,
        )
    return None


def offered_actions(session: Session, shop: Shop, referral: Referral) -> dict[str, str | None]:
    """Each staff action on the referral, with why it would be refused (None: it would
    succeed). Pages offer only the actions whose value is None."""
    return {
        "approve": approve_refusal(referral),
        "void": void_refusal(referral),
        "unblock": unblock_refusal(referral),
        "unvoid": unvoid_refusal(session, shop, referral),
        "reassign": reassign_refusal(session, shop, referral),
    }


def staff_approve(
    session: Session, shop: Shop, referral: Referral, *, actor: str, reason: str | None = None
) -> Reward:
    """A staff member approves a pending referral (the manual approval queue, the review of
    a flagged one, or early). The reward is issued once, however often it is clicked."""
    refused = approve_refusal(_locked(session, referral))
    if refused:
        raise TransitionRefused(refused)
    _claim(session, referral, approve_refusal)
    reward = complete(session, shop, referral, actor=actor, cause="approved:staff", reason=reason)
    _audit(session, shop, referral, "referral.approved", actor, "pending", reason)
    revenue.refresh(session, shop, referral_people(session, referral))
    return reward


def staff_void(
    session: Session, shop: Shop, referral: Referral, *, actor: str, reason: str
) -> None:
    if not (reason or "").strip():
        raise TransitionRefused(_("Say why the referral is voided."))
    refused = void_refusal(_locked(session, referral))
    if refused:
        raise TransitionRefused(refused)
    _claim(session, referral, void_refusal)
    before = referral.status
    void(session, shop, referral, actor=actor, cause="staff", reason=reason.strip())
    _audit(session, shop, referral, "referral.voided", actor, before, reason.strip())
    revenue.refresh(session, shop, referral_people(session, referral))


def staff_recheck(session: Session, shop: Shop, referral: Referral, *, actor: str) -> list:
    """Run every fraud rule again on the referral's order (a new evaluation is stored next to
    the earlier ones); the referral's status is not changed by it."""
    order = _order_of(session, shop, referral)
    if order is None:
        raise TransitionRefused(
            _("The order of referral #%(id)s is no longer stored.", id=referral.id)
        )
    results = evaluate_rules(session, shop, referral, order)
    _audit(session, shop, referral, "referral.rechecked", actor, referral.status, None)
    return results


def staff_reassign(
    session: Session,
    shop: Shop,
    referral: Referral,
    to_advocate: Advocate,
    *,
    actor: str,
    reason: str,
) -> Reward | None:
    """Give the referral to another advocate (a disputed attribution, a cross referral). The
    reward follows: an unused one is voided (its code deactivated) and the new advocate gets
    their own. Reassigning back is the same action. Returns the new advocate's reward.

    The fraud rules run again against the new advocate (a new evaluation): a block blocks
    the referral as it would a new one (staff may un-block it, with a reason), a flag holds
    a pending one for review; a pending referral's earlier flag, about the previous
    advocate, no longer holds it."""
    if not (reason or "").strip():
        raise TransitionRefused(_("Say why the referral is reassigned."))
    if to_advocate.shop_id != shop.id:
        raise TransitionRefused(_("That advocate belongs to another shop."))
    _locked(session, referral)
    if to_advocate.id == referral.advocate_id:
        raise TransitionRefused(_("The referral already belongs to that advocate."))
    refused = reassign_refusal(session, shop, referral)
    if refused:
        raise TransitionRefused(refused)
    _claim(session, referral, lambda r: reassign_refusal(session, shop, r))
    new_customer = session.get(Customer, to_advocate.customer_id)
    if new_customer is not None and new_customer.id == referral.friend_customer_id:
        raise TransitionRefused(_("The friend cannot be their own advocate."))
    old = rewards.reward_for(session, shop, referral)
    before_advocate = referral.advocate_id
    people_before = referral_people(session, referral)
    if old is not None:
        rewards.void(session, shop, old, reason=REASSIGNED % {"reason": reason.strip()})
    referral.advocate_id = to_advocate.id
    session.add(
        ReferralTransition(
            shop_id=shop.id,
            referral_id=referral.id,
            from_status=status_word(referral.status),
            to_status=status_word(referral.status),
            actor=actor,
            cause=f"reassigned:{before_advocate}->{to_advocate.id}",
            reason=reason.strip(),
            at=utcnow(),
        )
    )
    session.flush()
    record_audit(
        session,
        shop,
        actor=actor,
        action="referral.reassigned",
        subject_type="referral",
        subject_id=referral.id,
        before={"advocate_id": before_advocate},
        after={"advocate_id": to_advocate.id},
        reason=reason.strip(),
        customer_id=to_advocate.customer_id,
    )
    _reevaluate(session, shop, referral)
    new_reward = None
    if referral.status == "completed":
        earlier = rewards.reward_for(session, shop, referral)  # reassigned back to them
        new_reward = (
            rewards.reissue(session, shop, earlier)
            if earlier is not None
            else rewards.issue(session, shop, referral)
        )
    revenue.refresh(session, shop, people_before | referral_people(session, referral))
    return new_reward


def _reevaluate(session: Session, shop: Shop, referral: Referral) -> None:
    """The checks of a reassigned referral, against its new advocate."""
    order = _order_of(session, shop, referral)
    if order is None:
        return
    results = evaluate_rules(session, shop, referral, order)
    blocking = [r for r in results if r.blocks]
    if blocking and referral.status in ("pending", "completed"):
        transition(
            session,
            shop,
            referral,
            "blocked",
            actor="system",
            cause=f"rule:{blocking[0].rule_id}",
            reason=blocking[0].explanation,
        )
        referral.needs_manual_approval = False
        return
    if referral.status != "pending":
        return
    referral.flagged_at = referral.flag_reason = None
    referral.needs_manual_approval = False
    flag(session, shop, referral, results)
    advance(session, shop, referral, order)


def staff_create(
    session: Session,
    shop: Shop,
    advocate: Advocate,
    order: Order,
    *,
    actor: str,
    reason: str,
    force: bool = False,
    dry_run: bool = False,
) -> tuple[Referral | None, list[RuleResult]]:
    """Create a referral for an advocate by hand (D7): the order's referral with attribution
    `manual`, checked by every rule. A block stands unless `force` (with the reason, audited).
    With `dry_run` nothing is kept: the answer is which rules would block."""
    if not (reason or "").strip():
        raise TransitionRefused(_("Say why the referral is created by hand."))
    if referral_for_order(session, shop, order.shopify_id) is not None:
        raise TransitionRefused(_("Order %(order)s already has a referral.", order=order.name))
    if order.customer_id is not None and order.customer_id == advocate.customer_id:
        raise TransitionRefused(_("The advocate placed this order themself."))
    if order.redacted_at is not None:
        raise TransitionRefused(_("The customer's data on this order was erased at their request."))
    savepoint = session.begin_nested()
    referral = create_from_order(
        session, shop, order, manual_advocate=advocate, actor=actor, reason=reason.strip()
    )
    assert referral is not None
    checks = session.scalars(select(FraudCheck).where(FraudCheck.referral_id == referral.id)).all()
    results = [
        RuleResult(c.rule_id, c.rule_version, c.outcome, c.explanation, c.evidence) for c in checks
    ]
    if dry_run:
        savepoint.rollback()
        return None, results
    if referral.status == "blocked" and force:
        transition(
            session, shop, referral, "pending", actor=actor, cause="forced", reason=reason.strip()
        )
    record_audit(
        session,
        shop,
        actor=actor,
        action="referral.created" + (".forced" if force else ""),
        subject_type="referral",
        subject_id=referral.id,
        after={"order": order.name, "advocate_id": advocate.id, "status": referral.status},
        reason=reason.strip(),
        customer_id=advocate.customer_id,
    )
    advance(session, shop, referral, order)
    revenue.refresh(session, shop, referral_people(session, referral))
    savepoint.commit()
    return referral, results


REASSIGNED = stored(N_("Referral reassigned: %(reason)s"))
_WHY = {
    "unblocked": _l("Say why the referral is unblocked."),
    "restored": _l("Say why the referral is restored."),
}


def _require_reason(reason: str, what: str) -> str:
    if not (reason or "").strip():
        raise TransitionRefused(str(_WHY[what]))
    return reason.strip()


def staff_unblock(session: Session, shop: Shop, referral: Referral, *, actor: str, reason: str):
    """Undo a block: the referral is pending again and moves on as its order allows."""
    why = _require_reason(reason, "unblocked")
    refused = unblock_refusal(_locked(session, referral))
    if refused:
        raise TransitionRefused(refused)
    _claim(session, referral, unblock_refusal)
    transition(session, shop, referral, "pending", actor=actor, cause="unblocked", reason=why)
    _audit(session, shop, referral, "referral.unblocked", actor, "blocked", why)
    order = _order_of(session, shop, referral)
    if order is not None:
        advance(session, shop, referral, order)
    revenue.refresh(session, shop, referral_people(session, referral))


def staff_unvoid(session: Session, shop: Shop, referral: Referral, *, actor: str, reason: str):
    """Undo a void: the referral returns to the status it had, and a completed one gets its
    reward back (a new code: the voided one was deactivated in Shopify)."""
    why = _require_reason(reason, "restored")
    refused = unvoid_refusal(session, shop, _locked(session, referral))
    if refused:
        raise TransitionRefused(refused)
    _claim(session, referral, lambda r: unvoid_refusal(session, shop, r))
    order = _order_of(session, shop, referral)
    last_void = session.scalar(
        select(ReferralTransition)
        .where(
            ReferralTransition.referral_id == referral.id, ReferralTransition.to_status == "voided"
        )
        .order_by(ReferralTransition.id.desc())
        .limit(1)
    )
    previous = (last_void.from_status if last_void else None) or "pending"
    transition(session, shop, referral, previous, actor=actor, cause="unvoided", reason=why)
    referral.status_reason = None
    _audit(session, shop, referral, "referral.unvoided", actor, "voided", why)
    if previous == "completed":
        reward = rewards.reward_for(session, shop, referral)
        if reward is not None:
            rewards.reissue(session, shop, reward)
        else:
            rewards.issue(session, shop, referral)
    elif previous == "pending" and order is not None:
        advance(session, shop, referral, order)
    revenue.refresh(session, shop, referral_people(session, referral))
