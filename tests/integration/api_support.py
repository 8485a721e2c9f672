"""Helpers for the public API's live tests: real keys (made by the key service, as the
Settings page makes them), requests with them."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from shopify_app.api import keys
from shopify_app.db import get_session
from shopify_app.models import Shop

from .webhook_support import install


def make_key(live, shop_domain: str, access: str = "write", name: str = "Zapier") -> str:
    """A new key of the installed shop; the secret as its owner copies it."""
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == shop_domain)).one()
        made = keys.create_key(session, shop, name=name, access=access, actor="staff:501")
        session.commit()
        return made.secret


class Api:
    """Calls to `/api/v1` with one key."""

    def __init__(self, live, secret: str | None):
        self.live = live
        self.secret = secret

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        return {**headers, **(extra or {})}

    def url(self, path: str) -> str:
        return f"{self.live.app_url}/api/v1{path}"

    def get(self, path: str, **params) -> httpx.Response:
        return self.live.http.get(self.url(path), params=params, headers=self.headers())

    def post(self, path: str, body=None, *, headers=None, content=None) -> httpx.Response:
        if content is not None:
            return self.live.http.post(
                self.url(path), content=content, headers=self.headers(headers)
            )
        return self.live.http.post(self.url(path), json=body, headers=self.headers(headers))


def api_for(live, shop_domain: str, access: str = "write", name: str = "Zapier") -> Api:
    install(live, shop_domain)
    return Api(live, make_key(live, shop_domain, access, name))
