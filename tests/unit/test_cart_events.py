"""Cart events (F2) without a database: the 41-character rule, the event's checks, the
message's sentence and payload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shopify_app.conversations import cart_events
from shopify_app.conversations.cart_events import CartEventRefused, parse_event

NOW = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
GIFT = "First flush Darjeeling gift set with two cups"


def good(**change):
    event = {
        "shop_key": "1.x",
        "token": "t",
        "id": "sh-1",
        "name": "product_added_to_cart",
        "timestamp": (NOW - timedelta(minutes=1)).isoformat(),
        "title": "Teapot",
        "quantity": 2,
        "currency": "EUR",
        "subtotal": "98.00",
        "lines": [{"title": "Teapot", "quantity": 2}],
    }
    event.update(change)
    return event


def test_the_41_character_rule():
    assert cart_events.title_shown("x" * 40) == "x" * 40
    assert cart_events.title_shown("x" * 41) is None
    assert cart_events.title_shown(GIFT) is None
    assert cart_events.title_shown("") is None and cart_events.title_shown(None) is None
    assert cart_events.line_title("x" * 40) == "x" * 40
    assert cart_events.line_title("x" * 41) == "x" * 39 + "…"
    assert len(cart_events.line_title("x" * 80)) == 40


def test_sentences_and_payload():
    added = parse_event(good(), now=NOW)
    assert cart_events.body_text(added) == "Added Teapot to the cart (2 items, €98.00)"
    long = parse_event(
        good(title=GIFT, quantity=1, lines=[{"title": GIFT, "quantity": 1}], subtotal="39.90"),
        now=NOW,
    )
    assert cart_events.body_text(long) == "Added a product to the cart (1 item, €39.90)"
    payload = cart_events.payload(long)
    assert payload == {
        "event": "added",
        "product_title": None,
        "quantity": 1,
        "currency": "EUR",
        "subtotal": "39.90",
        "lines": [{"title": cart_events.line_title(GIFT), "quantity": 1}],
        "occurred_at": "2026-12-05T03:59:00Z",
    }
    removed = parse_event(good(name="product_removed_from_cart", quantity=1), now=NOW)
    assert cart_events.body_text(removed).startswith("Removed Teapot from the cart")
    viewed = parse_event(good(name="cart_viewed", title=None, quantity=0), now=NOW)
    assert cart_events.body_text(viewed) == "Viewed the cart (2 items, €98.00)"
    assert cart_events.money_text(Decimal("5.00"), "SEK") == "5.00 SEK"


def test_text_is_tidied_and_empty_lines_dropped():
    parsed = parse_event(
        good(
            title="  Green \x00 tea\n",
            lines=[{"title": "Green tea", "quantity": 1}, {"title": "Gone", "quantity": 0}],
        ),
        now=NOW,
    )
    assert parsed.title == "Green tea" and parsed.lines == (("Green tea", 1),)
    assert parsed.subtotal == Decimal("98.00")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"name": "page_viewed"}, 422),
        ({"quantity": 2.0}, 422),
        ({"quantity": 1000}, 422),
        ({"subtotal": "98"}, None),
        ({"subtotal": "098.5"}, None),
        ({"subtotal": "1000000000.00"}, 422),
        ({"subtotal": "NaN"}, 422),
        ({"currency": "eur"}, 422),
        ({"currency": None}, 422),
        ({"timestamp": (NOW + timedelta(days=2)).isoformat()}, 422),
        ({"lines": None}, 422),
        ({"id": ""}, 422),
        ({"title": None}, 422),
        ({"title": ""}, None),  # shown as "a product"
    ],
)
def test_each_field(change, status):
    if status is None:
        parse_event(good(**change), now=NOW)
        return
    with pytest.raises(CartEventRefused) as refused:
        parse_event(good(**change), now=NOW)
    assert refused.value.status == status


def test_a_body_that_is_not_an_object_is_400():
    for body in (None, [], "x", 3):
        with pytest.raises(CartEventRefused) as refused:
            parse_event(body, now=NOW)
        assert refused.value.status == 400
