"""The Admin API for one shop: its current token, refreshed once if Shopify refuses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from shopify_app.models import Shop, utcnow

from .errors import InvalidAccessToken, ReauthorizationRequired
from .offline_tokens import clear_tokens, offline_access_token
from .services import ShopifyServices


class ShopAdminAPI:
    def __init__(self, session: Session, shop: Shop, services: ShopifyServices):
        self.session = session
        self.shop = shop
        self.services = services

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._with_token(
            lambda token: self.services.graphql.execute(self.shop.domain, token, query, variables)
        )

    def mutate(self, mutation: str, variables: dict[str, Any], payload_key: str) -> dict[str, Any]:
        return self._with_token(
            lambda token: self.services.graphql.mutate(
                self.shop.domain, token, mutation, variables, payload_key
            )
        )

    def _with_token(self, call: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        """A 401 means the token died early (revoked, rotated): refresh once and retry."""
        try:
            return call(offline_access_token(self.session, self.shop, self.services))
        except InvalidAccessToken:
            self.shop.access_token_expires_at = utcnow()
            self.session.commit()
        try:
            return call(offline_access_token(self.session, self.shop, self.services))
        except InvalidAccessToken as exc:
            clear_tokens(self.shop)
            self.shop.reauth_required_at = utcnow()
            self.session.commit()
            raise ReauthorizationRequired(
                f"{self.shop.domain}: Admin API refuses fresh tokens"
            ) from exc


def admin_api(session: Session, shop: Shop, services: ShopifyServices) -> ShopAdminAPI:
    return ShopAdminAPI(session, shop, services)
