"""What a merchant reads for each event: one sentence, never an internal key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask_babel import gettext as _

from shopify_app.i18n import N_, amount_text, current_locale, stored_text
from shopify_app.models import TimelineEvent

_EMAIL_KINDS = {
    "invitation": N_("Invitation email"),
    "share": N_("Referral offer email"),
    "reward": N_("Reward email"),
    "friend": N_("Friend offer email"),
    "signup_confirmation": N_("Signup confirmation email"),
    "conversation_reply": N_("Chat reply email"),
    "conversation_unread": N_("Unread chat email to staff"),
}
_EMAIL_STEPS = {
    "queued": N_("queued"),
    "sent": N_("sent"),
    "failed": N_("not delivered"),
    "not_sent": N_("not sent"),
    "delivered": N_("delivered"),
    "bounced": N_("bounced"),
    "complained": N_("marked as spam by the recipient"),
}
_CONSENT_STATES = {
    "subscribed": N_("subscribed"),
    "not_subscribed": N_("not subscribed"),
    "unsubscribed": N_("unsubscribed"),
    "pending": N_("pending confirmation"),
    "redacted": N_("erased"),
    "invalid": N_("invalid"),
}
_STAFF_ACTIONS = {
    "advocate.joined": N_("joined the customer to the program"),
    "customer.invited": N_("sent the customer an invitation"),
    "referral.approved": N_("approved a referral"),
    "referral.voided": N_("voided a referral"),
    "referral.rechecked": N_("ran the fraud rules again on a referral"),
    "referral.unblocked": N_("unblocked a referral"),
    "referral.unvoided": N_("un-voided a referral"),
    "referral.reassigned": N_("reassigned a referral"),
    "referral.created": N_("created a referral"),
    "referral.created.forced": N_("created a referral past the fraud rules"),
    "reward.email_resent": N_("resent the reward email"),
    "email.suppressed": N_("stopped emails to the customer"),
    "email.unsuppressed": N_("allowed emails to the customer again"),
    "blocklist.added": N_("added the customer's details to the blocklist"),
    "blocklist.removed": N_("removed the customer's details from the blocklist"),
    "consent.unsubscribed": N_("unsubscribed the customer from marketing"),
    "export.customer": N_("exported the customer's data"),
    "customer.exported": N_("exported the customer's data"),
    "customer.unsubscribed_email": N_("unsubscribed the customer from email marketing"),
    "customer.unsubscribed_sms": N_("unsubscribed the customer from SMS marketing"),
    "customer.api_created": N_("created the customer"),
    "customer.api_updated": N_("updated the customer"),
    "conversation.assigned": N_("assigned the conversation"),
    "conversation.unassigned": N_("unassigned the conversation"),
    "conversation.status_changed": N_("changed the conversation's status"),
    "conversation.archived": N_("archived the conversation"),
    "conversation.restored": N_("restored the conversation from the archive"),
}
_REFERRAL_STEPS = {
    "created": N_("Referral created"),
    "pending": N_("Referral pending"),
    "completed": N_("Referral completed"),
    "blocked": N_("Referral blocked"),
    "voided": N_("Referral voided"),
    "not_created": N_("No referral made from an order with a referral code"),
}
_REWARD_STEPS = {
    "issued": N_("Reward issued"),
    "used": N_("Reward used"),
    "expired": N_("Reward expired unused"),
    "voided": N_("Reward voided"),
    "clawback_impossible": N_("Reward could not be taken back (already used)"),
    "reissued": N_("Reward given back"),
}
_SIMPLE = {
    "customer.created": N_("Account created in Shopify"),
    "customer.updated": N_("Account details updated in Shopify"),
    "customer.deleted": N_("Account deleted in Shopify"),
    "privacy.redacted": N_("Personal data erased at Shopify's request"),
    "privacy.data_requested": N_("Shopify asked for the data the app holds on this customer"),
    "email.unsubscribed": N_("Unsubscribed from the app's emails"),
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
    return amount_text(amount, currency)


def _order(payload: dict[str, Any]) -> str:
    return str(payload.get("order") or _("An order"))


def _with(sentence: str, detail: Any) -> str:
    """`sentence: detail`, the detail's capital dropped unless it starts an acronym (a stored
    English detail shown in the page's language)."""
    text = stored_text(str(detail or "").strip())
    if not text:
        return sentence
    if len(text) > 1 and text[1].islower():
        text = text[0].lower() + text[1:]
    return _("%(sentence)s: %(detail)s", sentence=sentence, detail=text)


def _words(key: str) -> str:
    words = key.replace("_", " ").replace(".", " ")
    return f"{words[:1].upper()}{words[1:]}"


def describe(
    event: TimelineEvent, *, staff_name: str | None = None, shared_to: str | None = None
) -> str:
    """The event as one sentence, e.g. "Referral blocked: the friend's email ...";
    `shared_to` is the address a share went to (kept on the email, not the event)."""
    kind, payload = event.kind, event.payload or {}
    if event.source == "api":
        return _(
            "%(event)s (from %(source)s)",
            event=_words(kind),
            source=event.source_name or _("a third party"),
        )
    if kind in _SIMPLE:
        return _(_SIMPLE[kind])
    if kind == "storefront.signup":
        if payload.get("channel") != "sms":
            return _(
                "Signed up on the storefront for email news and offers (subscribed only once "
                "they confirm from the emailed link)"
            )
        if payload.get("applied") is False:
            return _(
                "Signed up on the storefront for SMS news and offers (not applied: Shopify's "
                "consent for this customer stands)"
            )
        return _("Signed up on the storefront for SMS news and offers")
    if kind == "storefront.signup_confirmed":
        return _("Confirmed their email signup from the link in the confirmation email")
    if kind == "customer.matched":
        by = payload.get("matched_by")
        if by == "email":
            return _("Matched to the Shopify customer with the same email address")
        if by == "phone":
            return _("Matched to the Shopify customer with the same phone number")
        return _("Matched to the Shopify customer with the same email address or phone number")
    if kind == "customer.match_held":
        return _(
            "Not merged with customer record %(other)s (same %(what)s): both are advocates with "
            "their own referral code, so the app keeps both rather than choose one",
            other=payload.get("other_customer"),
            what=_("phone number") if payload.get("matched_by") == "phone" else _("email address"),
        )
    family, _dot, step = kind.partition(".")
    if family == "order":
        order = _order(payload)
        if step == "placed":
            total = _money(payload)
            if total:
                return _("Order %(order)s placed for %(total)s", order=order, total=total)
            return _("Order %(order)s placed", order=order)
        if step == "refunded":
            amount = _money(payload, "amount_minor")
            if amount:
                return _("Order %(order)s refunded (%(amount)s)", order=order, amount=amount)
            return _("Order %(order)s refunded", order=order)
        if step == "cancelled":
            return _with(
                _("Order %(order)s cancelled", order=order), _reason(payload.get("reason"))
            )
        return f"Order {order} {step.replace('_', ' ')}"
    if family == "consent":
        channel_key, _dot, outcome = step.partition(".")
        email = channel_key == "email"
        if outcome == "writeback_failed":
            messages = "; ".join(
                str(e.get("message")) for e in payload.get("errors") or [] if isinstance(e, dict)
            )
            return _with(
                _("Shopify refused the email unsubscribe")
                if email
                else _("Shopify refused the sms unsubscribe"),
                messages,
            )
        to = _state(payload.get("to")) or _("changed")
        sentence = (
            _("Email marketing: %(state)s", state=to)
            if email
            else _("SMS marketing: %(state)s", state=to)
        )
        if payload.get("from"):
            was = _state(payload["from"]) or str(payload["from"])
            sentence = _("%(sentence)s (was %(state)s)", sentence=sentence, state=was)
        return sentence
    if family == "program":
        if step == "joined":
            via = payload.get("via")
            if via:
                return _("Joined the referral program (%(via)s)", via=_joined_via(via))
            return _("Joined the referral program")
        if step == "shared":
            if shared_to:
                return _("Shared their referral offer with %(address)s", address=shared_to)
            return _("Shared their referral offer")
    if family == "referral":
        sentence = (
            _(_REFERRAL_STEPS[step])
            if step in _REFERRAL_STEPS
            else f"Referral {step.replace('_', ' ')}"
        )
        role = payload.get("role")
        if step in ("blocked", "voided", "not_created"):
            return _with(sentence, payload.get("reason"))
        if role == "friend" and step == "created":
            return _("Referral created: this customer is the friend")
        return sentence
    if family == "reward":
        sentence = (
            _(_REWARD_STEPS[step]) if step in _REWARD_STEPS else f"Reward {step.replace('_', ' ')}"
        )
        if payload.get("code"):
            sentence = _("%(sentence)s (code %(code)s)", sentence=sentence, code=payload["code"])
        if step == "voided":
            return _with(sentence, payload.get("reason"))
        return sentence
    if family == "email":
        email_kind, _dot, email_step = step.partition(".")
        what = (
            _(_EMAIL_KINDS[email_kind])
            if email_kind in _EMAIL_KINDS
            else f"{email_kind.capitalize()} email"
        )
        how = (
            _(_EMAIL_STEPS[email_step])
            if email_step in _EMAIL_STEPS
            else email_step.replace("_", " ")
        )
        sentence = _("%(email)s %(step)s", email=what, step=how)
        if payload.get("subject"):
            sentence = _(
                "%(sentence)s: “%(subject)s”", sentence=sentence, subject=payload["subject"]
            )
        if email_step == "not_sent":
            return _with(sentence, payload.get("reason"))
        return sentence
    if family == "conversation":
        return _conversation(step, payload, staff_name)
    if family in ("staff", "app"):
        action = (
            _(_STAFF_ACTIONS[step])
            if step in _STAFF_ACTIONS
            else step.replace(".", " ").replace("_", " ")
        )
        if step.startswith("conversation.") and payload.get("reason"):
            action = str(payload["reason"])  # the whole predicate: "assigned … to Sam Support"
        who = staff_name or (_("Staff") if family == "staff" else _("The app"))
        if family == "app" and (event.actor or "").startswith("api:"):
            who = _("The API key “%(name)s”", name=event.actor[4:])
        return _("%(who)s %(action)s", who=who, action=action)
    return kind.replace(".", " ").replace("_", " ").capitalize()


_JOINED_VIA = {
    "storefront": N_("On the storefront"),
    "invitation": N_("From an invitation"),
    "staff": N_("Added by staff"),
    "api": N_("Through the API"),
}


def _joined_via(via: Any) -> str:
    """How they joined: the stored word in English (as before), in words in another language."""
    if current_locale() == "en" or str(via) not in _JOINED_VIA:
        return str(via)
    return _(_JOINED_VIA[str(via)]).lower()


def _state(value: Any) -> str | None:
    key = str(value)
    return _(_CONSENT_STATES[key]) if key in _CONSENT_STATES else None


_CHAT_CHANNELS = {
    "widget": N_("in the store's chat"),
    "email": N_("by email"),
    "admin": N_("in the admin"),
}


def _conversation(step: str, payload: dict[str, Any], staff_name: str | None) -> str:
    """A conversation's message: who wrote, where, and its first words (gone once the
    customer's data is erased)."""
    channel = str(payload.get("channel"))
    where = _(_CHAT_CHANNELS[channel]) if channel in _CHAT_CHANNELS else _("in a conversation")
    who = staff_name or _("Staff")
    if step == "message_received":
        sentence = _("Wrote to the store %(where)s", where=where)
    elif step == "reply_sent":
        sentence = _("%(who)s replied in the conversation", who=who)
    elif step == "note_added":
        sentence = _("%(who)s added a private note to the conversation", who=who)
    else:
        sentence = _("Conversation updated")
    excerpt = str(payload.get("excerpt") or "").strip()
    if excerpt:
        return _("%(sentence)s: “%(excerpt)s”", sentence=sentence, excerpt=excerpt)
    return sentence


_REASONS = {
    "customer": N_("the customer changed their mind"),
    "fraud": N_("suspected fraud"),
    "inventory": N_("items out of stock"),
    "declined": N_("payment declined"),
    "other": N_("other reason"),
    "staff": N_("staff error"),
}


def _reason(reason: Any) -> str:
    key = str(reason or "")
    return _(_REASONS[key]) if key in _REASONS else key
