"""What the app knows about a shop beyond its tokens."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from shopify_app.models import Shop
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.errors import ShopifyError
from shopify_app.shopify.services import ShopifyServices
from shopify_app.values import parse_id

SHOP_QUERY = "query AppHomeShop { shop { id name myshopifyDomain currencyCode ianaTimezone } }"


@dataclass(frozen=True)
class ShopProfile:
    name: str
    domain: str
    live: bool
    error: str | None = None


def load_shop_profile(session: Session, shop: Shop, services: ShopifyServices) -> ShopProfile:
    """Read the shop's name, currency, time zone and Shopify id through the Admin API; fall
    back to the stored ones if Shopify fails. The id is what compliance and app/uninstalled
    webhooks must name (webhooks/trust.py); it is learned here, from the shop's own token,
    never from a webhook."""
    try:
        data = admin_api(session, shop, services).execute(SHOP_QUERY)
    except ShopifyError as exc:
        return ShopProfile(
            name=shop.name or shop.domain, domain=shop.domain, live=False, error=str(exc)
        )
    name = str(data["shop"]["name"])
    currency = str(data["shop"].get("currencyCode") or "")[:3] or shop.currency
    shopify_id = shop.shopify_id
    if data["shop"].get("myshopifyDomain") == shop.domain:
        shopify_id = parse_id(data["shop"].get("id")) or shopify_id
    zone = valid_timezone(data["shop"].get("ianaTimezone")) or shop.iana_timezone
    stored = (shop.name, shop.currency, shop.shopify_id, shop.iana_timezone)
    if (name, currency, shopify_id, zone) != stored:
        shop.name, shop.currency, shop.shopify_id, shop.iana_timezone = (
            name,
            currency,
            shopify_id,
            zone,
        )
        session.commit()
    return ShopProfile(name=name, domain=shop.domain, live=True)


def ensure_shop_currency(session: Session, shop: Shop, services: ShopifyServices) -> str | None:
    """The shop's currency, read from the Admin API the first time it is needed (amounts in
    minor units mean nothing without it)."""
    if shop.currency is None:
        load_shop_profile(session, shop, services)
    return shop.currency


def valid_timezone(name: object) -> str | None:
    """`name` if it is an IANA time zone this machine knows, else None."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def ensure_shop_timezone(session: Session, shop: Shop, services: ShopifyServices) -> ZoneInfo:
    """The shop's time zone (what its dates are shown in), read from the Admin API the first
    time it is needed; UTC when Shopify cannot say."""
    if shop.iana_timezone is None:
        load_shop_profile(session, shop, services)
    return ZoneInfo(valid_timezone(shop.iana_timezone) or "UTC")
