"""What a merchant reads for each event: one sentence, never an internal key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from shopify_app.i18n import current_locale
from shopify_app.models import TimelineEvent
from shopify_app.values import money_text

_EMAIL_KINDS = {
    "invitation": "Invitation email",
    "share": "Referral offer email",
    "reward": "Reward email",
    "friend": "Friend offer email",
    "signup_confirmation": "Signup confirmation email",
    "conversation_reply": "Chat reply email",
    "conversation_unread": "Unread chat email to staff",
}
_EMAIL_STEPS = {
    "queued": "queued",
    "sent": "sent",
    "failed": "not delivered",
    "not_sent": "not sent",
    "delivered": "delivered",
    "bounced": "bounced",
    "complained": "marked as spam by the recipient",
}
_CONSENT_STATES = {
    "subscribed": "subscribed",
    "not_subscribed": "not subscribed",
    "unsubscribed": "unsubscribed",
    "pending": "pending confirmation",
    "redacted": "erased",
    "invalid": "invalid",
}
_STAFF_ACTIONS = {
    "advocate.joined": "joined the customer to the program",
    "customer.invited": "sent the customer an invitation",
    "referral.approved": "approved a referral",
    "referral.voided": "voided a referral",
    "referral.rechecked": "ran the fraud rules again on a referral",
    "referral.unblocked": "unblocked a referral",
    "referral.unvoided": "un-voided a referral",
    "referral.reassigned": "reassigned a referral",
    "referral.created": "created a referral",
    "referral.created.forced": "created a referral past the fraud rules",
    "reward.email_resent": "resent the reward email",
    "email.suppressed": "stopped emails to the customer",
    "email.unsuppressed": "allowed emails to the customer again",
    "blocklist.added": "added the customer's details to the blocklist",
    "blocklist.removed": "removed the customer's details from the blocklist",
    "consent.unsubscribed": "unsubscribed the customer from marketing",
    "export.customer": "exported the customer's data",
    "customer.exported": "exported the customer's data",
    "customer.unsubscribed_email": "unsubscribed the customer from email marketing",
    "customer.unsubscribed_sms": "unsubscribed the customer from SMS marketing",
    "customer.api_created": "created the customer",
    "customer.api_updated": "updated the customer",
    "conversation.assigned": "assigned the conversation",
    "conversation.unassigned": "unassigned the conversation",
    "conversation.status_changed": "changed the conversation's status",
    "conversation.archived": "archived the conversation",
    "conversation.restored": "restored the conversation from the archive",
}
_REFERRAL_STEPS = {
    "created": "Referral created",
    "pending": "Referral pending",
    "completed": "Referral completed",
    "blocked": "Referral blocked",
    "voided": "Referral voided",
    "not_created": "No referral made from an order with a referral code",
}
_REWARD_STEPS = {
    "issued": "Reward issued",
    "used": "Reward used",
    "expired": "Reward expired unused",
    "voided": "Reward voided",
    "clawback_impossible": "Reward could not be taken back (already used)",
    "reissued": "Reward given back",
}
_SIMPLE = {
    "customer.created": "Account created in Shopify",
    "customer.updated": "Account details updated in Shopify",
    "customer.deleted": "Account deleted in Shopify",
    "privacy.redacted": "Personal data erased at Shopify's request",
    "privacy.data_requested": "Shopify asked for the data the app holds on this customer",
    "email.unsubscribed": "Unsubscribed from the app's emails",
}


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """A moment as the shop reads it: "4 Dec 2026, 22:03" in the shop's time zone (in Finnish
    "4.12.2026, 22.03": the page's language; the date is always before the first comma)."""
    local = moment.astimezone(zone)
    locale = current_locale()
    if locale != "en":
        return format_datetime(
            local, "d.M.yyyy, HH.mm" if locale == "fi" else "medium", locale=locale
        )
    return f"{local.day} {local:%b %Y, %H:%M}"


def _money(payload: dict[str, Any], key: str = "total_minor") -> str:
    amount, currency = payload.get(key), payload.get("currency")
    if not isinstance(amount, int) or not currency:
        return ""
    return f"{money_text(amount, currency)} {currency}"


def _order(payload: dict[str, Any]) -> str:
    return str(payload.get("order") or "An order")


def _with(sentence: str, detail: Any) -> str:
    """`sentence: detail`, the detail's capital dropped unless it starts an acronym."""
    text = str(detail or "").strip()
    if not text:
        return sentence
    if len(text) > 1 and text[1].islower():
        text = text[0].lower() + text[1:]
    return f"{sentence}: {text}"


def describe(
    event: TimelineEvent, *, staff_name: str | None = None, shared_to: str | None = None
) -> str:
    """The event as one sentence, e.g. "Referral blocked: the friend's email ...";
    `shared_to` is the address a share went to (kept on the email, not the event)."""
    kind, payload = event.kind, event.payload or {}
    if event.source == "api":
        words = kind.replace("_", " ").replace(".", " ")
        return f"{words[:1].upper()}{words[1:]} (from {event.source_name or 'a third party'})"
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == "storefront.signup":
        channel = "SMS" if payload.get("channel") == "sms" else "email"
        sentence = f"Signed up on the storefront for {channel} news and offers"
        if channel == "email":
            return sentence + " (subscribed only once they confirm from the emailed link)"
        if payload.get("applied") is False:
            sentence += " (not applied: Shopify's consent for this customer stands)"
        return sentence
    if kind == "storefront.signup_confirmed":
        return "Confirmed their email signup from the link in the confirmation email"
    if kind == "customer.matched":
        by = {"email": "email address", "phone": "phone number"}.get(
            str(payload.get("matched_by")), "email address or phone number"
        )
        return f"Matched to the Shopify customer with the same {by}"
    if kind == "customer.match_held":
        return (
            f"Not merged with customer record {payload.get('other_customer')} (same "
            f"{'phone number' if payload.get('matched_by') == 'phone' else 'email address'}): "
            "both are advocates with their own referral code, so the app keeps both rather "
            "than choose one"
        )
    family, _, step = kind.partition(".")
    if family == "order":
        order = _order(payload)
        if step == "placed":
            total = _money(payload)
            return f"Order {order} placed" + (f" for {total}" if total else "")
        if step == "refunded":
            amount = _money(payload, "amount_minor")
            return f"Order {order} refunded" + (f" ({amount})" if amount else "")
        if step == "cancelled":
            return _with(f"Order {order} cancelled", _reason(payload.get("reason")))
        return f"Order {order} {step.replace('_', ' ')}"
    if family == "consent":
        channel_key, _, outcome = step.partition(".")
        channel = "Email" if channel_key == "email" else "SMS"
        if outcome == "writeback_failed":
            messages = "; ".join(
                str(e.get("message")) for e in payload.get("errors") or [] if isinstance(e, dict)
            )
            return _with(f"Shopify refused the {channel.lower()} unsubscribe", messages)
        to = _CONSENT_STATES.get(str(payload.get("to")), "changed")
        sentence = f"{channel} marketing: {to}"
        if payload.get("from"):
            sentence += f" (was {_CONSENT_STATES.get(str(payload['from']), payload['from'])})"
        return sentence
    if family == "program":
        if step == "joined":
            via = payload.get("via")
            return "Joined the referral program" + (f" ({via})" if via else "")
        if step == "shared":
            return "Shared their referral offer" + (f" with {shared_to}" if shared_to else "")
    if family == "referral":
        sentence = _REFERRAL_STEPS.get(step, f"Referral {step.replace('_', ' ')}")
        role = payload.get("role")
        if step in ("blocked", "voided", "not_created"):
            return _with(sentence, payload.get("reason"))
        if role == "friend" and step == "created":
            return "Referral created: this customer is the friend"
        return sentence
    if family == "reward":
        sentence = _REWARD_STEPS.get(step, f"Reward {step.replace('_', ' ')}")
        if payload.get("code"):
            sentence += f" (code {payload['code']})"
        if step == "voided":
            return _with(sentence, payload.get("reason"))
        return sentence
    if family == "email":
        email_kind, _, email_step = step.partition(".")
        what = _EMAIL_KINDS.get(email_kind, f"{email_kind.capitalize()} email")
        sentence = f"{what} {_EMAIL_STEPS.get(email_step, email_step.replace('_', ' '))}"
        if payload.get("subject"):
            sentence += f": “{payload['subject']}”"
        if email_step == "not_sent":
            return _with(sentence, payload.get("reason"))
        return sentence
    if family == "conversation":
        return _conversation(step, payload, staff_name)
    if family in ("staff", "app"):
        action = _STAFF_ACTIONS.get(step, step.replace(".", " ").replace("_", " "))
        if step.startswith("conversation.") and payload.get("reason"):
            action = str(payload["reason"])  # the whole predicate: "assigned … to Sam Support"
        who = staff_name or ("Staff" if family == "staff" else "The app")
        if family == "app" and (event.actor or "").startswith("api:"):
            who = f"The API key “{event.actor[4:]}”"
        return f"{who} {action}"
    return kind.replace(".", " ").replace("_", " ").capitalize()


_CHAT_CHANNELS = {"widget": "in the store's chat", "email": "by email", "admin": "in the admin"}


def _conversation(step: str, payload: dict[str, Any], staff_name: str | None) -> str:
    """A conversation's message: who wrote, where, and its first words (gone once the
    customer's data is erased)."""
    where = _CHAT_CHANNELS.get(str(payload.get("channel")), "in a conversation")
    if step == "message_received":
        sentence = f"Wrote to the store {where}"
    elif step == "reply_sent":
        sentence = f"{staff_name or 'Staff'} replied in the conversation"
    elif step == "note_added":
        sentence = f"{staff_name or 'Staff'} added a private note to the conversation"
    else:
        sentence = "Conversation updated"
    excerpt = str(payload.get("excerpt") or "").strip()
    return f"{sentence}: “{excerpt}”" if excerpt else sentence


def _reason(reason: Any) -> str:
    return {
        "customer": "the customer changed their mind",
        "fraud": "suspected fraud",
        "inventory": "items out of stock",
        "declined": "payment declined",
        "other": "other reason",
        "staff": "staff error",
    }.get(str(reason or ""), str(reason or ""))
