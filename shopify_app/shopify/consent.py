"""Marketing consent written back to Shopify: `customerEmailMarketingConsentUpdate` and
`customerSmsMarketingConsentUpdate` (GraphQL Admin API).

Both set a state with its date; sending the same change twice leaves Shopify as after the
first, so a retried job is safe. Refusals come back as `userErrors` (`UserErrors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shopify_app.values import parse_timestamp

from .admin_api import ShopAdminAPI

_CUSTOMER = """
customer {
  id
  emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
  smsMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
}
userErrors { field message code }
"""

EMAIL = f"""
mutation ReferralEmailConsent($input: CustomerEmailMarketingConsentUpdateInput!) {{
  customerEmailMarketingConsentUpdate(input: $input) {{ {_CUSTOMER} }}
}}
"""

SMS = f"""
mutation ReferralSmsConsent($input: CustomerSmsMarketingConsentUpdateInput!) {{
  customerSmsMarketingConsentUpdate(input: $input) {{ {_CUSTOMER} }}
}}
"""

_OPERATIONS = {
    "email": (EMAIL, "customerEmailMarketingConsentUpdate", "emailMarketingConsent"),
    "sms": (SMS, "customerSmsMarketingConsentUpdate", "smsMarketingConsent"),
}


@dataclass(frozen=True)
class ConsentState:
    """A channel's consent as Shopify answered it (lower-case state, as sync stores it)."""

    state: str
    opt_in_level: str | None
    updated_at: datetime | None


def update_marketing_consent(
    api: ShopAdminAPI,
    customer_shopify_id: int,
    channel: str,
    state: str,
    consent_updated_at: datetime,
    *,
    opt_in_level: str | None = None,
) -> ConsentState | None:
    """Set the customer's `channel` ("email" or "sms") consent to `state` as of
    `consent_updated_at`; returns the consent Shopify now holds (None if it sent none).

    Raises:
        UserErrors: Shopify refused (unknown customer, no phone for SMS, invalid state).
        RetryableError, ThrottledError, GraphQLError: as `AdminGraphQL.execute`.
    """
    mutation, payload_key, input_key = _OPERATIONS[channel]
    consent: dict[str, Any] = {
        "marketingState": state.upper(),
        "consentUpdatedAt": consent_updated_at.isoformat().replace("+00:00", "Z"),
    }
    if opt_in_level:
        consent["marketingOptInLevel"] = opt_in_level.upper()
    variables = {
        "input": {
            "customerId": f"gid://shopify/Customer/{customer_shopify_id}",
            input_key: consent,
        }
    }
    result = api.mutate(mutation, variables, payload_key)
    node = ((result.get("customer") or {}).get(input_key)) or {}
    if not node.get("marketingState"):
        return None
    level = node.get("marketingOptInLevel")
    return ConsentState(
        state=str(node["marketingState"]).lower(),
        opt_in_level=str(level).lower() if level else None,
        updated_at=parse_timestamp(node.get("consentUpdatedAt")),
    )
