"""Settings > API keys over HTTP with real ID tokens: a key is made (its secret shown
once), works, shows when it was last used, and is revoked; all audited; another shop
cannot revoke it."""

from __future__ import annotations

import re

from shopify_app.models import ApiKey, AuditEntry
from tests.conftest import SHOP_A, SHOP_B

from .api_support import Api
from .test_program_pages import get, post
from .webhook_support import install, rows


def test_a_key_is_made_shown_once_used_and_revoked(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    settings = get(live, "/settings")
    assert 'id="link-api-keys"' in settings.text
    page = get(live, "/settings/api-keys")
    assert page.status_code == 200 and 'id="empty"' in page.text

    refused = post(live, "/settings/api-keys", {"name": "  ", "access": "write"})
    assert refused.status_code == 422 and "Give the key a name" in refused.text

    made = post(live, "/settings/api-keys", {"name": "Klaviyo sync", "access": "write"})
    assert made.status_code == 200
    secret = re.search(r'id="new-secret"[^>]*value="(rk_[^"]+)"', made.text).group(1)
    assert made.headers["Cache-Control"] == "no-store"  # no cache keeps the secret
    again = get(live, "/settings/api-keys")
    assert secret not in again.text and "Klaviyo sync" in again.text
    assert "Never" in again.text  # not used yet

    [key] = rows(live.app, ApiKey)
    assert secret not in (key.secret_hash, key.prefix, key.name)
    api = Api(live, secret)
    assert api.get("/customers").status_code == 200
    assert "Never" not in get(live, "/settings/api-keys").text

    # shop B cannot revoke shop A's key
    other = post(live, f"/settings/api-keys/{key.id}/revoke", {}, shop=SHOP_B)
    assert other.status_code == 404
    assert api.get("/customers").status_code == 200

    revoked = post(live, f"/settings/api-keys/{key.id}/revoke", {})
    assert revoked.status_code == 200 and "is revoked" in revoked.text
    assert api.get("/customers").status_code == 401
    actions = [(a.action, a.actor) for a in rows(live.app, AuditEntry)]
    assert actions == [("api_key.created", "staff:501"), ("api_key.revoked", "staff:501")]


def test_a_read_key_is_made_from_the_page(live):
    install(live, SHOP_A)
    made = post(live, "/settings/api-keys", {"name": "Reports", "access": "read"})
    secret = re.search(r'value="(rk_[^"]+)"', made.text).group(1)
    reader = Api(live, secret)
    assert reader.get("/customers").status_code == 200
    assert reader.post("/customers", {"email": "ada@example.com"}).status_code == 403
