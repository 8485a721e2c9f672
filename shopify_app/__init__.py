"""The Flask application: `create_app(config=None)` builds it; importing has no side effects."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, render_template, request, send_from_directory, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from . import client_address, db, i18n, jobs, js_messages, rate_limits, request_limits, wording
from .api import errors as api_errors
from .config import PROJECT_ROOT, load_config, validate_config
from .referrals import vocabulary
from .shopify import services
from .staff import actor_label
from .storefront.chat_embed import chat_embed_link


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment plus `config` overrides; refuses unsafe settings."""
    settings = load_config(overrides=config)
    validate_config(settings)
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    client_address.init_app(app)
    request_limits.init_app(app)
    db.init_app(app)
    services.init_app(app)

    jobs.init_app(app)

    # The blueprints load when an app is built, not when any `shopify_app` module is
    # imported: a worker or a domain test does not pay for the HTTP layer.
    from webhooks.views import bp as webhooks_bp

    from .admin.advocates import bp as advocates_bp
    from .admin.api_keys import bp as api_keys_bp
    from .admin.blocklist import bp as blocklist_bp
    from .admin.emails import bp as emails_bp
    from .admin.referrals import bp as referrals_bp
    from .admin.settings import bp as settings_bp
    from .admin.views import bp as admin_bp
    from .admin.webhooks import bp as outgoing_webhooks_bp
    from .api.views import bp as api_bp
    from .auth.embedded import add_security_headers
    from .auth.views import bp as auth_bp
    from .conversations.admin_views import bp as conversations_bp
    from .conversations.alert_views import bp as staff_alerts_bp
    from .conversations.image_views import bp as chat_images_bp
    from .conversations.pixel_views import bp as pixel_bp
    from .conversations.proxy_views import bp as chat_proxy_bp
    from .customers.actions import bp as customer_actions_bp
    from .customers.views import bp as customers_bp
    from .emails.views import bp as unsubscribe_bp
    from .inbound.views import bp as inbound_bp
    from .portal.views import bp as portal_bp
    from .storefront.proxy import bp as proxy_bp
    from .storefront.views import bp as storefront_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(outgoing_webhooks_bp)
    app.register_blueprint(referrals_bp)
    app.register_blueprint(advocates_bp)
    app.register_blueprint(emails_bp)
    app.register_blueprint(blocklist_bp)
    app.register_blueprint(customers_bp)
    app.register_blueprint(customer_actions_bp)
    app.register_blueprint(storefront_bp)
    app.register_blueprint(proxy_bp)
    app.register_blueprint(chat_proxy_bp)
    app.register_blueprint(pixel_bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(conversations_bp)
    app.register_blueprint(chat_images_bp)
    app.register_blueprint(staff_alerts_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(unsubscribe_bp)
    app.register_blueprint(api_keys_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(inbound_bp)

    @app.get("/favicon.ico")
    def favicon():
        # Browsers ask for it at the root whatever the page says; without it every page
        # opened on its own logs a 404.
        return send_from_directory(app.static_folder, "favicon.ico", max_age=86400)

    rate_limits.init_app(app)
    app.after_request(add_security_headers)
    app.register_error_handler(HTTPException, render_http_error)

    # Filters, not context globals: Jinja calls a filter directly, a global through
    # `Context.call` (about 5 µs a cell on the Customers table).
    i18n.init_app(app)  # the `money`, `amount`, `day` and `integer` filters, per language
    app.jinja_env.filters["referral_status"] = i18n.translated(vocabulary.referral_status)
    app.jinja_env.filters["referral_badge"] = vocabulary.referral_badge
    app.jinja_env.filters["reward_status"] = i18n.translated(vocabulary.reward_status)
    app.jinja_env.filters["email_status"] = i18n.translated(vocabulary.email_status)
    app.jinja_env.filters["email_badge"] = vocabulary.email_badge
    app.jinja_env.filters["email_detail"] = vocabulary.email_detail
    app.jinja_env.filters["email_kind"] = i18n.translated(vocabulary.email_kind)

    @app.context_processor
    def embedded_context() -> dict[str, Any]:
        return {
            "api_key": app.config["SHOPIFY_API_KEY"],
            "app_bridge_url": app.config["APP_BRIDGE_URL"],
            "polaris_url": app.config["POLARIS_URL"],
            "polaris_origin": url_origin(app.config["POLARIS_URL"]),
            "app_url": app_url,
            "embedded_fields": embedded_fields,
            "request_key": lambda: secrets.token_hex(16),
            "actor_label": actor_label,
            "chat_embed_link": chat_embed_link,
            "action_text": wording.action_text,
            "current_locale": i18n.current_locale,
            "js_messages": js_messages.js_messages,
            "nav_unread": nav_unread,
        }

    return app


def app_url(endpoint: str, **values: Any) -> str:
    """`url_for` that keeps the embedded context (`shop`, `host`, `embedded=1`) and Shopify's
    `locale` (when not English) on links."""
    shop = g.get("shop_domain")
    if shop:
        values.setdefault("shop", shop)
        values.setdefault("embedded", "1")
        if request.args.get("host"):
            values.setdefault("host", request.args["host"])
    if locale := i18n.locale_param():
        values.setdefault("locale", locale)
    return url_for(endpoint, **values)


def nav_unread() -> int | None:
    """Conversations with unread shopper messages, for the page's navigation (None outside
    a shop's admin page)."""
    from .conversations.staff_alerts import nav_unread_count

    return nav_unread_count(db.get_session(), g.get("shop"))


def url_origin(url: str | None) -> str | None:
    """`https://cdn.shopify.com` for a script's URL (to preconnect to); None if relative."""
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def embedded_fields() -> Markup:
    """Hidden inputs that keep the embedded context on a GET form (a GET form's action
    loses its own query string), so the search lands back inside the admin."""
    fields = {"shop": g.get("shop_domain"), "embedded": "1" if g.get("shop_domain") else None}
    if request.args.get("host"):
        fields["host"] = request.args["host"]
    fields["locale"] = i18n.locale_param()
    return Markup("").join(
        Markup('<input type="hidden" name="{}" value="{}">').format(k, v)
        for k, v in fields.items()
        if v
    )


def render_http_error(error: HTTPException):
    """Readable HTML for aborts (bad shop domain, bad HMAC, reused OAuth state, ...); an
    error object under the public API's prefix (an unknown URL or method there)."""
    if api_errors.is_api_request():
        return api_errors.error_response(api_errors.http_error(error))
    return (
        render_template(
            "error.html", title=f"{error.code} {error.name}", message=error.description
        ),
        error.code or 500,
    )
