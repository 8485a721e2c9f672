"""What a merchant reads instead of internal forms (shopify_app/wording.py)."""

from __future__ import annotations

import pytest

from shopify_app import wording
from shopify_app.referrals.fraud import RULES
from shopify_app.storefront.proxy import login_url
from shopify_app.wording import Names, Part

NAMES = Names(
    customers={10: "Ada Lovelace", 11: "Ben Bishop", 12: "Bob"},
    advocates={1: (10, "Ada Lovelace"), 2: (11, "Ben Bishop")},
    currency="EUR",
)


def text(parts: list[Part]) -> str:
    return "".join(p.text for p in parts)


def test_every_recorded_action_and_rule_has_words():
    for action, sentence in wording.ACTIONS.items():
        assert wording.action_text(action) == sentence
    assert wording.action_text("thing.got_done") == "Thing got done"
    for rule in RULES:
        assert wording.rule_title(rule.rule_id) == rule.title


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "Yes"),
        (False, "No"),
        (None, "—"),
        ([], "—"),
        ({}, "—"),
        (["#1001", "#1002"], "#1001; #1002"),
        ({"shopify": ["member"]}, "Shopify: member"),
        ("manual", "manual"),  # a note, say: words of a choice only for its field
        (20, "20"),
    ],
)
def test_plain_values_are_never_python_literals(value, shown):
    assert wording.plain_value(value) == shown


def test_evidence_names_people_and_formats_blocklist_hits():
    evidence = dict(
        wording.evidence(
            {
                "friend_customer_id": 12,
                "advocate_customer_id": 99,
                "hits": [
                    {"entry_id": 1, "kind": "email", "pattern": "*@x.test", "matched": "e@x.test"}
                ],
                "other_referrals": [{"referral_id": 7, "advocate_id": 2, "status": "completed"}],
                "advocate_devices": [["203.0.113.9", "Firefox"]],
                "new_customers_only": True,
                "prior_orders": [],
            },
            NAMES,
        )
    )
    assert evidence["Friend"] == [Part("Bob", "customers.detail", {"customer_id": 12})]
    assert text(evidence["Advocate"]) == "a customer no longer in the app"
    assert text(evidence["Blocklist matches"]) == "e@x.test matches the email entry *@x.test"
    assert evidence["Other referrals of the friend"][0] == Part(
        "Referral #7", "portal.referral", {"referral_id": 7}
    )
    assert text(evidence["Other referrals of the friend"]) == "Referral #7 (completed)"
    assert text(evidence["Advocate's devices"]) == "203.0.113.9 · Firefox"
    assert text(evidence["New customers only"]) == "Yes"
    assert text(evidence["Friend's earlier orders"]) == "—"


def test_history_causes_read_as_sentences_with_names():
    assert text(wording.cause_parts("reassigned:1->2", NAMES)) == (
        "Given to Ben Bishop instead of Ada Lovelace"
    )
    assert text(wording.cause_parts("attributed:discount_code", NAMES)) == (
        "Referral made: the friend used the advocate's discount code"
    )
    assert text(wording.cause_parts("rule:self_referral.email", NAMES)) == (
        "Blocked by the fraud rule “Same email (normalised)”"
    )
    assert text(wording.cause_parts("approved:automatic", NAMES)) == "Approved automatically"
    assert text(wording.cause_parts("something_new", NAMES)) == "Something new"


def test_changes_list_only_what_changed_with_names_and_money():
    rows = wording.changes(
        {"advocate_id": 1, "friend_min_subtotal_minor": 0, "enabled": False, "same": 1},
        {"advocate_id": 2, "friend_min_subtotal_minor": 5000, "enabled": True, "same": 1},
        NAMES,
    )
    shown = {r.label: (text(r.before), text(r.after)) for r in rows}
    assert shown == {
        "Advocate": ("Ada Lovelace", "Ben Bishop"),
        "Friend minimum order": ("0.00 EUR", "50.00 EUR"),
        "Program on": ("No", "Yes"),
    }
    [kind] = wording.changes({"reward_kind": "percentage"}, {"reward_kind": "fixed_amount"}, NAMES)
    assert (text(kind.before), text(kind.after)) == ("Percentage", "Fixed amount")
    [added] = wording.changes(None, {"note": "ring"}, NAMES)
    assert (added.label, added.before, text(added.after)) == ("Note", None, "ring")


@pytest.mark.parametrize(
    ("prefix", "url"),
    [
        ("/apps/referrals", "/account/login?return_url=%2Fapps%2Freferrals"),
        (
            "/shops/alpha.myshopify.com/apps/referrals",
            "/shops/alpha.myshopify.com/account/login"
            "?return_url=%2Fshops%2Falpha.myshopify.com%2Fapps%2Freferrals",
        ),
    ],
)
def test_the_storefront_login_link_comes_back_to_the_referral_page(prefix, url):
    assert login_url(prefix) == url
