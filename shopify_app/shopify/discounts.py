"""Code discounts in Shopify through the GraphQL Admin API: create (idempotently), update,
deactivate, look up by code.

Creating is made idempotent by the code itself: codes are unique per shop, so when a create
answers `TAKEN` the code is looked up, and a discount the app made (its title carries the
app's marker) is adopted instead of failing. A retry after a lost response therefore finds
the discount it made the first time; it never makes a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from shopify_app.values import money_text

from .admin_api import ShopAdminAPI
from .errors import UserErrors

TITLE_MARKER = "Referral"

_NODE_FIELDS = """
  id
  codeDiscount {
    ... on DiscountCodeBasic {
      title status startsAt endsAt usageLimit appliesOncePerCustomer asyncUsageCount
    }
  }
"""

CREATE = f"""
mutation ReferralDiscountCreate($basicCodeDiscount: DiscountCodeBasicInput!) {{
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {{
    codeDiscountNode {{ {_NODE_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

UPDATE = f"""
mutation ReferralDiscountUpdate($id: ID!, $basicCodeDiscount: DiscountCodeBasicInput!) {{
  discountCodeBasicUpdate(id: $id, basicCodeDiscount: $basicCodeDiscount) {{
    codeDiscountNode {{ {_NODE_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

DEACTIVATE = f"""
mutation ReferralDiscountDeactivate($id: ID!) {{
  discountCodeDeactivate(id: $id) {{
    codeDiscountNode {{ {_NODE_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

DELETE = """
mutation ReferralDiscountDelete($id: ID!) {
  discountCodeDelete(id: $id) {
    deletedCodeDiscountId
    userErrors { field code message }
  }
}
"""

BY_CODE = f"""
query ReferralDiscountByCode($code: String!) {{
  codeDiscountNodeByCode(code: $code) {{ {_NODE_FIELDS} }}
}}
"""


@dataclass(frozen=True)
class DiscountSpec:
    """What a referral discount gives. `value` is whole percent or minor units of currency."""

    title: str
    code: str
    kind: str  # percentage | fixed_amount
    value: int
    currency: str
    starts_at: datetime
    ends_at: datetime | None = None
    min_subtotal_minor: int = 0
    once_per_customer: bool = True
    usage_limit: int | None = None
    customer_gids: tuple[str, ...] = ()

    def to_input(self, *, with_code: bool = True) -> dict[str, Any]:
        if self.kind == "percentage":
            value: dict[str, Any] = {"percentage": round(self.value / 100, 4)}
        else:
            value = {
                "discountAmount": {
                    "amount": money_text(self.value, self.currency),
                    "appliesOnEachItem": False,
                }
            }
        spec: dict[str, Any] = {
            "title": self.title,
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.ends_at.isoformat() if self.ends_at else None,
            "context": (
                {"customers": {"add": list(self.customer_gids)}}
                if self.customer_gids
                else {"all": "ALL"}
            ),
            "customerGets": {"value": value, "items": {"all": True}},
            "appliesOncePerCustomer": self.once_per_customer,
            "usageLimit": self.usage_limit,
            "combinesWith": {
                "orderDiscounts": False,
                "productDiscounts": False,
                "shippingDiscounts": True,
            },
        }
        if self.min_subtotal_minor:
            spec["minimumRequirement"] = {
                "subtotal": {
                    "greaterThanOrEqualToSubtotal": str(
                        Decimal(money_text(self.min_subtotal_minor, self.currency))
                    )
                }
            }
        if with_code:
            spec["code"] = self.code
        return spec


class CodeTakenByOthers(Exception):
    """The code exists in Shopify on a discount the app did not make."""


def find_by_code(api: ShopAdminAPI, code: str) -> dict[str, Any] | None:
    return api.execute(BY_CODE, {"code": code}).get("codeDiscountNodeByCode")


def create_discount(api: ShopAdminAPI, spec: DiscountSpec) -> tuple[str, bool]:
    """Create the discount, or adopt the one an earlier attempt made. Returns (node id,
    adopted). Raises CodeTakenByOthers, or UserErrors for any other refusal."""
    try:
        result = api.mutate(
            CREATE, {"basicCodeDiscount": spec.to_input()}, "discountCodeBasicCreate"
        )
    except UserErrors as exc:
        if "TAKEN" not in exc.codes:
            raise
        existing = find_by_code(api, spec.code)
        if existing is None:
            raise
        title = ((existing.get("codeDiscount") or {}).get("title")) or ""
        if not title.startswith(TITLE_MARKER):
            raise CodeTakenByOthers(f"code {spec.code} belongs to the discount {title!r}") from exc
        update_discount(api, existing["id"], spec)
        return existing["id"], True
    return result["codeDiscountNode"]["id"], False


def update_discount(api: ShopAdminAPI, node_id: str, spec: DiscountSpec) -> None:
    api.mutate(
        UPDATE,
        {"id": node_id, "basicCodeDiscount": spec.to_input(with_code=False)},
        "discountCodeBasicUpdate",
    )


def deactivate_discount(api: ShopAdminAPI, node_id: str) -> None:
    api.mutate(DEACTIVATE, {"id": node_id}, "discountCodeDeactivate")


def delete_discount(api: ShopAdminAPI, node_id: str) -> None:
    api.mutate(DELETE, {"id": node_id}, "discountCodeDelete")
