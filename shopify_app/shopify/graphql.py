"""GraphQL Admin API client: explicit shop, token and version; no global session."""

from __future__ import annotations

from typing import Any

import httpx

from .errors import GraphQLError, InvalidAccessToken
from .http import send_with_retries, shop_url


class AdminGraphQL:
    def __init__(self, http: httpx.Client, shop_url_template: str, api_version: str):
        self._http = http
        self._template = shop_url_template
        self.api_version = api_version

    def endpoint(self, shop: str) -> str:
        return shop_url(self._template, shop, f"/admin/api/{self.api_version}/graphql.json")

    def execute(
        self, shop: str, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one operation and return its `data`.

        Raises:
            InvalidAccessToken: HTTP 401, the token is expired, revoked or for another shop.
            GraphQLError: top-level `errors` in the response.
            RetryableError: network errors or 5xx persisted through the retries.
        """
        url = self.endpoint(shop)
        headers = {"X-Shopify-Access-Token": token, "Content-Type": "application/json"}
        body = {"query": query, "variables": variables or {}}
        response = send_with_retries(lambda: self._http.post(url, json=body, headers=headers))
        if response.status_code == 401:
            raise InvalidAccessToken(f"Admin API refused the access token for {shop}")
        if response.status_code != 200:
            raise GraphQLError(f"Admin API HTTP {response.status_code}: {response.text[:200]}")
        payload = response.json()
        if payload.get("errors"):
            errors = payload["errors"]
            first = errors[0].get("message") if isinstance(errors, list) and errors else errors
            raise GraphQLError(
                f"GraphQL error: {first}", errors if isinstance(errors, list) else []
            )
        return payload.get("data") or {}
