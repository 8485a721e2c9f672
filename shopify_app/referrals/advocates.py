"""Joining the program (B2): a customer becomes an advocate with a readable, unguessable code
(unique across all shops, as `/r/<code>` names no shop; the database holds it to that) and a
shareable friend code in Shopify, created by a job after commit."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.audit import record_audit
from shopify_app.emails import Suppressed, queue_email, render
from shopify_app.emails.suppression import is_suppressed
from shopify_app.i18n import N_, email_locale, stored
from shopify_app.models import Advocate, Customer, EmailMessage, Shop, utcnow
from shopify_app.outgoing import payloads
from shopify_app.outgoing.events import emit
from shopify_app.shopify.http import shop_url
from shopify_app.timeline.events import record_event

from .codes import advocate_code, normalise_code
from .program import get_program, offer_text, shop_currency

JOIN_CHANNELS = ("staff", "invitation", "storefront", "api")


class JoinRefused(ValueError):
    """The customer cannot join; the message says why."""


def advocate_for_customer(session: Session, shop: Shop, customer_id: int) -> Advocate | None:
    return session.scalar(
        select(Advocate).where(Advocate.shop_id == shop.id, Advocate.customer_id == customer_id)
    )


def advocate_by_code(session: Session, shop: Shop, code: str | None) -> Advocate | None:
    normalised = normalise_code(code)
    if normalised is None:
        return None
    return session.scalar(
        select(Advocate).where(Advocate.shop_id == shop.id, Advocate.code == normalised)
    )


def advocate_by_code_any_shop(session: Session, code: str) -> Advocate | None:
    """Codes are unique across shops (`uq_advocates_code`), so a link needs no shop."""
    return session.scalar(select(Advocate).where(Advocate.code == code))


def _code_in_use(session: Session, code: str) -> bool:
    return session.scalar(select(Advocate.id).where(Advocate.code == code).limit(1)) is not None


def join(
    session: Session, shop: Shop, customer: Customer, *, via: str, actor: str
) -> tuple[Advocate, bool]:
    """Make the customer an advocate (idempotent: a second join returns the same advocate).

    Returns (advocate, newly joined). The friend code is created in Shopify after commit.
    """
    if customer.shop_id != shop.id:
        raise JoinRefused(_("that customer belongs to another shop"))
    if via not in JOIN_CHANNELS:
        raise JoinRefused(_("unknown way to join: %(via)s", via=via))
    existing = advocate_for_customer(session, shop, customer.id)
    if existing is not None:
        return existing, False
    if customer.redacted_at is not None:
        raise JoinRefused(_("this customer's data was erased at their request"))
    if customer.deleted_at is not None:
        raise JoinRefused(_("this customer was deleted in Shopify"))
    for _attempt in range(5):
        code = advocate_code(customer.first_name)
        if _code_in_use(session, code):
            continue
        try:
            with session.begin_nested():
                advocate = Advocate(
                    shop_id=shop.id,
                    customer_id=customer.id,
                    code=code,
                    joined_at=utcnow(),
                    joined_via=via,
                    friend_discount_status="pending",
                )
                session.add(advocate)
        except IntegrityError:
            existing = advocate_for_customer(session, shop, customer.id)
            if existing is not None:  # a concurrent join won
                return existing, False
            continue  # the code was taken meanwhile, in this shop or another: draw again
        break
    else:  # pragma: no cover - 30**8 codes per prefix
        raise JoinRefused(_("could not draw a unique referral code"))
    customer.program_joined = True
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind="program.joined",
        occurred_at=advocate.joined_at,
        source="app",
        actor=actor,
        payload={"code": advocate.code, "via": via},
        dedupe_key=f"advocate:{advocate.id}:joined",
    )
    emit(
        session,
        shop,
        "advocate.joined",
        payloads.advocate(advocate, customer),
        key=f"advocate.joined:{advocate.id}",
    )
    if actor.startswith("staff:"):
        record_audit(
            session,
            shop,
            actor=actor,
            action="advocate.joined",
            subject_type="advocate",
            subject_id=advocate.id,
            after={"code": advocate.code, "via": via},
            customer_id=customer.id,
        )
    jobs.enqueue_after_commit(session, jobs.SYNC_FRIEND_CODE, advocate.id)
    return advocate, True


def redraw_code(session: Session, advocate: Advocate) -> str:
    """Give the advocate a new code (`FRIEND-...`), drawing again while the draw is held by
    any shop's advocate. For a code Shopify refuses before anyone shared it."""
    for _attempt in range(5):
        code = advocate_code(None)
        try:
            with session.begin_nested():
                advocate.code = code
        except IntegrityError:
            continue
        return code
    raise RuntimeError("could not draw a unique referral code")  # pragma: no cover


def invitation_terms(session: Session, shop: Shop) -> tuple[str, str]:
    """(join URL on the storefront, offer text) for invitation emails."""
    base = shop_url(current_app.config["SHOPIFY_SHOP_URL"], shop.domain, "/apps/referrals")
    return f"{base}?via=invitation", offer_text(get_program(session, shop), shop_currency(shop))


def staff_join(session: Session, shop: Shop, customer: Customer, *, actor: str) -> str:
    """Join one customer on a staff member's request; returns what to tell them (raises
    JoinRefused with the reason)."""
    advocate, created = join(session, shop, customer, via="staff", actor=actor)
    if created:
        return _(
            "%(display_name)s joined with the code %(code)s.",
            display_name=customer.display_name,
            code=advocate.code,
        )
    return _(
        "%(display_name)s had already joined (code %(code)s).",
        display_name=customer.display_name,
        code=advocate.code,
    )


def staff_invite(session: Session, shop: Shop, customer: Customer, *, actor: str) -> str:
    """Invite one customer on a staff member's request; returns what to tell them (raises
    InvitationRefused with the reason)."""
    join_url, offer = invitation_terms(session, shop)
    if invite(session, shop, customer, actor=actor, join_url=join_url, offer=offer):
        return _("Invitation sent to %(email)s.", email=customer.email)
    return _("%(email)s was already invited today.", email=customer.email)


# Why an invitation is refused: kept in English with a queued email that is not sent, and
# shown in the page's language (`stored`).
_REFUSALS = {
    key: stored(message)
    for key, message in {
        "erased": N_("this customer's data was erased or deleted"),
        "no_email": N_("has no email address"),
        "unsubscribed": N_("unsubscribed from email marketing"),
        "no_consent": N_("has not consented to email marketing (Shopify: %(state)s)"),
        "suppressed": N_("unsubscribed from the program's emails (on the suppression list)"),
        "joined": N_("already joined the program"),
        "gone": N_("the customer is gone"),
        "not_sent": N_("not sent: %(reason)s"),
    }.items()
}


class InvitationRefused(ValueError):
    """The customer is not invited; the message says why, `code` names the rule."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


# Shopify's email marketing states (lowercased, as sync stores them) that allow an
# invitation: only an explicit subscription. `not_subscribed`, `pending` (double opt-in not
# confirmed), `unsubscribed`, `redacted`, `invalid` and unknown (None) do not.
CONSENTED = frozenset({"subscribed"})
REFUSED_STATES = frozenset({"unsubscribed", "redacted", "invalid"})


def invitation_refusal(
    session: Session, shop: Shop, customer: Customer
) -> InvitationRefused | None:
    """Why the customer may not get an invitation now, or None. Asked when it is queued and
    again when the job sends it (consent or the suppression list may change in between)."""
    if customer.redacted_at is not None or customer.deleted_at is not None:
        return InvitationRefused(_REFUSALS["erased"], "erased")
    if not customer.email:
        return InvitationRefused(_REFUSALS["no_email"], "no_email")
    state = customer.email_marketing_state
    if state in REFUSED_STATES:
        return InvitationRefused(_REFUSALS["unsubscribed"], "unsubscribed")
    if state not in CONSENTED:
        shown = (state or "unknown").replace("_", " ")
        return InvitationRefused(_REFUSALS["no_consent"] % {"state": shown}, "no_consent")
    if is_suppressed(session, shop.id, customer.email):  # last: the only one that reads
        return InvitationRefused(_REFUSALS["suppressed"], "suppressed")
    return None


def invitation_message_refusal(session: Session, message: EmailMessage) -> str | None:
    """Why a queued invitation must not go out now (asked again when the job sends it)."""
    customer = session.get(Customer, message.customer_id) if message.customer_id else None
    shop = session.get(Shop, message.shop_id)
    if customer is None or shop is None:
        return _REFUSALS["gone"]
    refusal = invitation_refusal(session, shop, customer)
    return None if refusal is None else _REFUSALS["not_sent"] % {"reason": refusal}


def invite(
    session: Session, shop: Shop, customer: Customer, *, actor: str, join_url: str, offer: str
) -> bool:
    """Queue the referral invitation email (once a day per customer). Returns whether a new
    email was queued. Only customers subscribed to email marketing in Shopify are invited;
    members, the erased, those without an email, the suppressed and everyone without that
    consent are refused with the reason (`InvitationRefused.code`)."""
    if customer.program_joined:  # set by join() with the advocate row, in its transaction
        raise InvitationRefused(_REFUSALS["joined"], "joined")
    refusal = invitation_refusal(session, shop, customer)
    if refusal is not None:
        raise refusal
    subject, body = render(
        "invitation",
        locale=email_locale(session, shop, customer),
        shop=shop,
        customer=customer,
        offer=offer,
        join_url=join_url,
    )
    try:
        _message, queued = queue_email(
            session,
            shop,
            kind="invitation",
            to=customer.email,
            subject=subject,
            body=body,
            dedupe_key=f"invitation:{customer.id}:{utcnow().date().isoformat()}",
            customer_id=customer.id,
        )
    except Suppressed as exc:  # unsubscribed since the check above
        raise InvitationRefused(str(exc), "suppressed") from exc
    if queued and actor.startswith("staff:"):
        record_audit(
            session,
            shop,
            actor=actor,
            action="customer.invited",
            subject_type="customer",
            subject_id=customer.id,
            customer_id=customer.id,
        )
    return queued
