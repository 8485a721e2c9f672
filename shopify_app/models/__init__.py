"""Typed SQLAlchemy models; every table but `shops` carries a `shop_id`."""

from .base import Base, utcnow
from .customer import Customer
from .data_request import DataRequest
from .discount_code import DiscountCode
from .oauth_state import OAuthState
from .order import Order, OrderLineItem, Refund
from .shop import Shop
from .sync_run import SyncRun
from .timeline_event import TimelineEvent
from .webhook_delivery import WebhookDelivery

__all__ = [
    "Base",
    "Customer",
    "DataRequest",
    "DiscountCode",
    "OAuthState",
    "Order",
    "OrderLineItem",
    "Refund",
    "Shop",
    "SyncRun",
    "TimelineEvent",
    "WebhookDelivery",
    "utcnow",
]
