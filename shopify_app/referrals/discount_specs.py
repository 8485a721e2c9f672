"""What a referral code is in Shopify: the discount an advocate's friend code and a reward
code are created (and updated) with."""

from __future__ import annotations

from shopify_app.models import Advocate, Customer, Program, Reward, Shop
from shopify_app.shopify.discounts import DiscountSpec

from .program import shop_currency


def friend_spec(shop: Shop, advocate: Advocate, program: Program) -> DiscountSpec:
    """The advocate's shareable friend code, holding at checkout what Shopify can hold.

    "New customers only" cannot be put on a code discount that anyone may be sent
    (shopify-platform.md § 11.6). Customer eligibility (`context.customers`) lists known
    customers, and a segment such as `number_of_orders = 0` (`context.customerSegments`) is
    matched against an identified customer at checkout: a brand-new guest, the friend the
    program exists for, has no customer record yet and would be refused, while an existing
    customer only has to check out as a guest to get past it. So the code stays open to all
    buyers (`context: {all: ALL}`), and with "new customers only" it is always limited to one
    use per customer (`appliesOncePerCustomer`, which Shopify tracks by the buyer's email):
    a friend who used it once is no longer new. What checkout lets through, an existing
    customer using the code, makes no referral (`fraud` rule `existing_customer`) and is
    listed for the merchant (Referrals > Existing customers who used a friend code).
    """
    return DiscountSpec(
        title=f"Referral friend offer · {advocate.code}",
        code=advocate.code,
        kind=program.friend_kind,
        value=program.friend_value,
        currency=shop_currency(shop),
        starts_at=advocate.joined_at,
        min_subtotal_minor=program.friend_min_subtotal_minor,
        once_per_customer=program.friend_once_per_customer or program.friend_new_customers_only,
    )


def reward_spec(shop: Shop, reward: Reward, customer: Customer | None) -> DiscountSpec:
    """The reward's code: one use, by the advocate only (when Shopify knows them), until the
    reward expires."""
    return DiscountSpec(
        title=f"Referral reward · {reward.code}",
        code=reward.code,
        kind=reward.kind,
        value=reward.value,
        currency=reward.currency,
        starts_at=reward.created_at,
        ends_at=reward.expires_at,
        once_per_customer=True,
        usage_limit=1,
        customer_gids=customer_gids(customer),
    )


def customer_gids(customer: Customer | None) -> tuple[str, ...]:
    """The customer as a discount's eligibility: their GID, or nobody if Shopify lacks them."""
    if customer is None or customer.shopify_id is None:
        return ()
    return (f"gid://shopify/Customer/{customer.shopify_id}",)
