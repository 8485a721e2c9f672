"""The app as Shopify knows it: `shopify.app.toml` plus the URL and credentials of this run."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shopify_app.config import DEV_INBOUND_EMAIL_SECRET

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RegisteredApp:
    name: str
    handle: str
    api_key: str
    api_secret: str
    application_url: str
    redirect_urls: tuple[str, ...]
    scopes: str
    embedded: bool
    webhooks_api_version: str
    webhook_subscriptions: tuple[dict, ...]
    app_proxy_url: str | None = None  # the app's proxy URL, pointed at this run's app
    app_proxy_subpath: str | None = None
    # Where a mail provider posts the shoppers' mail for the app, and the secret it signs
    # with (the devstore's mailbox replies through it).
    inbound_email_url: str | None = None
    inbound_email_secret: str = DEV_INBOUND_EMAIL_SECRET

    @property
    def origin(self) -> str:
        parts = urlsplit(self.application_url)
        return f"{parts.scheme}://{parts.netloc}"


def load_registered_app(
    *,
    api_key: str,
    api_secret: str,
    app_url: str,
    toml_path: Path | None = None,
    inbound_email_secret: str = DEV_INBOUND_EMAIL_SECRET,
) -> RegisteredApp:
    """Read `shopify.app.toml`; like `shopify app dev`, point its URLs at this run's app."""
    data = tomllib.loads((toml_path or PROJECT_ROOT / "shopify.app.toml").read_text())
    declared = data["application_url"].rstrip("/")
    app_url = app_url.rstrip("/")
    redirects = tuple(
        url.replace(declared, app_url, 1) for url in data.get("auth", {}).get("redirect_urls", [])
    )
    webhooks = data.get("webhooks", {})
    return RegisteredApp(
        name=data.get("name", "App"),
        handle=data.get("handle", data.get("name", "app")).lower(),
        api_key=api_key,
        api_secret=api_secret,
        application_url=app_url,
        redirect_urls=redirects,
        scopes=data.get("access_scopes", {}).get("scopes", ""),
        embedded=bool(data.get("embedded", True)),
        webhooks_api_version=webhooks.get("api_version", ""),
        webhook_subscriptions=tuple(webhooks.get("subscriptions", [])),
        app_proxy_url=(
            proxy["url"].replace(declared, app_url, 1) if (proxy := data.get("app_proxy")) else None
        ),
        app_proxy_subpath=(data.get("app_proxy") or {}).get("subpath"),
        inbound_email_url=f"{app_url}/inbound/email",
        inbound_email_secret=inbound_email_secret,
    )
