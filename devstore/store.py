"""The devstore's state: shops, staff, installs, codes and tokens, behind one lock.

Kept in memory; `referrals devstore` (what `make dev` runs) also keeps it on disk
(`devstore/persistence.py`), so a restart continues where it stopped, as Shopify would:
issued tokens stay valid, order numbers and ids never repeat. The tests keep it in memory.
"""

from __future__ import annotations

import secrets
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .cost import LeakyBucket
from .theme import AppEmbedState


def now() -> datetime:
    return datetime.now(UTC)


class Sequence:
    """A thread-safe counter whose next value can be read, so it can be saved and resumed
    (`itertools.count` cannot be read)."""

    def __init__(self, start: int):
        self._next = start
        self._lock = threading.Lock()

    def __iter__(self) -> Sequence:
        return self

    def __next__(self) -> int:
        with self._lock:
            value = self._next
            self._next += 1
        return value

    def peek(self) -> int:
        return self._next

    def resume_at(self, value: int) -> None:
        """Never hand out a value below `value` (a restored state's next value)."""
        with self._lock:
            self._next = max(self._next, value)


def shopify_shop_id(domain: str) -> int:
    """A shop's numeric id (GraphQL `shop.id`, the Shop resource's `id`, compliance payloads'
    `shop_id`): stable across restarts, like Shopify's."""
    return zlib.crc32(domain.encode()) or 1


@dataclass
class Staff:
    id: int
    first_name: str
    last_name: str
    email: str
    account_owner: bool = False


@dataclass
class DevWebPixel:
    """The app's web pixel on a shop (`webPixelCreate`): its id and settings (a JSON text)."""

    id: int
    settings: str


# Shopify's `ShopLocale.name`: the language's English name.
LOCALE_NAMES = {"en": "English", "fi": "Finnish", "sv": "Swedish"}


@dataclass
class DevShop:
    domain: str
    name: str
    email: str
    currency: str = "EUR"
    timezone: str = "Europe/Helsinki"
    staff: list[Staff] = field(default_factory=list)
    installed_scopes: str | None = None  # None: the app is not installed
    preinstalled: bool = False  # managed install already done when the devstore starts
    # The theme's app embeds by block handle (theme editor > App embeds); none is on after
    # install, as on Shopify, and uninstalling leaves them as they were (not rendered then).
    app_embeds: dict[str, AppEmbedState] = field(default_factory=dict)
    # The app's web pixel (one per app and shop), loaded on every storefront page.
    web_pixel: DevWebPixel | None = None
    # The shop's languages (Settings > Languages; Admin API `shopLocales`, `read_locales`):
    # the primary one, and the others, all published. The storefront serves the primary at
    # its root and the others in their folder (/fi/, /en/: storefront.py).
    primary_locale: str = "en"
    other_locales: tuple[str, ...] = ("en", "fi")  # the primary among them is skipped

    def shop_locales(self) -> list[tuple[str, bool, bool]]:
        """[(locale, primary, published)], the primary first."""
        return [(self.primary_locale, True, True)] + [
            (code, False, True) for code in self.other_locales if code != self.primary_locale
        ]

    @property
    def handle(self) -> str:
        return self.domain.removesuffix(".myshopify.com")

    @property
    def shopify_id(self) -> int:
        return shopify_shop_id(self.domain)

    @property
    def installed(self) -> bool:
        return self.installed_scopes is not None


@dataclass
class IssuedToken:
    shop: str
    scopes: str
    expires_at: datetime
    revoked: bool = False


@dataclass
class IssuedRefreshToken:
    shop: str
    expires_at: datetime
    revoked: bool = False
    # Shopify keeps a rotated-out refresh token valid until its replacement is first used.
    replaced_by_access_token: str | None = None


class DevStoreState:
    def __init__(self, access_token_ttl: int = 3600, refresh_token_ttl: int = 30 * 86400):
        self.lock = threading.RLock()
        self.shops: dict[str, DevShop] = {}
        self.access_tokens: dict[str, IssuedToken] = {}
        self.refresh_tokens: dict[str, IssuedRefreshToken] = {}
        self.auth_codes: dict[str, tuple[str, datetime]] = {}
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.token_requests: list[dict] = []
        # Faults for reliability tests: the next N token-endpoint calls answer 503.
        self.token_endpoint_failures = 0
        # GraphQL faults, one consumed per request: "throttled", "429", "500", "503".
        self.graphql_faults: list[str] = []
        self.bucket_maximum = 2000.0
        self.bucket_restore_rate = 100.0
        self.buckets: dict[str, LeakyBucket] = {}
        self.graphql_requests: list[dict] = []
        self.shop_data: dict[str, object] = {}  # domain -> commerce.ShopData
        self.bulk_operations: dict[str, list] = {}  # domain -> [bulk.DevBulkOperation]
        self.carts: dict = {}  # cart token -> cart.DevCart (memory only)
        self.dispatcher = None  # webhooks.WebhookDispatcher, set by create_devstore
        # Called after changes made outside a request (bulk operations finishing), so a
        # persistent devstore saves them; requests are saved when they end.
        self.on_change: Callable[[], None] | None = None

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def emit(self, domain: str, topic: str, payload: dict, *, installed_only: bool = True) -> None:
        """Send the webhook Shopify would send for this change (if anyone subscribed)."""
        shop = self.shop(domain)
        if self.dispatcher is None or shop is None or (installed_only and not shop.installed):
            return
        self.dispatcher.emit(domain, topic, payload)

    def bucket(self, domain: str) -> LeakyBucket:
        with self.lock:
            if domain not in self.buckets:
                self.buckets[domain] = LeakyBucket(self.bucket_maximum, self.bucket_restore_rate)
            return self.buckets[domain]

    def add_shop(self, shop: DevShop) -> DevShop:
        with self.lock:
            self.shops[shop.domain] = shop
        return shop

    def shop(self, domain: str) -> DevShop | None:
        return self.shops.get(domain)

    def shop_by_handle(self, handle: str) -> DevShop | None:
        return self.shops.get(f"{handle}.myshopify.com")

    def install(self, domain: str, scopes: str) -> None:
        """Install the app, or change an installation's scopes (Shopify then sends
        `app/scopes_update`)."""
        with self.lock:
            shop = self.shops[domain]
            previous, shop.installed_scopes = shop.installed_scopes, scopes
        if previous is not None and previous != scopes:
            self.emit(
                domain,
                "app/scopes_update",
                {
                    "previous": [s for s in previous.split(",") if s],
                    "current": [s for s in scopes.split(",") if s],
                    "updated_at": now().isoformat(),
                },
            )

    def uninstall(self, domain: str) -> None:
        with self.lock:
            shop = self.shops[domain]
            shop.installed_scopes = None
            shop.web_pixel = None  # an uninstalled app's pixel goes with it
            self.emit(
                domain,
                "app/uninstalled",
                {
                    "id": shop.shopify_id,
                    "name": shop.name,
                    "email": shop.email,
                    "domain": domain,
                    "myshopify_domain": domain,
                    "currency": shop.currency,
                    "iana_timezone": shop.timezone,
                },
                installed_only=False,
            )
            for token in self.access_tokens.values():
                if token.shop == domain:
                    token.revoked = True
            for refresh in self.refresh_tokens.values():
                if refresh.shop == domain:
                    refresh.revoked = True

    def new_code(self, domain: str) -> str:
        code = secrets.token_hex(16)
        with self.lock:
            self.auth_codes[code] = (domain, now() + timedelta(minutes=1))
        return code

    def take_code(self, domain: str, code: str) -> bool:
        with self.lock:
            entry = self.auth_codes.pop(code, None)
        return entry is not None and entry[0] == domain and entry[1] > now()

    def issue_tokens(self, domain: str, *, expiring: bool) -> dict:
        shop = self.shops[domain]
        access = "shpat_" + secrets.token_hex(16)
        with self.lock:
            expires = now() + timedelta(seconds=self.access_token_ttl)
            self.access_tokens[access] = IssuedToken(
                domain,
                shop.installed_scopes or "",
                expires if expiring else now() + timedelta(days=3650),
            )
            body = {"access_token": access, "scope": shop.installed_scopes or ""}
            if expiring:
                refresh = "shprt_" + secrets.token_hex(16)
                self.refresh_tokens[refresh] = IssuedRefreshToken(
                    domain, now() + timedelta(seconds=self.refresh_token_ttl)
                )
                body.update(
                    expires_in=self.access_token_ttl,
                    refresh_token=refresh,
                    refresh_token_expires_in=self.refresh_token_ttl,
                )
        return body

    def issue_online_token(self, domain: str, user_id: str) -> dict | None:
        """An online (per-user) access token, as token exchange answers with
        `requested_token_type=online-access-token`: 24 h, with the staff member's identity."""
        shop = self.shops[domain]
        staff = next((s for s in shop.staff if str(s.id) == user_id), None)
        if staff is None:
            return None
        access = "shpua_" + secrets.token_hex(16)
        with self.lock:
            self.access_tokens[access] = IssuedToken(
                domain, shop.installed_scopes or "", now() + timedelta(days=1)
            )
        return {
            "access_token": access,
            "scope": shop.installed_scopes or "",
            "expires_in": 86400,
            "associated_user_scope": shop.installed_scopes or "",
            "associated_user": {
                "id": staff.id,
                "first_name": staff.first_name,
                "last_name": staff.last_name,
                "email": staff.email,
                "email_verified": True,
                "account_owner": staff.account_owner,
                "locale": "en",
                "collaborator": False,
            },
        }

    def refresh(self, domain: str, refresh_token: str) -> dict | None:
        with self.lock:
            entry = self.refresh_tokens.get(refresh_token)
            if entry is None or entry.shop != domain or entry.revoked or entry.expires_at <= now():
                return None
            body = self.issue_tokens(domain, expiring=True)
            entry.replaced_by_access_token = body["access_token"]
            return body

    def check_access_token(self, domain: str, token: str | None) -> IssuedToken | None:
        with self.lock:
            entry = self.access_tokens.get(token or "")
            if entry is None or entry.shop != domain or entry.revoked or entry.expires_at <= now():
                return None
            for refresh in self.refresh_tokens.values():
                if refresh.replaced_by_access_token == token:
                    refresh.revoked = True
            return entry

    # Test and demo controls: what Shopify does on its own over time.
    def expire_access_tokens(self, domain: str) -> None:
        with self.lock:
            for entry in self.access_tokens.values():
                if entry.shop == domain:
                    entry.expires_at = now() - timedelta(seconds=1)

    def revoke_refresh_tokens(self, domain: str) -> None:
        with self.lock:
            for entry in self.refresh_tokens.values():
                if entry.shop == domain:
                    entry.revoked = True


def demo_state() -> DevStoreState:
    """The shops `make dev` starts with: two installed (managed install done), one fresh."""
    state = DevStoreState()
    state.add_shop(
        DevShop(
            "demo-shop.myshopify.com",
            "Demo Shop",
            "owner@demo-shop.example",
            preinstalled=True,
            staff=[
                Staff(70000001, "Dana", "Owner", "dana@demo-shop.example", account_owner=True),
                Staff(70000002, "Sam", "Support", "sam@demo-shop.example"),
                Staff(70000003, "Kim", "Clerk", "kim@demo-shop.example"),
            ],
        )
    )
    state.add_shop(
        DevShop(
            "second-shop.myshopify.com",
            "Second Shop",
            "owner@second-shop.example",
            currency="USD",
            timezone="America/New_York",
            preinstalled=True,
            staff=[
                Staff(70000101, "Avery", "Owner", "avery@second-shop.example", account_owner=True),
                Staff(70000102, "Jordan", "Support", "jordan@second-shop.example"),
                Staff(70000103, "Casey", "Clerk", "casey@second-shop.example"),
            ],
        )
    )
    state.add_shop(
        DevShop(
            "fresh-shop.myshopify.com",
            "Fresh Shop",
            "owner@fresh-shop.example",
            staff=[
                Staff(70000201, "Robin", "Owner", "robin@fresh-shop.example", account_owner=True),
                Staff(70000202, "Alex", "Support", "alex@fresh-shop.example"),
                Staff(70000203, "Quinn", "Clerk", "quinn@fresh-shop.example"),
            ],
        )
    )
    return state
