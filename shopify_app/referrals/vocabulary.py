"""One vocabulary for the states a merchant reads (issue 21, item 3): the Referrals page,
the portal, the customer page and the timeline name a referral, a reward and an email the
same way. Templates use these through the `referral_status`, `reward_status` and
`email_status` filters."""

from __future__ import annotations

from typing import Any

from shopify_app.timeline.labels import _EMAIL_KINDS

REWARD_STATUS = {
    "pending": "Being created",
    "issued": "Issued",  # a live code, not used yet
    "used": "Used",
    "unused": "Expired",  # expired without use
    "voided": "Voided",
}
EMAIL_STATUS = {
    "queued": "Queued",
    "sending": "Sending",
    "sent": "Sent",
    "failed": "Not delivered",
    "suppressed": "Not sent",
    # What the mail system reported after "Sent" (a delivery status notification, D3).
    "delivered": "Delivered",
    "bounced": "Bounced",
    "complained": "Complained",
}
_EMAIL_BADGES = {"sent": "completed", "delivered": "completed", "bounced": "failed"}
REFERRAL_STATUS = {
    "pending": "Pending",
    "completed": "Completed",
    "blocked": "Blocked",
    "voided": "Voided",
}


def _text(status: str | None) -> str:
    return (status or "").replace("_", " ").capitalize()


def reward_status(status: str | None) -> str:
    return REWARD_STATUS.get(status or "", _text(status))


def email_state(message: Any) -> str:
    """A stored email's state key: its sending status, or, once sent, what the mail system
    reported (delivered / bounced / complained)."""
    if isinstance(message, str) or message is None:
        return message or ""
    if message.status == "sent" and getattr(message, "delivery_status", None):
        return message.delivery_status
    return message.status


def email_status(status: Any) -> str:
    """The word for an email's state: given the stored email (or its state key)."""
    state = email_state(status)
    return EMAIL_STATUS.get(state, _text(state))


def email_badge(message: Any) -> str:
    state = email_state(message)
    return _EMAIL_BADGES.get(state, "failed" if state == "complained" else state)


def email_detail(message: Any) -> str:
    """Why it reads so, in words: a bounce's diagnostic, a complaint, a send's error."""
    if email_state(message) in ("bounced", "complained"):
        return message.delivery_detail or ""
    return message.error or ""


def email_kind(kind: str | None) -> str:
    """ "Referral offer email", "Reward email", ...: the timeline's names for them."""

    return _EMAIL_KINDS.get(kind or "", f"{_text(kind)} email")


def referral_status(referral: Any) -> str:
    """A referral's state in one word or two: a pending referral held for a person says so
    ("Flagged" for review, "Awaiting approval" in the manual approval queue)."""
    if isinstance(referral, str):
        return REFERRAL_STATUS.get(referral, _text(referral))
    if referral.status == "pending":
        if getattr(referral, "flagged_at", None) is not None:
            return "Flagged"
        if referral.needs_manual_approval:
            return "Awaiting approval"
    return REFERRAL_STATUS.get(referral.status, _text(referral.status))


def referral_badge(referral: Any) -> str:
    """The badge's CSS class (its colour) for a referral."""
    if (
        not isinstance(referral, str)
        and referral.status == "pending"
        and getattr(referral, "flagged_at", None) is not None
    ):
        return "flagged"
    return referral if isinstance(referral, str) else referral.status
