"""What a delivery status notification changes: the email it names (by its stored
Message-ID, within one shop) reads Delivered, Bounced (with the diagnostic in words) or
Complained; a hard bounce or a complaint puts the address on the shop's suppression list.

A report only moves an email forward (delivered < bounced < complained): a replay, or a
late "delivered" after a complaint, changes nothing. A delayed (transient) report leaves
the email "Sent". The recipient the report names must be the email's: a report about
another address is dropped, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shopify_app.emails.suppression import NotAnAddress, suppress
from shopify_app.models import EmailMessage, Shop, utcnow
from shopify_app.timeline.events import record_event

from .dsn import DeliveryReport

RANK = {"delivered": 1, "bounced": 2, "complained": 3}


@dataclass(frozen=True)
class ReportOutcome:
    status: str  # recorded | duplicate | unchanged | dropped
    reason: str
    email_id: int | None = None
    suppressed: bool = False


def record_report(
    session: Session, report: DeliveryReport, *, shop_id: int | None = None
) -> ReportOutcome:
    """Apply `report` to the email it names; `shop_id` limits the search to one shop (a
    report that came to a conversation's reply address)."""
    if not report.original_message_id:
        return ReportOutcome("dropped", "the report names no Message-ID")
    query = select(EmailMessage).where(EmailMessage.message_id_header == report.original_message_id)
    if shop_id is not None:
        query = query.where(EmailMessage.shop_id == shop_id)
    found = list(session.scalars(query.limit(2)))
    if not found:
        return ReportOutcome("dropped", "no email of the app has this Message-ID")
    if len(found) > 1:
        return ReportOutcome("dropped", "the Message-ID names emails of more than one shop")
    email = found[0]
    if report.recipients and email.to_address.strip().lower() not in report.recipients:
        return ReportOutcome("dropped", "the report is about another recipient", email.id)
    shop = session.get(Shop, email.shop_id)
    if shop is None or shop.uninstalled_at is not None or shop.redacted_at is not None:
        return ReportOutcome("dropped", "the shop has uninstalled the app", email.id)
    if report.outcome == "delayed":
        return ReportOutcome("unchanged", "delayed: the email stays sent", email.id)
    rank = RANK[report.outcome]
    lower = [status for status, r in RANK.items() if r < rank]
    now = utcnow()
    changed = session.execute(
        update(EmailMessage)
        .where(
            EmailMessage.id == email.id,
            or_(EmailMessage.delivery_status.is_(None), EmailMessage.delivery_status.in_(lower)),
        )
        .values(
            delivery_status=report.outcome,
            delivery_detail=report.in_words()[:2000],
            delivery_reported_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(email)
    if changed != 1:
        if email.delivery_status == report.outcome:
            return ReportOutcome("duplicate", f"already {report.outcome}", email.id)
        return ReportOutcome(
            "unchanged", f"already {email.delivery_status}: a report does not undo it", email.id
        )
    if email.customer_id is not None:
        record_event(
            session,
            shop_id=email.shop_id,
            customer_id=email.customer_id,
            kind=f"email.{email.kind}.{report.outcome}",
            occurred_at=now,
            source="app",
            payload={"email_id": email.id, "subject": email.subject},
            dedupe_key=f"email:{email.id}:{report.outcome}",
        )
    suppressed = False
    if report.permanent:
        reason = "complained" if report.outcome == "complained" else "bounced"
        try:
            _entry, suppressed = suppress(
                session,
                shop,
                email.to_address,
                reason=reason,
                source="complaint" if reason == "complained" else "bounce",
                note=email.delivery_detail,
            )
        except NotAnAddress:
            suppressed = False
    return ReportOutcome("recorded", report.outcome, email.id, suppressed)
