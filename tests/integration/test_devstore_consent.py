"""The devstore's consent mutations speak Shopify's contract: `userErrors` with field paths
and codes (unknown customer, a state a merchant may not set, SMS without a phone), the
customer's consent in the answer, and the consent webhook for each change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import Shop
from shopify_app.shopify import consent
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.errors import UserErrors
from shopify_app.shopify.services import shopify
from tests.conftest import SHOP_A

from .webhook_support import install, shop_id

AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def _update(live, shopify_id: int, channel: str, state: str):
    with live.app.app_context():
        session = get_session()
        shop = session.get(Shop, shop_id(live.app, SHOP_A))
        return consent.update_marketing_consent(
            admin_api(session, shop, shopify()), shopify_id, channel, state, AT
        )


@pytest.mark.parametrize(
    ("fields", "channel", "state", "error"),
    [
        (None, "email", "unsubscribed", (["customerId"], "INVALID", "Customer not found")),
        ({"email": "a@example.com"}, "sms", "unsubscribed", (["customerId"], "INVALID", "phone")),
        (
            {"email": "b@example.com"},
            "email",
            "redacted",
            (["emailMarketingConsent", "marketingState"], "INCLUSION", "not included"),
        ),
    ],
)
def test_refusals_are_user_errors(live, fields, channel, state, error):
    install(live, SHOP_A)
    customer_id = (
        commerce.create_customer(live.state, SHOP_A, **fields).id if fields else 999_999_999
    )
    assert live.state.dispatcher.drain(10)
    sent = len(live.state.dispatcher.log)
    with pytest.raises(UserErrors) as refused:
        _update(live, customer_id, channel, state)
    [user_error] = refused.value.errors
    field, code, words = error
    assert user_error["field"] == field and user_error["code"] == code
    assert words in user_error["message"]
    assert live.state.dispatcher.drain(10)
    assert len(live.state.dispatcher.log) == sent  # a refusal sends no webhook


def test_an_unsubscribe_answers_the_customer_and_sends_the_consent_webhook(live):
    install(live, SHOP_A)
    dev = commerce.create_customer(
        live.state, SHOP_A, email="c@example.com", phone="+15550105050", sms_consent="subscribed"
    )
    answer = _update(live, dev.id, "sms", "unsubscribed")
    assert answer == consent.ConsentState("unsubscribed", None, AT)
    assert dev.sms_consent == "unsubscribed" and dev.sms_consent_updated_at == AT
    assert live.state.dispatcher.drain(10)
    topics = [entry["topic"] for entry in live.state.dispatcher.log]
    assert "customers_marketing_consent/update" in topics
