"""Shopify's token endpoint: authorization code, token exchange and refresh grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from shopify_app.models.base import utcnow

from .errors import InvalidClient, InvalidGrant, InvalidSubjectToken, TokenEndpointError
from .http import send_with_retries, shop_url

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
ONLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"


@dataclass(frozen=True)
class AccessTokenGrant:
    """What the token endpoint returned, with relative lifetimes turned into instants."""

    access_token: str
    scope: str
    expires_at: datetime | None
    refresh_token: str | None
    refresh_token_expires_at: datetime | None
    associated_user: dict[str, Any] | None = None

    @classmethod
    def from_response(cls, body: dict[str, Any], now: datetime) -> AccessTokenGrant:
        if not isinstance(body.get("access_token"), str) or not body["access_token"]:
            raise TokenEndpointError("token endpoint answered without an access_token")

        def at(seconds: Any) -> datetime | None:
            return now + timedelta(seconds=int(seconds)) if seconds else None

        return cls(
            access_token=body["access_token"],
            scope=str(body.get("scope") or ""),
            expires_at=at(body.get("expires_in")),
            refresh_token=body.get("refresh_token"),
            refresh_token_expires_at=at(body.get("refresh_token_expires_in")),
            associated_user=body.get("associated_user"),
        )


class TokenEndpoint:
    """POSTs to `{shop}/admin/oauth/access_token`; always asks for expiring offline tokens."""

    def __init__(self, http: httpx.Client, shop_url_template: str, api_key: str, api_secret: str):
        self._http = http
        self._template = shop_url_template
        self._api_key = api_key
        self._api_secret = api_secret

    def authorize_url(self, shop: str, *, scopes: str, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {
                "client_id": self._api_key,
                "scope": scopes,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return shop_url(self._template, shop, f"/admin/oauth/authorize?{query}")

    def exchange_id_token(self, shop: str, id_token: str) -> AccessTokenGrant:
        return self._post(
            shop,
            {
                "grant_type": TOKEN_EXCHANGE_GRANT,
                "subject_token": id_token,
                "subject_token_type": ID_TOKEN_TYPE,
                "requested_token_type": OFFLINE_TOKEN_TYPE,
                "expiring": "1",
            },
        )

    def exchange_id_token_online(self, shop: str, id_token: str) -> AccessTokenGrant:
        """An online token: the app keeps only its `associated_user` (who the staff member
        is, for the audit trail), never the token; one attempt, it is not worth a wait."""
        return self._post(
            shop,
            {
                "grant_type": TOKEN_EXCHANGE_GRANT,
                "subject_token": id_token,
                "subject_token_type": ID_TOKEN_TYPE,
                "requested_token_type": ONLINE_TOKEN_TYPE,
            },
            attempts=1,
        )

    def exchange_code(self, shop: str, code: str) -> AccessTokenGrant:
        # Codes are single use: a retry after a lost response could only fail.
        return self._post(shop, {"code": code, "expiring": "1"}, attempts=1)

    def refresh(self, shop: str, refresh_token: str) -> AccessTokenGrant:
        # Shopify keeps the old refresh token valid until its replacement is used, so one
        # retry is safe; two attempts keep the refresh well inside the per-shop lease.
        return self._post(
            shop, {"grant_type": "refresh_token", "refresh_token": refresh_token}, attempts=2
        )

    def _post(self, shop: str, fields: dict[str, str], attempts: int = 3) -> AccessTokenGrant:
        body = {"client_id": self._api_key, "client_secret": self._api_secret, **fields}
        url = shop_url(self._template, shop, "/admin/oauth/access_token")
        response = send_with_retries(lambda: self._http.post(url, json=body), attempts=attempts)
        now = utcnow()
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code == 200:
            return AccessTokenGrant.from_response(payload, now)
        error = str(payload.get("error") or "") if isinstance(payload, dict) else ""
        description = payload.get("error_description") if isinstance(payload, dict) else None
        message = (
            f"token endpoint {response.status_code} {error}: {description or response.text[:200]}"
        )
        if error == "invalid_subject_token":
            raise InvalidSubjectToken(message, status=response.status_code, error=error)
        if error == "invalid_grant":
            raise InvalidGrant(message, status=response.status_code, error=error)
        if error == "invalid_client" or response.status_code == 401:
            raise InvalidClient(message, status=response.status_code, error=error)
        raise TokenEndpointError(message, status=response.status_code, error=error or None)
