"""The event types an endpoint may subscribe to (docs/api.md, "Outgoing webhooks", has the
payload of each)."""

from __future__ import annotations

from shopify_app.i18n import N_

EVENT_TYPES: dict[str, str] = {
    "advocate.joined": N_("A customer joined the referral program"),
    "referral.created": N_("An order was attributed to an advocate"),
    "referral.completed": N_("A referral completed (its reward is being issued)"),
    "referral.blocked": N_("A referral was blocked (a fraud rule, the blocklist, the currency)"),
    "referral.voided": N_("A referral was voided (refund, cancellation, staff)"),
    "reward.issued": N_("A reward code was created in Shopify"),
    "reward.used": N_("An order redeemed a reward code"),
    "reward.voided": N_("A reward was voided (its code deactivated)"),
    "customer.updated": N_("A customer's account changed in Shopify, or through the API"),
    "customer.unsubscribed": N_("A customer unsubscribed from email or SMS marketing"),
    "conversation.message_created": N_("A message was added to a conversation"),
}
# Sent only by "Send test event", to the one endpoint chosen; nobody subscribes to it.
TEST_EVENT_TYPE = "webhook.test"
