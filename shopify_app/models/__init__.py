"""Typed SQLAlchemy models; every table but `shops` carries a `shop_id`."""

from .base import Base, utcnow
from .oauth_state import OAuthState
from .shop import Shop
from .webhook_delivery import WebhookDelivery

__all__ = ["Base", "OAuthState", "Shop", "WebhookDelivery", "utcnow"]
