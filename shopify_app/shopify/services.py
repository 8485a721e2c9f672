"""The Shopify collaborators an app instance owns, built once from its config."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from flask import Flask, current_app

from shopify_app.crypto import TokenCipher

from .graphql import AdminGraphQL
from .http import make_http_client
from .oauth import TokenEndpoint


@dataclass
class ShopifyServices:
    http: httpx.Client
    token_endpoint: TokenEndpoint
    graphql: AdminGraphQL
    cipher: TokenCipher
    api_key: str
    secrets: tuple[str, ...]
    refresh_margin_seconds: int
    initial_import: bool = True


def init_app(app: Flask) -> None:
    cfg = app.config
    http = make_http_client(cfg["HTTP_TIMEOUT_SECONDS"])
    app.extensions["shopify"] = ShopifyServices(
        http=http,
        token_endpoint=TokenEndpoint(
            http, cfg["SHOPIFY_SHOP_URL"], cfg["SHOPIFY_API_KEY"], cfg["SHOPIFY_API_SECRET"]
        ),
        graphql=AdminGraphQL(http, cfg["SHOPIFY_SHOP_URL"], cfg["SHOPIFY_API_VERSION"]),
        cipher=TokenCipher(cfg["ENCRYPTION_KEY"]),
        api_key=cfg["SHOPIFY_API_KEY"],
        secrets=tuple(s for s in (cfg["SHOPIFY_API_SECRET"], cfg["SHOPIFY_API_SECRET_OLD"]) if s),
        refresh_margin_seconds=cfg["TOKEN_REFRESH_MARGIN_SECONDS"],
        initial_import=cfg["INITIAL_IMPORT"],
    )


def shopify() -> ShopifyServices:
    return current_app.extensions["shopify"]
