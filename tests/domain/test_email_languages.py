"""Emails in the recipient's language (G3): the reward email to a shopper who chatted in
Finnish on the storefront is Finnish (words, date and money formats); to anyone else it stays
in English, word for word as before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopify_app.i18n import email_locale
from shopify_app.models import Conversation
from shopify_app.referrals import reward_email

from .. import factories


@pytest.fixture
def shop(session):
    shop = factories.shop(session, currency="EUR", name="Kahvila")
    factories.program(session, shop)
    return shop


def _reward(session, shop, customer, code="KIITOS-1"):
    advocate = factories.advocate(session, shop, customer)
    order = factories.order(session, shop, currency="EUR")
    referral = factories.referral(session, shop, advocate, order, status="completed")
    return factories.reward(
        session,
        shop,
        referral,
        kind="fixed_amount",
        value=1250,
        currency="EUR",
        code=code,
        expires_at=datetime(2027, 3, 7, 12, tzinfo=UTC),
    )


def _chatted_in(session, shop, customer, locale):
    session.add(
        Conversation(
            shop_id=shop.id,
            customer_id=customer.id,
            email=customer.email,
            locale=locale,
            last_message_preview="",
        )
    )
    session.flush()


def test_a_finnish_shopper_gets_the_reward_email_in_finnish(session, shop):
    aino = factories.customer(session, shop, first_name="Aino", email="aino@example.com")
    _chatted_in(session, shop, aino, "fi-FI")
    message, queued = reward_email.queue_reward_email(
        session, shop, _reward(session, shop, aino), dedupe_key="t1"
    )
    assert queued
    assert message.subject == "Palkintosi kaupasta Kahvila: 12,50 € alennus"  # one line: spaces
    assert message.body_text.startswith("Hei Aino,\n")
    assert "Palkintosi: 12,50\xa0€ alennus seuraavasta tilauksestasi." in message.body_text
    assert "Koodisi: KIITOS-1" in message.body_text
    assert "Käytä se viimeistään 7. maaliskuuta 2027." in message.body_text
    assert "Thank you" not in message.body_text


def test_anyone_else_gets_it_in_english_as_before(session, shop):
    ada = factories.customer(session, shop, first_name=None, email="ada@example.com")
    message, _ = reward_email.queue_reward_email(
        session, shop, _reward(session, shop, ada), dedupe_key="t2"
    )
    assert message.subject == "Your reward from Kahvila: 12.50 EUR off"
    assert message.body_text == (
        "Hi there,\n\n"
        "A friend you referred to Kahvila just placed their order. Thank you!\n\n"
        "Your reward: 12.50 EUR off your next order.\n"
        "Your code: KIITOS-1\n"
        "Use it before 07 March 2027.\n\n"
        "The code works once, for you only: enter it at checkout.\n\n"
        "Kahvila"
    )


def test_the_email_language_is_the_shoppers_own_and_falls_back_to_english(session, shop):
    aino = factories.customer(session, shop)
    other = factories.customer(session, shop)
    _chatted_in(session, shop, aino, "fi")
    _chatted_in(session, shop, other, "sv-SE")  # no Swedish catalogue
    assert email_locale(session, shop, aino) == "fi"
    assert email_locale(session, shop, other) == "en"
    assert email_locale(session, shop, None) == "en"
    elsewhere = factories.shop(session)  # the same customer id in another shop says nothing
    assert email_locale(session, elsewhere, aino) == "en"


def test_the_language_the_customer_bought_in_comes_first(session, shop):
    """Shopify's `customer_locale` on an order is kept as the customer's language and picked
    before the chat's; a tag that is not a language is ignored; erasure forgets it."""
    from shopify_app.compliance import redact_customer
    from shopify_app.sync import orders

    aino = factories.customer(session, shop, first_name="Aino", email="aino@example.com")
    _chatted_in(session, shop, aino, "en-GB")
    assert email_locale(session, shop, aino) == "en"
    orders.upsert_order(
        session,
        shop,
        factories.order_payload(
            cid=aino.shopify_id, customer_locale="fi-FI", email="aino@example.com"
        ),
    )
    session.refresh(aino)
    assert aino.locale == "fi-FI"
    assert email_locale(session, shop, aino) == "fi"
    message, _ = reward_email.queue_reward_email(
        session, shop, _reward(session, shop, aino), dedupe_key="t3"
    )
    assert message.body_text.startswith("Hei ")  # the order's customer is "Ada" now

    orders.upsert_order(
        session,
        shop,
        factories.order_payload(cid=aino.shopify_id, customer_locale="<script>"),
    )
    session.refresh(aino)
    assert aino.locale == "fi-FI"  # not a language tag: kept as it was

    other = factories.customer(session, shop)
    orders.upsert_order(
        session, shop, factories.order_payload(cid=other.shopify_id, customer_locale="sv-SE")
    )
    session.refresh(other)
    assert other.locale == "sv-SE" and email_locale(session, shop, other) == "en"

    redact_customer(session, shop, {"customer": {"id": aino.shopify_id}, "orders_to_redact": []})
    session.refresh(aino)
    assert aino.locale is None


def test_the_shops_primary_language_comes_before_english(session, shop):
    """A customer with no language of their own and no chat gets the shop's primary language
    (Shopify's `shopLocales`, kept as `Shop.primary_locale`); their own comes first; only a
    language with a catalogue counts."""
    shop.primary_locale = "fi"
    aino = factories.customer(session, shop, first_name="Aino", email="aino@example.com")
    assert email_locale(session, shop, aino) == "fi"
    assert email_locale(session, shop, None) == "fi"
    message, _ = reward_email.queue_reward_email(
        session, shop, _reward(session, shop, aino), dedupe_key="p1"
    )
    assert message.subject == "Palkintosi kaupasta Kahvila: 12,50 € alennus"
    assert message.body_text.startswith("Hei Aino,\n")

    ada = factories.customer(session, shop, first_name="Ada", email="ada@example.com")
    ada.locale = "en"  # she bought in English
    message, _ = reward_email.queue_reward_email(
        session, shop, _reward(session, shop, ada, code="KIITOS-2"), dedupe_key="p2"
    )
    assert message.subject == "Your reward from Kahvila: 12.50 EUR off"

    sven = factories.customer(session, shop)
    _chatted_in(session, shop, sven, "sv-SE")  # no Swedish catalogue: the shop's language
    assert email_locale(session, shop, sven) == "fi"

    shop.primary_locale = "fi-FI"
    assert email_locale(session, shop, aino) == "fi"
    shop.primary_locale = "sv"  # no catalogue: English
    assert email_locale(session, shop, aino) == "en"
    shop.primary_locale = None  # not known (no read_locales, or not read yet): English
    assert email_locale(session, shop, aino) == "en"
