"""The storefront chat's app embed (`extensions/chat-embed`, block `chat`), from the app's side.

Shopify keeps a theme app extension's app embeds off after install and no API switches one on
(shopify-platform.md § 11.1): the app can only send the merchant to the theme editor's App
embeds with the chat switched on there, for them to save.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import current_app

EXTENSION = "chat-embed"
BLOCK = "chat"


def theme_editor_link(api_key: str, block: str = BLOCK) -> str:
    """The admin link that opens the current theme's editor at App embeds with `block` on
    (`activateAppId=<api_key>/<block handle>`); App Bridge opens `shopify://admin/...` links
    in the admin around the app."""
    return (
        "shopify://admin/themes/current/editor?context=apps"
        f"&activateAppId={quote(api_key, safe='')}/{quote(block, safe='')}"
    )


def chat_embed_link() -> str:
    """`theme_editor_link` for this app's chat (a template global)."""
    return theme_editor_link(current_app.config["SHOPIFY_API_KEY"])
