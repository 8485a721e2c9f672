"""Web pixels: the Admin API's `webPixelCreate/Update/Delete` and `webPixel`, and a pixel
runtime for the storefront (shopify-platform.md § 11.2).

The app's pixel is the project's `extensions/referral-pixel` (`type = "web_pixel_extension"`);
settings are validated against its TOML `[settings]` fields (`INVALID_SETTINGS`), one pixel per
app and shop (`TAKEN` on a second create), and the mutations need the `write_pixels` and
`read_customer_events` scopes (`read_pixels` or `write_pixels` to read it back).

Runtime: on Shopify the CLI builds the extension into one bundle and the storefront runs it in
the strict sandbox, a web worker. The devstore's stand-in for the CLI build serves
`src/index.js` with its one import, `@shopify/web-pixels-extension`, pointed at a tiny module
of its own (`static/pixels/web-pixels-extension.js`: `register`, `analytics.subscribe`,
`init`, `settings`, `browser.localStorage`), and every storefront page of a shop with an
active app pixel starts it in a real module Worker (`static/pixels/host.js`). The host passes
`init` (context, `data.cart`, `data.customer`, `data.shop`) and the settings, answers the
worker's `localStorage` reads from the top page, and publishes the standard events with
Shopify's envelope when the shopper's cart changes through the Ajax cart API and on the cart
page (`cart_viewed`).
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from graphql import GraphQLError

from .app_config import PROJECT_ROOT
from .store import DevShop, DevStoreState, DevWebPixel

PIXEL_EXTENSION = PROJECT_ROOT / "extensions" / "referral-pixel"
WRITE_SCOPES = ("write_pixels", "read_customer_events")
READ_SCOPES = ("read_pixels", "write_pixels")
MAX_SETTING = 1000
_IMPORT = re.compile(r"""from\s+(['"])@shopify/web-pixels-extension\1""")


@cache
def extension_config(directory: Path = PIXEL_EXTENSION) -> dict[str, Any]:
    return tomllib.loads((directory / "shopify.extension.toml").read_text())


def setting_fields() -> dict[str, dict[str, Any]]:
    return dict((extension_config().get("settings") or {}).get("fields") or {})


def bundle_source(directory: Path = PIXEL_EXTENSION) -> str:
    """`src/index.js` as the devstore's build: the package import pointed at the runtime."""
    source = (directory / "src" / "index.js").read_text()
    return _IMPORT.sub('from "./web-pixels-extension.js"', source)


def _access_denied(field: str, scopes: tuple[str, ...], shop: DevShop, *, any_of: bool) -> None:
    granted = set((shop.installed_scopes or "").split(","))
    allowed = bool(granted & set(scopes)) if any_of else set(scopes) <= granted
    if not allowed:
        needed = (" or " if any_of else " and ").join(scopes)
        raise GraphQLError(
            f"Access denied for {field} field. Required access: `{needed}` access scope.",
            extensions={"code": "ACCESS_DENIED"},
        )


def _error(code: str, message: str, field: list[str] | None = None) -> dict[str, Any]:
    return {"code": code, "field": field or ["webPixel", "settings"], "message": message}


def validate_settings(raw: Any) -> tuple[str | None, dict[str, Any] | None]:
    """(settings as stored, None) or (None, a user error): a JSON object (or its text) whose
    keys are the TOML's fields, each a single-line string."""
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return None, _error("INVALID_CONFIGURATION_JSON", "Settings must be valid JSON.")
    else:
        value = raw
    if not isinstance(value, dict):
        return None, _error("INVALID_SETTINGS", "Settings must be a JSON object.")
    fields = setting_fields()
    unknown = sorted(set(value) - set(fields))
    missing = sorted(set(fields) - set(value))
    if unknown or missing:
        detail = "; ".join(
            p
            for p in (
                f"unknown: {', '.join(unknown)}" if unknown else "",
                f"missing: {', '.join(missing)}" if missing else "",
            )
            if p
        )
        return None, _error("INVALID_SETTINGS", f"Settings do not match the extension ({detail}).")
    for name, text in value.items():
        if not isinstance(text, str) or not text or "\n" in text or len(text) > MAX_SETTING:
            return None, _error(
                "INVALID_SETTINGS", f"Setting {name} must be a single line of text."
            )
    return json.dumps(value, separators=(",", ":"), sort_keys=True), None


def pixel_node(pixel: DevWebPixel) -> dict[str, Any]:
    return {"id": f"gid://shopify/WebPixel/{pixel.id}", "settings": pixel.settings}


def _pixel_id(value: Any) -> int | None:
    prefix = "gid://shopify/WebPixel/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    tail = value[len(prefix) :]
    return int(tail) if tail.isdigit() else None


def web_pixel_create(state: DevStoreState, shop: DevShop, web_pixel: dict) -> dict[str, Any]:
    _access_denied("webPixelCreate", WRITE_SCOPES, shop, any_of=False)
    settings, error = validate_settings((web_pixel or {}).get("settings"))
    if error is not None:
        return {"webPixel": None, "userErrors": [error]}
    from .commerce import next_id

    with state.lock:
        if shop.web_pixel is not None:
            return {
                "webPixel": None,
                "userErrors": [_error("TAKEN", "Web pixel is taken.", ["webPixel"])],
            }
        shop.web_pixel = DevWebPixel(id=next_id(), settings=settings or "{}")
        return {"webPixel": pixel_node(shop.web_pixel), "userErrors": []}


def web_pixel_update(
    state: DevStoreState, shop: DevShop, ident: Any, web_pixel: dict
) -> dict[str, Any]:
    _access_denied("webPixelUpdate", WRITE_SCOPES, shop, any_of=False)
    with state.lock:
        pixel = shop.web_pixel
        if pixel is None or _pixel_id(ident) != pixel.id:
            return {
                "webPixel": None,
                "userErrors": [_error("NOT_FOUND", "Web pixel not found.", ["id"])],
            }
        settings, error = validate_settings((web_pixel or {}).get("settings"))
        if error is not None:
            return {"webPixel": None, "userErrors": [error]}
        pixel.settings = settings or "{}"
        return {"webPixel": pixel_node(pixel), "userErrors": []}


def web_pixel_delete(state: DevStoreState, shop: DevShop, ident: Any) -> dict[str, Any]:
    _access_denied("webPixelDelete", WRITE_SCOPES, shop, any_of=False)
    with state.lock:
        pixel = shop.web_pixel
        if pixel is None or _pixel_id(ident) != pixel.id:
            return {
                "deletedWebPixelId": None,
                "userErrors": [_error("NOT_FOUND", "Web pixel not found.", ["id"])],
            }
        shop.web_pixel = None
        return {"deletedWebPixelId": ident, "userErrors": []}


def web_pixel(shop: DevShop, ident: Any = None) -> dict[str, Any] | None:
    _access_denied("webPixel", READ_SCOPES, shop, any_of=True)
    pixel = shop.web_pixel
    if pixel is None or (ident is not None and _pixel_id(ident) != pixel.id):
        return None
    return pixel_node(pixel)


def active_settings(shop: DevShop) -> dict[str, Any] | None:
    """The settings of the shop's app pixel when it runs on the storefront: the app is
    installed and has created its pixel."""
    if not shop.installed or shop.web_pixel is None:
        return None
    try:
        value = json.loads(shop.web_pixel.settings)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
