"""Typed SQLAlchemy models; every table but `shops` carries a `shop_id`."""

from .api import ApiKey, IdempotentRequest
from .base import Base, utcnow
from .bulk_job import BulkJob
from .consent_request import ConsentRequest
from .conversation import Conversation, ConversationMessage, SavedReply
from .conversion import Conversion
from .customer import Customer, CustomerCount
from .data_request import DataRequest
from .discount_code import DiscountCode
from .email_message import EmailMessage
from .email_suppression import EmailSuppression, SendQuota
from .oauth_state import OAuthState
from .order import Order, OrderLineItem, Refund
from .outgoing_webhook import OutgoingDelivery, OutgoingEndpoint, OutgoingEvent
from .redaction import Redaction
from .referral import (
    Advocate,
    AdvocateVisit,
    AuditEntry,
    BlocklistEntry,
    FraudCheck,
    Program,
    Referral,
    ReferralClick,
    ReferralTransition,
    Reward,
)
from .shop import Shop
from .signup_confirmation import SignupConfirmation
from .staff_member import StaffMember
from .stored_file import StoredFile, StoredFileChunk
from .sync_run import SyncRun
from .timeline_event import TimelineEvent
from .webhook_delivery import WebhookDelivery

__all__ = [
    "Advocate",
    "AdvocateVisit",
    "ApiKey",
    "AuditEntry",
    "Base",
    "BlocklistEntry",
    "BulkJob",
    "ConsentRequest",
    "Conversation",
    "ConversationMessage",
    "Conversion",
    "Customer",
    "CustomerCount",
    "DataRequest",
    "DiscountCode",
    "EmailMessage",
    "EmailSuppression",
    "FraudCheck",
    "IdempotentRequest",
    "OAuthState",
    "Order",
    "OrderLineItem",
    "OutgoingDelivery",
    "OutgoingEndpoint",
    "OutgoingEvent",
    "Program",
    "Referral",
    "ReferralClick",
    "ReferralTransition",
    "Refund",
    "Redaction",
    "Reward",
    "SavedReply",
    "SendQuota",
    "Shop",
    "SignupConfirmation",
    "StaffMember",
    "StoredFile",
    "StoredFileChunk",
    "SyncRun",
    "TimelineEvent",
    "WebhookDelivery",
    "utcnow",
]
