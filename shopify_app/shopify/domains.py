"""Shop-domain validation: only `<handle>.myshopify.com` is ever trusted."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .errors import InvalidShopDomain

_SHOP_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]\.myshopify\.com$|^[a-z0-9]\.myshopify\.com$")
_ADMIN_RE = re.compile(r"^admin\.shopify\.com/store/([a-z0-9][a-z0-9-]*)/?$")


def sanitize_shop_domain(value: str | None) -> str:
    """Return the canonical `<handle>.myshopify.com` for `value` or raise `InvalidShopDomain`.

    Accepts a bare domain, one with a scheme or trailing slash, and the
    `admin.shopify.com/store/<handle>` form; everything else (other hosts, ports, paths,
    credentials, look-alike suffixes) is refused.
    """
    if not value or len(value) > 255:
        raise InvalidShopDomain("missing or overlong shop domain")
    candidate = value.strip().lower()
    if "://" in candidate:
        parts = urlsplit(candidate)
        if parts.scheme not in ("http", "https") or parts.query or parts.fragment:
            raise InvalidShopDomain(f"invalid shop domain: {value!r}")
        candidate = parts.netloc + parts.path
    candidate = candidate.rstrip("/")
    admin = _ADMIN_RE.match(candidate)
    if admin:
        candidate = f"{admin.group(1)}.myshopify.com"
    if not _SHOP_RE.match(candidate):
        raise InvalidShopDomain(f"invalid shop domain: {value!r}")
    return candidate


def is_valid_shop_domain(value: str | None) -> bool:
    try:
        sanitize_shop_domain(value)
    except InvalidShopDomain:
        return False
    return True


def shop_handle(domain: str) -> str:
    """`demo-shop.myshopify.com` -> `demo-shop` (the admin URL's store handle)."""
    return domain.removesuffix(".myshopify.com")
