"""Topic -> handler. Topics without a handler yet stay `pending` in the inbox, unlost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from shopify_app.models import Shop, WebhookDelivery

from . import lifecycle

Handler = Callable[[Session, Shop, Any, WebhookDelivery], None]

HANDLERS: dict[str, Handler] = {
    "app/uninstalled": lifecycle.app_uninstalled,
    "app/scopes_update": lifecycle.app_scopes_update,
}


def has_handler(topic: str) -> bool:
    return topic in HANDLERS


def handler_for(topic: str) -> Handler | None:
    return HANDLERS.get(topic)
