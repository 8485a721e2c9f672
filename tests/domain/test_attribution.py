"""Attribution on stored orders: which signal names the advocate, and the evidence kept."""

from __future__ import annotations

import pytest

from shopify_app.referrals import attribution
from shopify_app.sync import order_flow

from .. import factories
from . import queries

pytestmark = pytest.mark.program


def test_every_signal_is_read_in_priority_order(session, shop):
    order = factories.order(
        session,
        shop,
        discount_codes=[{"code": "code-a"}],
        note_attributes=[{"name": "Referral", "value": "code-b"}, {"name": "gift", "value": "x"}],
        landing_site="/products/tea?utm=x&ref=code-c",
    )
    assert attribution.referral_signals(order) == [
        ("discount_code", "CODE-A"),
        ("note_attribute", "CODE-B"),
        ("landing_site", "CODE-C"),
    ]


def test_the_advocates_code_as_discount_code_wins_over_a_cart_attribute(session, shop):
    by_code = factories.advocate(session, shop)
    by_note = factories.advocate(session, shop)
    payload = factories.order_payload(
        by_note.code,
        discount_codes=[{"code": by_code.code.lower(), "amount": "10.00", "type": "fixed_amount"}],
    )
    order_flow.apply_order(session, shop, payload)
    [referral] = queries.referrals(session, shop)
    assert (referral.advocate_id, referral.attribution) == (by_code.id, "discount_code")
    assert referral.attribution_evidence["candidates"] == [
        {"method": "discount_code", "code": by_code.code, "advocate_id": by_code.id},
        {"method": "note_attribute", "code": by_note.code, "advocate_id": by_note.id},
    ]


def test_an_unknown_first_signal_falls_through_to_a_known_one(session, shop):
    advocate = factories.advocate(session, shop)
    payload = factories.order_payload(
        None,
        discount_codes=[{"code": "SUMMER-SALE", "amount": "5.00", "type": "fixed_amount"}],
        landing_site=f"/?ref={advocate.code}",
    )
    order_flow.apply_order(session, shop, payload)
    [referral] = queries.referrals(session, shop)
    assert (referral.advocate_id, referral.attribution) == (advocate.id, "landing_site")
    assert referral.attribution_evidence["candidates"][0] == {
        "method": "discount_code",
        "code": "SUMMER-SALE",
        "advocate_id": None,
    }


def test_another_shops_advocate_code_attributes_nothing(session, shop):
    elsewhere = factories.shop(session)
    stranger = factories.advocate(session, elsewhere)
    order_flow.apply_order(session, shop, factories.order_payload(stranger.code))
    assert queries.referrals(session, shop) == []


def test_a_code_that_is_not_a_code_is_no_signal(session, shop):
    order = factories.order(
        session, shop, note_attributes=[{"name": "ref", "value": "no spaces allowed!"}]
    )
    assert attribution.referral_signals(order) == []


def test_a_manual_assignment_wins_over_every_signal(session, shop):
    order = factories.order(session, shop, discount_codes=[{"code": "SOMEONE"}])
    found = attribution.attribute(order, {"SOMEONE": 5}.get, manual_advocate_id=9)
    assert (found.advocate_id, found.method) == (9, "manual")
    assert found.candidates[0].advocate_id == 5
