"""The event types an endpoint may subscribe to (docs/api.md, "Outgoing webhooks", has the
payload of each)."""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "advocate.joined": "A customer joined the referral program",
    "referral.created": "An order was attributed to an advocate",
    "referral.completed": "A referral completed (its reward is being issued)",
    "referral.blocked": "A referral was blocked (a fraud rule, the blocklist, the currency)",
    "referral.voided": "A referral was voided (refund, cancellation, staff)",
    "reward.issued": "A reward code was created in Shopify",
    "reward.used": "An order redeemed a reward code",
    "reward.voided": "A reward was voided (its code deactivated)",
    "customer.updated": "A customer's account changed in Shopify, or through the API",
    "customer.unsubscribed": "A customer unsubscribed from email or SMS marketing",
    "conversation.message_created": "A message was added to a conversation",
}
# Sent only by "Send test event", to the one endpoint chosen; nobody subscribes to it.
TEST_EVENT_TYPE = "webhook.test"
