"""Sentences the app stores in English (a fraud rule's explanation, a referral's reason) are
shown in the page's language: matched against the registered messages, values carried over,
several joined sentences one by one; anything else (what staff typed) as it is."""

from __future__ import annotations

import pytest
from flask import Flask

import shopify_app.referrals.fraud  # noqa: F401  (registers the rules' explanations)
from shopify_app import i18n


@pytest.fixture(scope="module")
def app():
    app = Flask(__name__)
    i18n.init_app(app)
    return app


@pytest.mark.parametrize(
    ("stored", "finnish"),
    [
        (
            "The friend is the advocate's own customer account.",
            "Ystävä on suosittelijan oma asiakastili.",
        ),
        (
            "Blocklisted: eve@spam.test matches email *@spam.test; 1.2.3.4 matches ip 1.2.3.0/24",
            "Estolistalla: eve@spam.test vastaa kohtaa sähköposti *@spam.test; "
            "1.2.3.4 vastaa kohtaa IP-osoite 1.2.3.0/24",
        ),
        (
            "The friend's email a@x.com is similar to the advocate's (b@x.com): "
            "the same name at another domain.",
            "Ystävän sähköposti a@x.com muistuttaa suosittelijan sähköpostia (b@x.com): "
            "sama nimi eri verkkotunnuksessa.",
        ),
        (  # a flagged referral's reason: every flagging rule's explanation, joined
            "The friend is the advocate's own customer account. "
            "The advocate is within the program's caps.",
            "Ystävä on suosittelijan oma asiakastili. Suosittelija on ohjelman rajojen sisällä.",
        ),
        ("Ben told Bob about the shop first", "Ben told Bob about the shop first"),
        ("", ""),
    ],
)
def test_stored_sentences_in_finnish_and_english(app, stored, finnish):
    with app.test_request_context("/?locale=fi"):
        assert i18n.stored_text(stored) == finnish
    with app.test_request_context("/"):
        assert i18n.stored_text(stored) == stored  # English: byte for byte what was stored


def test_a_value_cannot_smuggle_markup_or_placeholders(app):
    """The values are the stored text's own, put into the translation as they are."""
    stored = "Order <b>%(x)s</b> was cancelled."
    with app.test_request_context("/?locale=fi"):
        assert i18n.stored_text(stored) == "Tilaus <b>%(x)s</b> peruttiin."
