"""Products and discount codes staff send from the inbox (F5), read through the Admin API.

A product may be sent only while a shopper could open it: ACTIVE, published to the Online
Store publication and with an `onlineStoreUrl` (shopify-platform.md § 11.8). The search
offers only those, and a send checks the product again at that moment, since a merchant may
have unpublished it since the search. A discount code must exist and be ACTIVE now.

The Online Store publication's GID and the shop's primary domain (the storefront root the
links are on) are read once and kept in Redis for an hour (`CACHE_TTL`): both rarely change,
and a send must not cost two reads. Every URL stored in a payload is checked to be http(s)
on that storefront, so no other address ever becomes a link in a shopper's chat.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

import redis
from babel.dates import format_datetime
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.jobs import redis_connection
from shopify_app.models import Conversation, ConversationMessage, Shop, StaffMember
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.errors import (
    GraphQLError,
    ReauthorizationRequired,
    RetryableError,
    ShopifyError,
    ThrottledError,
)
from shopify_app.shopify.graphql import AdminGraphQL
from shopify_app.shopify.services import shopify

from . import service
from .service import MessageRefused

log = logging.getLogger(__name__)

CACHE_TTL = 3600  # seconds
ONLINE_STORE = "Online Store"
SEARCH_LIMIT = 20
CODES_LIMIT = 50
TERM_CAP = 100
CODE_CAP = 255
# A staff member waits for the answer: a short wait for Shopify's bucket, then a clear 503.
INTERACTIVE_THROTTLE_WAIT = 3.0
IMAGE_HOSTS = ("cdn.shopify.com",)
PRODUCT_GID = re.compile(r"^gid://shopify/Product/(\d{1,20})$")

STOREFRONT_QUERY = """
query ChatStorefront {
  shop { primaryDomain { url } }
  publications(first: 25) { nodes { id name catalog { title } } }
}
"""

PRODUCT_FIELDS = """
  id handle title status onlineStoreUrl
  featuredImage { url }
  priceRangeV2 { minVariantPrice { amount currencyCode } }
  publishedOnPublication(publicationId: $publication)
"""

SEARCH_QUERY = f"""
query ChatProducts($query: String!, $publication: ID!) {{
  products(first: {SEARCH_LIMIT}, query: $query, sortKey: TITLE) {{ nodes {{ {PRODUCT_FIELDS} }} }}
}}
"""

PRODUCT_QUERY = f"""
query ChatProduct($id: ID!, $publication: ID!) {{
  product(id: $id) {{ {PRODUCT_FIELDS} }}
}}
"""

DISCOUNT_FIELDS = """
  id
  codeDiscount {
    ... on DiscountCodeBasic {
      title status startsAt endsAt summary
      codes(first: 1) { nodes { code } }
    }
  }
"""

DISCOUNT_QUERY = f"""
query ChatDiscount($code: String!) {{
  codeDiscountNodeByCode(code: $code) {{ {DISCOUNT_FIELDS} }}
}}
"""

ACTIVE_CODES_QUERY = f"""
query ChatDiscounts {{
  codeDiscountNodes(first: {CODES_LIMIT}, query: "status:active") {{
    nodes {{ {DISCOUNT_FIELDS} }}
  }}
}}
"""


@dataclass(frozen=True)
class Storefront:
    publication_id: str  # the Online Store publication's GID
    root: str  # the primary domain's URL (the devstore: its /shops/<shop>), no trailing "/"

    @property
    def publication_number(self) -> str:
        return self.publication_id.rsplit("/", 1)[-1]


def on_storefront(url: Any, root: str) -> bool:
    """True when `url` is http(s) on the storefront `root` (same scheme, host and port, and
    under its path): the only links a payload may carry."""
    if not isinstance(url, str) or not url or len(url) > 2000:
        return False
    if any(c in url for c in "\\\r\n\t ") or not root:
        return False
    try:
        target, base = urlsplit(url), urlsplit(root)
    except ValueError:
        return False
    if target.scheme not in ("http", "https") or target.scheme != base.scheme:
        return False
    if target.netloc.lower() != base.netloc.lower() or "@" in target.netloc:
        return False
    prefix = base.path.rstrip("/") + "/"
    return (target.path or "/").startswith(prefix)


def _image_url(url: Any, root: str) -> str | None:
    """An image is shown from the storefront's host (the devstore serves them there) or
    Shopify's CDN only, over http(s)."""
    if not isinstance(url, str) or len(url) > 2000 or any(c in url for c in "\\\r\n\t "):
        return None
    try:
        parts, base = urlsplit(url), urlsplit(root)
    except ValueError:
        return None
    if "@" in parts.netloc or parts.scheme not in ("http", "https"):
        return None
    same_host = parts.scheme == base.scheme and parts.netloc.lower() == base.netloc.lower()
    cdn = parts.scheme == "https" and parts.hostname in IMAGE_HOSTS
    return url if same_host or cdn else None


def _api(session: Session, shop: Shop):
    """The shop's Admin API with a short throttle wait (someone is waiting for the answer)."""
    services = shopify()
    interactive = AdminGraphQL(
        services.http,
        current_app.config["SHOPIFY_SHOP_URL"],
        services.graphql.api_version,
        max_throttle_wait=INTERACTIVE_THROTTLE_WAIT,
    )
    return admin_api(session, shop, dataclasses.replace(services, graphql=interactive))


def _read(session: Session, shop: Shop, query: str, variables: dict | None = None) -> dict:
    """One Admin API read; Shopify's failures become MessageRefused 502/503 with a sentence."""
    try:
        return _api(session, shop).execute(query, variables or {})
    except ThrottledError as exc:
        log.info("catalog read throttled for %s: %s", shop.domain, exc)
        raise MessageRefused(
            _(
                "Shopify is limiting the app's requests right now; nothing was sent. Try "
                "again in a few seconds."
            ),
            503,
        ) from exc
    except RetryableError as exc:
        log.warning("catalog read failed for %s: %s", shop.domain, exc)
        raise MessageRefused(
            _("Shopify did not answer; nothing was sent. Try again in a moment."), 503
        ) from exc
    except ReauthorizationRequired as exc:
        raise MessageRefused(
            _("The app has lost its access to Shopify; reload the app and try again."), 503
        ) from exc
    except GraphQLError as exc:
        log.warning("catalog read refused for %s: %s", shop.domain, exc)
        codes = {str(((e or {}).get("extensions") or {}).get("code")) for e in exc.errors}
        if "ACCESS_DENIED" in codes:
            raise MessageRefused(
                _(
                    "The app lacks Shopify's permission to read this store's products (see "
                    "the app's Home page to approve it); nothing was sent."
                ),
                502,
            ) from exc
        raise MessageRefused(
            _("Shopify refused the app's request; nothing was sent."), 502
        ) from exc
    except ShopifyError as exc:
        log.warning("catalog read failed for %s: %s", shop.domain, exc)
        raise MessageRefused(_("Shopify could not be reached; nothing was sent."), 502) from exc


def _cache_key(shop: Shop) -> str:
    return f"chat-catalog:{shop.id}:storefront"


def cached_storefront(shop: Shop) -> str | None:
    """The storefront root when it is cached (no Shopify call): the inbox page uses it to
    check the links of product and discount messages before showing them as links."""
    try:
        cached = redis_connection().get(_cache_key(shop))
        return str(json.loads(cached)["root"]) if cached else None
    except (redis.RedisError, ValueError, KeyError, TypeError):
        return None


def online_store(session: Session, shop: Shop) -> Storefront:
    """The shop's Online Store publication and storefront root (cached per shop)."""
    try:
        cached = redis_connection().get(_cache_key(shop))
    except redis.RedisError:
        cached = None
    if cached:
        try:
            raw = json.loads(cached)
            return Storefront(raw["publication_id"], raw["root"])
        except (ValueError, KeyError, TypeError):
            pass
    data = _read(session, shop, STOREFRONT_QUERY)
    root = str((((data.get("shop") or {}).get("primaryDomain")) or {}).get("url") or "")
    root = root.rstrip("/")
    publication = next(
        (
            p["id"]
            for p in ((data.get("publications") or {}).get("nodes") or [])
            if ((p.get("catalog") or {}).get("title") or p.get("name")) == ONLINE_STORE
        ),
        None,
    )
    if publication is None:
        raise MessageRefused(
            _(
                "This store has no Online Store sales channel, so there is nothing a shopper "
                "could open."
            ),
            422,
        )
    if urlsplit(root).scheme not in ("http", "https"):
        raise MessageRefused(_("Shopify gave no storefront address for this store."), 502)
    storefront = Storefront(publication, root)
    try:
        redis_connection().set(
            _cache_key(shop), json.dumps(dataclasses.asdict(storefront)), ex=CACHE_TTL
        )
    except redis.RedisError:
        log.warning("could not cache the storefront of shop %s", shop.id, exc_info=True)
    return storefront


def _price(amount: Any) -> str:
    try:
        return str(Decimal(str(amount)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return "0.00"


def unavailable_reason(node: dict[str, Any], storefront: Storefront) -> str | None:
    """Why a shopper could not open this product, or None when they could."""
    title = node.get("title") or _("This product")
    status = str(node.get("status") or "")
    if status != "ACTIVE":
        return _(
            "%(title)s is not active (its status is %(status)s), so a shopper could not open it.",
            title=title,
            status=status.lower() or _("unknown"),
        )
    url = node.get("onlineStoreUrl")
    if node.get("publishedOnPublication") is not True or not url:
        return _(
            "%(title)s is not available on the Online Store, so a shopper could not open it.",
            title=title,
        )
    if not on_storefront(url, storefront.root):
        return _(
            "%(title)s's link is not on the store's Online Store, so it was not sent.",
            title=title,
        )
    return None


def product_payload(node: dict[str, Any], storefront: Storefront, currency: str) -> dict[str, Any]:
    """The contract's product payload from a product node already found available."""
    price = ((node.get("priceRangeV2") or {}).get("minVariantPrice")) or {}
    return {
        "product_id": node["id"],
        "handle": node.get("handle") or "",
        "title": node.get("title") or "",
        "url": node["onlineStoreUrl"],
        "image_url": _image_url((node.get("featuredImage") or {}).get("url"), storefront.root),
        "price": _price(price.get("amount")),
        "currency": str(price.get("currencyCode") or currency),
    }


def search_terms(term: Any) -> list[str]:
    """The words of a staff member's search, as title wildcards; search syntax typed into
    the box (`status:draft`, quotes, OR) is taken as plain words, never as filters."""
    text = term[:TERM_CAP] if isinstance(term, str) else ""
    return [f"title:*{word}*" for word in re.findall(r"\w+", text)[:5]]


def search_products(session: Session, shop: Shop, term: Any) -> list[dict[str, Any]]:
    """The shop's products a shopper could open, matching `term` (all when empty), as
    product payloads, by title."""
    storefront = online_store(session, shop)
    filters = [
        "status:active",
        f"publication_ids:{storefront.publication_number}",
        "published_status:published",
        *search_terms(term),
    ]
    data = _read(
        session,
        shop,
        SEARCH_QUERY,
        {"query": " ".join(filters), "publication": storefront.publication_id},
    )
    nodes = ((data.get("products") or {}).get("nodes")) or []
    return [
        product_payload(node, storefront, shop.currency or "EUR")
        for node in nodes
        if isinstance(node, dict) and unavailable_reason(node, storefront) is None
    ]


def _already_sent(
    session: Session, shop: Shop, conversation: Conversation, client_id: str | None
) -> ConversationMessage | None:
    """The message a retried send already stored (checked before asking Shopify again: a
    product unpublished since must not turn a delivered send into an error)."""
    if not client_id:
        return None
    return session.scalar(
        select(ConversationMessage).where(
            ConversationMessage.shop_id == shop.id,
            ConversationMessage.conversation_id == conversation.id,
            ConversationMessage.client_id == client_id.strip()[:64],
        )
    )


def product_gid(product_id: Any) -> str:
    if isinstance(product_id, int) and not isinstance(product_id, bool) and product_id > 0:
        return f"gid://shopify/Product/{product_id}"
    text = product_id.strip() if isinstance(product_id, str) else ""
    if text.isdigit() and len(text) <= 20:
        return f"gid://shopify/Product/{text}"
    if PRODUCT_GID.match(text):
        return text
    raise MessageRefused(_('Choose a product to send (its id as "product_id").'), 422)


def send_product(
    session: Session,
    shop: Shop,
    conversation: Conversation,
    staff: StaffMember | None,
    product_id: Any,
    client_id: str | None,
) -> ConversationMessage:
    """Send a product link, after checking with Shopify that a shopper could open it now.
    Raises MessageRefused: 404 unknown product, 422 not on the Online Store, 502/503
    Shopify failing."""
    if conversation.shop_id != shop.id:
        raise MessageRefused(_("No such conversation."), 404)
    found = _already_sent(session, shop, conversation, client_id)
    if found is not None:
        return found
    wanted = product_gid(product_id)
    storefront = online_store(session, shop)
    data = _read(
        session, shop, PRODUCT_QUERY, {"id": wanted, "publication": storefront.publication_id}
    )
    node = data.get("product")
    if not isinstance(node, dict) or not node.get("id"):
        raise MessageRefused(_("No such product in this store."), 404)
    reason = unavailable_reason(node, storefront)
    if reason is not None:
        raise MessageRefused(reason, 422)
    payload = product_payload(node, storefront, shop.currency or "EUR")
    body = (
        f"Shared a product: {payload['title']} ({payload['price']} {payload['currency']}) "
        f"{payload['url']}"
    )
    return service.post_message(
        session,
        shop,
        conversation,
        author="staff",
        body=body,
        channel="admin",
        staff=staff,
        client_id=client_id,
        kind="product",
        payload=payload,
    )


def clean_code(code: Any) -> str:
    text = code.strip() if isinstance(code, str) else ""
    if not text or len(text) > CODE_CAP or any(c.isspace() or ord(c) < 32 for c in text):
        raise MessageRefused(_("Enter the discount code to send."), 422)
    return text


def _day(iso: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    shown = format_datetime(moment, "d MMM y HH:mm", tzinfo=UTC, locale=get_locale() or "en")
    return f"{shown} UTC"


def discount_payload(node: dict[str, Any], typed: str, storefront: Storefront) -> dict[str, Any]:
    basic = node.get("codeDiscount") or {}
    codes = [n.get("code") for n in ((basic.get("codes") or {}).get("nodes") or [])]
    code = next((c for c in codes if isinstance(c, str) and c.upper() == typed.upper()), typed)
    apply_url = f"{storefront.root}/discount/{quote(code, safe='')}?redirect=/cart"
    return {
        "code": code,
        "summary": str(basic.get("summary") or basic.get("title") or ""),
        "ends_at": basic.get("endsAt"),
        "apply_url": apply_url,
    }


def send_discount(
    session: Session,
    shop: Shop,
    conversation: Conversation,
    staff: StaffMember | None,
    code: Any,
    client_id: str | None,
) -> ConversationMessage:
    """Send an existing, active discount code with the link that applies it to the
    shopper's cart. Raises MessageRefused: 422 unknown, expired or scheduled, 502/503
    Shopify failing."""
    if conversation.shop_id != shop.id:
        raise MessageRefused(_("No such conversation."), 404)
    found = _already_sent(session, shop, conversation, client_id)
    if found is not None:
        return found
    typed = clean_code(code)
    storefront = online_store(session, shop)
    node = _read(session, shop, DISCOUNT_QUERY, {"code": typed}).get("codeDiscountNodeByCode")
    if not isinstance(node, dict):
        raise MessageRefused(_("No discount code %(code)s exists.", code=typed), 422)
    basic = node.get("codeDiscount") or {}
    status = basic.get("status")
    if status is None:
        raise MessageRefused(
            _(
                "%(code)s is not a basic discount code (an amount or percentage off), which "
                "is what the chat can send.",
                code=typed,
            ),
            422,
        )
    if status == "EXPIRED":
        if basic.get("endsAt"):
            reason = _(
                "%(code)s expired on %(day)s, so a shopper could not use it.",
                code=typed,
                day=_day(basic["endsAt"]),
            )
        else:
            reason = _("%(code)s expired, so a shopper could not use it.", code=typed)
        raise MessageRefused(reason, 422)
    if status == "SCHEDULED":
        raise MessageRefused(
            _(
                "%(code)s starts on %(day)s, so a shopper could not use it yet.",
                code=typed,
                day=_day(basic.get("startsAt")),
            ),
            422,
        )
    if status != "ACTIVE":
        raise MessageRefused(
            _("%(code)s is not active, so a shopper could not use it.", code=typed), 422
        )
    payload = discount_payload(node, typed, storefront)
    if not on_storefront(payload["apply_url"], storefront.root):
        raise MessageRefused(_("The store's address is not a web address; not sent."), 502)
    summary = f" ({payload['summary']})" if payload["summary"] else ""
    body = f"Shared a discount code: {payload['code']}{summary}. Apply it: {payload['apply_url']}"
    return service.post_message(
        session,
        shop,
        conversation,
        author="staff",
        body=body,
        channel="admin",
        staff=staff,
        client_id=client_id,
        kind="discount",
        payload=payload,
    )


def active_codes(session: Session, shop: Shop) -> list[dict[str, Any]]:
    """The shop's active codes, offered in the inbox's discount picker."""
    data = _read(session, shop, ACTIVE_CODES_QUERY)
    offered = []
    for node in ((data.get("codeDiscountNodes") or {}).get("nodes")) or []:
        basic = (node or {}).get("codeDiscount") or {}
        codes = (basic.get("codes") or {}).get("nodes") or []
        if basic.get("status") != "ACTIVE" or not codes or not codes[0].get("code"):
            continue
        offered.append(
            {
                "code": codes[0]["code"],
                "summary": str(basic.get("summary") or basic.get("title") or ""),
                "ends_at": basic.get("endsAt"),
            }
        )
    return offered
