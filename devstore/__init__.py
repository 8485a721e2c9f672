"""devstore: a local stand-in for Shopify, built from Shopify's documented contracts.

The app talks to it exactly as to Shopify; only configuration (`SHOPIFY_SHOP_URL`,
`SHOPIFY_ADMIN_URL`, `APP_BRIDGE_URL`) points the app here.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, send_from_directory

from shopify_app.config import (
    DEFAULT_APP_URL,
    DEV_API_KEY,
    DEV_API_SECRET,
    DEV_INBOUND_EMAIL_SECRET,
)

from . import admin, graphql_api, oauth, storefront
from .app_config import RegisteredApp, load_registered_app
from .commerce import seed_demo
from .mailbox import Mailbox
from .persistence import StateStore, restore
from .store import DevStoreState, demo_state
from .webhooks import WebhookDispatcher


def create_devstore(
    *,
    registered_app: RegisteredApp | None = None,
    state: DevStoreState | None = None,
    state_dir: Path | None = None,
) -> Flask:
    """The devstore app. `state`: the shops to serve (the demo shops, seeded, when None).
    `state_dir`: keep the state on disk there and continue from what is saved (what
    `referrals devstore` does; `app.extensions["devstore_persistence"].close()` writes the
    last of it); without it the state lives in memory only, as in the tests."""
    if state is not None and state_dir is not None:
        raise ValueError("pass either the state or the directory it is saved in, not both")
    here = Path(__file__).parent
    app = Flask(
        __name__, template_folder=str(here / "templates"), static_folder=str(here / "static")
    )
    app.extensions["devstore_app"] = registered_app or load_registered_app(
        api_key=os.environ.get("SHOPIFY_API_KEY", DEV_API_KEY),
        api_secret=os.environ.get("SHOPIFY_API_SECRET", DEV_API_SECRET),
        app_url=os.environ.get("SHOPIFY_APP_URL", DEFAULT_APP_URL),
        inbound_email_secret=os.environ.get("INBOUND_EMAIL_SECRET", DEV_INBOUND_EMAIL_SECRET),
    )
    mailbox = Mailbox()
    saved = store = None
    if state_dir is not None:
        store = StateStore(state_dir)
        saved = store.load()
    undelivered = []
    if saved is not None:
        state = DevStoreState()
        undelivered = restore(saved, state, mailbox)
    elif state is None:
        state = demo_state()
        for shop in state.shops.values():
            seed_demo(state, shop.domain)
    if saved is None:  # a restored shop stays as it was left, uninstalled included
        for shop in state.shops.values():
            if shop.preinstalled and not shop.installed:
                state.install(shop.domain, app.extensions["devstore_app"].scopes)
    app.extensions["devstore_state"] = state
    app.extensions["devstore_mailbox"] = mailbox
    if state.dispatcher is None:
        state.dispatcher = WebhookDispatcher(
            app.extensions["devstore_app"],
            time_scale=float(os.environ.get("DEVSTORE_TIME_SCALE", "1")),
        )

    app.register_blueprint(oauth.bp)
    app.register_blueprint(graphql_api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(storefront.bp)
    app.add_url_rule(
        "/favicon.ico",
        "favicon",
        lambda: send_from_directory(app.static_folder, "favicon.ico", max_age=86400),
    )
    if store is not None:
        state.dispatcher.restore(undelivered)
        graphql_api.resume_bulk_operations(state)
        store.attach(state, mailbox, state.dispatcher)
        app.extensions["devstore_persistence"] = store
        app.teardown_request(lambda _exc: store.touch())
    return app
