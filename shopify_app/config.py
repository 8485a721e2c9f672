"""Settings from the environment, with embedded defaults for local runs.

`APP_ENV` picks the defaults: `development` (what `make dev` uses) points the app at the
devstore and generates local secrets; `test` is the same for the test suite; `production`
(the default when `APP_ENV` is unset, so a forgotten variable fails closed) has no defaults
for secrets and `validate_config` refuses to start while anything is missing or unsafe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from limits import parse_many

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENVIRONMENTS = ("development", "test", "production")

DEV_API_KEY = "devstore-referrals-app"
DEV_API_SECRET = "devstore-secret-not-for-production"  # noqa: S105 - a documented dev default
DEFAULT_SCOPES = (
    "read_customers,write_customers,read_orders,read_discounts,write_discounts,write_app_proxy,"
    "read_products,read_publications,write_pixels,read_customer_events,read_locales"
)
DEFAULT_API_VERSION = "2026-07"
DEFAULT_DEVSTORE_URL = "http://127.0.0.1:8081"
DEFAULT_APP_URL = "http://127.0.0.1:8080"
DEFAULT_SMTP_URL = "smtp://127.0.0.1:8025"  # the devstore's mailbox
DEFAULT_REALTIME_PORT = 8091
DEFAULT_REALTIME_URL = f"http://127.0.0.1:{DEFAULT_REALTIME_PORT}"  # `referrals realtime`
DEFAULT_MAIL_FROM = "Referrals <referrals@localhost>"
# Conversations' email loop (conversations/email_replies.py, inbound/): replies are sent from
# reply+<conversation>.<signature>@INBOUND_EMAIL_DOMAIN, and the mail provider posts the
# shopper's answers to /inbound/email signed with INBOUND_EMAIL_SECRET.
DEV_INBOUND_EMAIL_DOMAIN = "inbound.localhost"
DEV_INBOUND_EMAIL_SECRET = "devstore-inbound-secret-not-for-production"  # noqa: S105
MIN_INBOUND_SECRET_CHARS = 32

SHOPIFY_CDN_APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
SHOPIFY_CDN_POLARIS = "https://cdn.shopify.com/shopifycloud/polaris.js"


# name: (type, default, lowest, highest)
NUMBERS: dict[str, tuple[type, float, float, float]] = {
    "WEBHOOK_MAX_BYTES": (int, 1_048_576, 1024, 50 * 1_048_576),
    "ID_TOKEN_LEEWAY_SECONDS": (int, 10, 0, 60),
    # Offline tokens live an hour: a margin near that would refresh on every call.
    "TOKEN_REFRESH_MARGIN_SECONDS": (int, 300, 0, 1800),
    "HTTP_TIMEOUT_SECONDS": (float, 10, 1, 60),
    # How many workers may drain one shop's inbox backlog at once (PostgreSQL; SQLite has one
    # writer, so it always drains with one).
    "INBOX_DRAIN_WORKERS": (int, 4, 1, 32),
    # Proxies in front of the app whose X-Forwarded-For/-Proto are believed (client_address.py):
    # one platform router in production, none locally.
    "TRUSTED_PROXY_COUNT": (int, 1, 0, 5),
    # The inbound mail endpoint's body cap (413 above it): raw MIME, attachments included
    # (they are not stored, but a provider forwards them).
    "INBOUND_EMAIL_MAX_BYTES": (int, 10 * 1_048_576, 65_536, 50 * 1_048_576),
    # The public API's body cap (413 above it): a batch of 100 customers with attributes.
    "API_MAX_BODY_BYTES": (int, 1_048_576, 65_536, 10 * 1_048_576),
    # Request body cap (413 above it); webhooks have WEBHOOK_MAX_BYTES instead.
    "MAX_CONTENT_LENGTH": (int, 1_048_576, 65_536, 50 * 1_048_576),
    # Images staff send in a conversation (conversations/images.py): the upload's cap (413
    # above it), the most pixels one may declare (422 above it: a decompression bomb), the
    # longest side kept (larger ones are scaled down), how long a signed image URL opens it.
    "CHAT_IMAGE_MAX_BYTES": (int, 5 * 1_048_576, 65_536, 50 * 1_048_576),
    "CHAT_IMAGE_MAX_PIXELS": (int, 40_000_000, 1_000_000, 80_000_000),
    "CHAT_IMAGE_MAX_SIDE": (int, 2048, 256, 8192),
    "CHAT_IMAGE_URL_TTL_SECONDS": (int, 3600, 60, 7 * 86400),
    # The longest value any form field may carry (413 above it; request_limits.py).
    "FORM_FIELD_MAX_CHARS": (int, 4000, 256, 100_000),
    # A staff reply the shopper's widget has not reported seen this many minutes after it was
    # sent goes by email (the sweeper, workers/conversation_jobs.py), as if they were offline.
    "CONVERSATION_UNSEEN_EMAIL_MINUTES": (int, 5, 1, 1440),
    # Share by email from the storefront (storefront/share.py): emails a day per advocate,
    # per recipient across all advocates in a block of days, per client IP a day, per shop a day.
    "SHARE_LIMIT_PER_ADVOCATE": (int, 20, 1, 1000),
    "SHARE_LIMIT_PER_RECIPIENT": (int, 2, 1, 100),
    "SHARE_RECIPIENT_WINDOW_DAYS": (int, 7, 1, 365),
    "SHARE_LIMIT_PER_IP": (int, 40, 1, 100_000),
    "SHARE_LIMIT_PER_SHOP": (int, 1000, 1, 1_000_000),
    # The worker's resident work horse retires after this many jobs, or once its peak memory
    # passes this many MiB, and a fresh one is forked (workers/worker.py).
    "WORKER_HORSE_MAX_JOBS": (int, 1000, 1, 1_000_000),
    "WORKER_HORSE_MAX_MEMORY_MB": (int, 1024, 64, 1_048_576),
    # How long a finished export stays downloadable before the periodic job deletes it.
    "EXPORT_RETENTION_HOURS": (int, 24, 1, 720),
    # Outgoing webhooks (shopify_app/outgoing/delivery.py): how long an attempt waits for
    # the merchant's endpoint to accept the connection, then for each read of its answer.
    "OUTGOING_CONNECT_TIMEOUT_SECONDS": (float, 3, 0.1, 30),
    "OUTGOING_READ_TIMEOUT_SECONDS": (float, 10, 0.1, 60),
    "OUTGOING_TOTAL_TIMEOUT_SECONDS": (float, 20, 0.5, 120),
    # The realtime process (shopify_app/realtime/server.py): the port it listens on; how long
    # a shopper's connection counts as online without its process's heartbeat (a killed
    # process's shoppers go offline after this); how long after a connection closes the
    # shopper stays online, so that moving to another storefront page does not flicker.
    "REALTIME_PORT": (int, DEFAULT_REALTIME_PORT, 1, 65535),
    "REALTIME_PRESENCE_TTL_SECONDS": (float, 15, 1, 300),
    "REALTIME_PRESENCE_GRACE_SECONDS": (float, 3, 0, 60),
}
# Where a number's local (development/test) default differs from production's.
LOCAL_NUMBER_DEFAULTS: dict[str, float] = {"TRUSTED_PROXY_COUNT": 0}

# Rate limits of the public endpoints, per client address (`limits` notation: "60 per
# minute", several separated by ";"); rate_limits.py applies them.
RATE_LIMITS = {
    "RATE_LIMIT_REFERRAL_LINK": "60 per minute",
    "RATE_LIMIT_AUTH": "20 per minute",
    "RATE_LIMIT_PROXY": "60 per minute",
    # Storefront signups (E1), on top of the proxy's budget: per shopper address, and per
    # email or phone number signed up (each email signup sends a confirmation email).
    "RATE_LIMIT_SIGNUP": "10 per hour",
    "RATE_LIMIT_SIGNUP_ADDRESS": "3 per hour;5 per day",
    # The storefront chat (conversations/proxy_views.py), on top of the proxy's budget:
    # conversations started per shopper address, messages sent per conversation.
    "RATE_LIMIT_CHAT_START": "10 per hour",
    "RATE_LIMIT_CHAT_MESSAGE": "20 per minute;300 per hour",
    # The web pixel's cart events (conversations/pixel_views.py): per client address, and
    # per conversation (a shopper clicking "add" as fast as they can stays well under).
    "RATE_LIMIT_PIXEL": "120 per minute",
    "RATE_LIMIT_PIXEL_EVENT": "30 per minute;500 per hour",
    # The public API (/api/v1): per API key, and per shop across all its keys.
    "RATE_LIMIT_API_KEY": "600 per minute",
    "RATE_LIMIT_API_SHOP": "1200 per minute",
}


class ConfigError(RuntimeError):
    """The configuration cannot run; the message lists every problem at once."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "Refusing to start with these settings:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def parse_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError([f"not a boolean: {value!r}"])


def _split_keys(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def _local_encryption_key(instance_path: Path) -> str:
    """A Fernet key kept in `instance/` so local token encryption survives restarts."""
    key_file = instance_path / "encryption.key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def default_instance_path(environ: Mapping[str, str]) -> Path:
    """Where local state lives: `INSTANCE_PATH`, else `instance/` in the project."""
    return Path(environ.get("INSTANCE_PATH") or PROJECT_ROOT / "instance")


def load_config(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the settings dict from `environ` (default `os.environ`) and explicit overrides."""
    env = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    app_env = str(overrides.get("APP_ENV") or env.get("APP_ENV") or "production")
    local = app_env in ("development", "test")
    instance_path = Path(overrides.get("INSTANCE_PATH") or default_instance_path(env))
    devstore_url = env.get("DEVSTORE_URL", DEFAULT_DEVSTORE_URL).rstrip("/")

    def setting(name: str, local_default: str | None = None, prod_default: str | None = None):
        if name in overrides:
            return overrides[name]
        if env.get(name):
            return env[name]
        return local_default if local else prod_default

    cfg: dict[str, Any] = {
        "APP_ENV": app_env,
        "INSTANCE_PATH": str(instance_path),
        "DATABASE_URL": setting("DATABASE_URL", f"sqlite:///{instance_path / 'referrals.sqlite3'}"),
        "REDIS_URL": setting("REDIS_URL", "", None),
        "SHOPIFY_API_KEY": setting("SHOPIFY_API_KEY", DEV_API_KEY),
        "SHOPIFY_API_SECRET": setting("SHOPIFY_API_SECRET", DEV_API_SECRET),
        "SHOPIFY_API_SECRET_OLD": setting("SHOPIFY_API_SECRET_OLD", "", ""),
        "SHOPIFY_APP_URL": setting("SHOPIFY_APP_URL", DEFAULT_APP_URL),
        "SCOPES": setting("SCOPES", DEFAULT_SCOPES, DEFAULT_SCOPES),
        "SHOPIFY_API_VERSION": setting(
            "SHOPIFY_API_VERSION", DEFAULT_API_VERSION, DEFAULT_API_VERSION
        ),
        "ENCRYPTION_KEY": setting("ENCRYPTION_KEY"),
        "SMTP_URL": setting("SMTP_URL", DEFAULT_SMTP_URL),
        "MAIL_FROM": setting("MAIL_FROM", DEFAULT_MAIL_FROM, DEFAULT_MAIL_FROM),
        "INBOUND_EMAIL_DOMAIN": setting("INBOUND_EMAIL_DOMAIN", DEV_INBOUND_EMAIL_DOMAIN),
        "INBOUND_EMAIL_SECRET": setting("INBOUND_EMAIL_SECRET", DEV_INBOUND_EMAIL_SECRET),
        # The previous inbound secret, still accepted during a rotation: the reply addresses
        # in mails already sent were signed with it.
        "INBOUND_EMAIL_SECRET_OLD": setting("INBOUND_EMAIL_SECRET_OLD", "", ""),
        # Where the app reaches a shop (token endpoint, GraphQL): {shop} is the myshopify domain.
        "SHOPIFY_SHOP_URL": setting(
            "SHOPIFY_SHOP_URL", f"{devstore_url}/shops/{{shop}}", "https://{shop}"
        ),
        # The admin that frames the app; also the second frame-ancestors source.
        "SHOPIFY_ADMIN_URL": setting(
            "SHOPIFY_ADMIN_URL", devstore_url, "https://admin.shopify.com"
        ),
        "APP_BRIDGE_URL": setting(
            "APP_BRIDGE_URL", f"{devstore_url}/static/app-bridge.js", SHOPIFY_CDN_APP_BRIDGE
        ),
        "POLARIS_URL": setting("POLARIS_URL", SHOPIFY_CDN_POLARIS, SHOPIFY_CDN_POLARIS),
        # The realtime process's public URL, as the browser (widget and admin) reaches it.
        "REALTIME_URL": setting(
            "REALTIME_URL",
            f"http://127.0.0.1:{env.get('REALTIME_PORT') or DEFAULT_REALTIME_PORT}",
        ),
    }
    for name, (kind, default, _low, _high) in NUMBERS.items():
        raw = setting(name, str(LOCAL_NUMBER_DEFAULTS.get(name, default)), str(default))
        try:
            cfg[name] = kind(raw)
        except (TypeError, ValueError):
            cfg[name] = raw  # validate_config reports it
    cfg["INITIAL_IMPORT"] = parse_bool(setting("INITIAL_IMPORT", "true", "true"))
    # Switch the cart events' web pixel on for each shop (shopify_app/web_pixel.py); the tests
    # turn it off unless they test it, as they do the initial import.
    cfg["WEB_PIXEL_ACTIVATION"] = parse_bool(setting("WEB_PIXEL_ACTIVATION", "true", "true"))
    # Read each shop's primary language (shopify_app/shop_locale.py); off in tests likewise.
    cfg["SHOP_LOCALE_READ"] = parse_bool(setting("SHOP_LOCALE_READ", "true", "true"))
    # Outgoing webhook endpoints on http:// and on local or private addresses (a receiver on
    # 127.0.0.1): development and tests only; production refuses to start with it.
    cfg["OUTGOING_WEBHOOKS_ALLOW_LOCAL"] = parse_bool(
        setting("OUTGOING_WEBHOOKS_ALLOW_LOCAL", "true", "false")
    )
    for name, default in RATE_LIMITS.items():
        cfg[name] = setting(name, default, default)
    if not cfg["ENCRYPTION_KEY"] and local:
        cfg["ENCRYPTION_KEY"] = _local_encryption_key(instance_path)
    for key, value in overrides.items():
        cfg.setdefault(key, value)
    return cfg


def _valid_rate_limit(value: Any) -> bool:
    try:
        items = parse_many(value) if isinstance(value, str) else []
    except ValueError:
        return False
    return bool(items) and all(item.amount >= 1 for item in items)


def validate_config(cfg: Mapping[str, Any]) -> None:
    """Raise `ConfigError` listing every problem; production gets the strict checks."""
    problems: list[str] = []
    if cfg.get("APP_ENV") not in ENVIRONMENTS:
        problems.append(
            f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {cfg.get('APP_ENV')!r}"
        )
    keys = _split_keys(cfg.get("ENCRYPTION_KEY") or "")
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            problems.append("ENCRYPTION_KEY is not a valid Fernet key (32 url-safe base64 bytes)")
            break
    for name, (kind, _default, low, high) in NUMBERS.items():
        value = cfg.get(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            problems.append(f"{name} must be a {kind.__name__} from {low} to {high}, not {value!r}")
    for name in RATE_LIMITS:
        if not _valid_rate_limit(cfg.get(name)):
            problems.append(
                f"{name} must be a rate limit like '60 per minute', not {cfg.get(name)!r}"
            )
    if (
        cfg.get("SHOPIFY_API_KEY") != DEV_API_KEY
        and cfg.get("SHOPIFY_API_SECRET") == DEV_API_SECRET
    ):
        problems.append(
            "SHOPIFY_API_SECRET is the public development default but SHOPIFY_API_KEY is not"
        )
    if "{shop}" not in (cfg.get("SHOPIFY_SHOP_URL") or ""):
        problems.append("SHOPIFY_SHOP_URL must contain {shop}")
    if cfg.get("APP_ENV") == "production":
        required = (
            "SHOPIFY_API_KEY",
            "SHOPIFY_API_SECRET",
            "SHOPIFY_APP_URL",
            "DATABASE_URL",
            "REDIS_URL",
            "ENCRYPTION_KEY",
            "SMTP_URL",
            # Conversations are always on: staff replies go out by email and come back here.
            "INBOUND_EMAIL_DOMAIN",
            "INBOUND_EMAIL_SECRET",
            "REALTIME_URL",
        )
        missing = [name for name in required if not cfg.get(name)]
        if missing:
            problems.append("missing: " + ", ".join(missing))
        if cfg.get("SHOPIFY_API_KEY") == DEV_API_KEY:
            problems.append("SHOPIFY_API_KEY is the development default")
        if cfg.get("OUTGOING_WEBHOOKS_ALLOW_LOCAL"):
            problems.append(
                "OUTGOING_WEBHOOKS_ALLOW_LOCAL lets webhook endpoints reach private networks: "
                "development and tests only"
            )
        if DEV_API_SECRET in (cfg.get("SHOPIFY_API_SECRET"), cfg.get("SHOPIFY_API_SECRET_OLD")):
            problems.append("SHOPIFY_API_SECRET is the development default")
        inbound_secret = cfg.get("INBOUND_EMAIL_SECRET") or ""
        if DEV_INBOUND_EMAIL_SECRET in (inbound_secret, cfg.get("INBOUND_EMAIL_SECRET_OLD")):
            problems.append("INBOUND_EMAIL_SECRET is the development default")
        elif inbound_secret and len(inbound_secret) < MIN_INBOUND_SECRET_CHARS:
            problems.append(
                f"INBOUND_EMAIL_SECRET must be at least {MIN_INBOUND_SECRET_CHARS} characters"
            )
        if cfg.get("INBOUND_EMAIL_DOMAIN") == DEV_INBOUND_EMAIL_DOMAIN:
            problems.append("INBOUND_EMAIL_DOMAIN is the development default")
        for name in (
            "SHOPIFY_APP_URL",
            "SHOPIFY_SHOP_URL",
            "SHOPIFY_ADMIN_URL",
            "APP_BRIDGE_URL",
            "POLARIS_URL",
            "REALTIME_URL",
        ):
            value = cfg.get(name) or ""
            if value and not value.startswith("https://"):
                problems.append(f"{name} must use https:// in production (got {value!r})")
    if problems:
        if cfg.get("APP_ENV") == "production" and not os.environ.get("APP_ENV"):
            problems.append(
                "APP_ENV is unset, so production rules apply; for a local run use `make dev` "
                "or set APP_ENV=development"
            )
        raise ConfigError(problems)
