"""Attribution priority, every fraud rule with its evidence, identity normalisation, the
blocklist, codes and the settings form."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from shopify_app.referrals import attribution, blocklist, codes, fraud, identity
from shopify_app.referrals.program import parse_settings


@dataclass
class FakeOrder:
    discount_codes: list = field(default_factory=list)
    note_attributes: list = field(default_factory=list)
    landing_site: str | None = None


ADVOCATES = {"ADA-7Q3K9X2M": 1, "BEN-22222222": 2, "CY-33333333": 3}


def lookup(code: str) -> int | None:
    return ADVOCATES.get(code)


def test_attribution_priority_discount_code_then_note_attribute_then_landing_site():
    order = FakeOrder(
        discount_codes=[{"code": "ada-7q3k9x2m"}],
        note_attributes=[{"name": "referral_code", "value": "BEN-22222222"}],
        landing_site="/products/tea?ref=CY-33333333&utm_source=x",
    )
    found = attribution.attribute(order, lookup)
    assert (found.advocate_id, found.method, found.code) == (1, "discount_code", "ADA-7Q3K9X2M")
    assert [c.method for c in found.candidates] == [
        "discount_code",
        "note_attribute",
        "landing_site",
    ]
    assert found.evidence()["candidates"][1] == {
        "method": "note_attribute",
        "code": "BEN-22222222",
        "advocate_id": 2,
    }

    order.discount_codes = [{"code": "SUMMER10"}]  # not a referral code
    assert attribution.attribute(order, lookup).method == "note_attribute"
    order.note_attributes = [{"name": "gift_note", "value": "BEN-22222222"}]
    assert attribution.attribute(order, lookup).method == "landing_site"
    order.landing_site = "/?utm_source=x"
    assert attribution.attribute(order, lookup) is None


def test_manual_attribution_wins_over_everything():
    order = FakeOrder(discount_codes=[{"code": "ADA-7Q3K9X2M"}])
    found = attribution.attribute(order, lookup, manual_advocate_id=3)
    assert (found.advocate_id, found.method) == (3, "manual")
    assert found.candidates[0].advocate_id == 1  # the code is kept as evidence


def test_malformed_codes_are_ignored():
    order = FakeOrder(
        discount_codes=[{"code": "<script>"}, {"code": None}, {}],
        landing_site="not a url ?ref=%%%",
    )
    assert attribution.referral_signals(order) == []


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        ("J.Doe+1@gmail.com", "jdoe@gmail.com"),
        ("j.doe@googlemail.com", "jdoe@gmail.com"),
        ("John+shop@Outlook.com", "john@outlook.com"),
        ("j.doe+x@example.com", "j.doe+x@example.com"),  # unknown providers keep both
        ("not-an-email", None),
        ("a@b@c", None),
        ("+tag@gmail.com", None),
    ],
)
def test_canonical_email(email, canonical):
    assert identity.canonical_email(email) == canonical


def test_canonical_phone_and_address_and_ip():
    assert identity.canonical_phone("+358 40 123 4567") == "+358401234567"
    assert identity.canonical_phone("040 1234567", "FI") == "+358401234567"
    assert identity.canonical_phone("12") is None
    assert identity.canonical_address({"address1": "2 Engine Rd.", "zip": "02100"}) == (
        "2 engine rd 02100"
    )
    assert identity.canonical_ip(" 203.0.113.7 ") == "203.0.113.7"
    assert identity.canonical_ip("999.1.1.1") is None


def ctx(**overrides) -> fraud.FraudContext:
    base = {
        "advocate": fraud.Person(
            customer_id=1, email="ada.lovelace@gmail.com", phone="+358401234567"
        ),
        "friend": fraud.Person(
            customer_id=2,
            email="bob@example.com",
            phone="+358409999999",
            address={"address1": "5 Other St", "zip": "00100"},
            ip="198.51.100.9",
            user_agent="Firefox",
        ),
        "advocate_devices": [("203.0.113.7", "Chrome")],
        "advocate_addresses": [{"address1": "2 Engine Rd", "zip": "02100"}],
    }
    base.update(overrides)
    return fraud.FraudContext(**base)


def decisions(context) -> dict[str, fraud.RuleResult]:
    return {r.rule_id: r for r in fraud.evaluate(context)}


def test_a_clean_referral_passes_every_rule_and_says_so():
    results = decisions(ctx())
    assert set(results) == {r.rule_id for r in fraud.RULES}
    assert all(r.outcome == "pass" and r.explanation for r in results.values())


def friend(**changes) -> fraud.Person:
    values = {
        "customer_id": 2,
        "email": "bob@example.com",
        "phone": None,
        "address": None,
        "ip": None,
        "user_agent": None,
    }
    values.update(changes)
    return fraud.Person(**values)


@pytest.mark.parametrize(
    ("rule_id", "context", "evidence"),
    [
        ("self_referral.customer", ctx(friend=friend(customer_id=1)), {"friend_customer_id": 1}),
        (
            "self_referral.email",
            ctx(friend=friend(email="AdaLovelace+deals@gmail.com")),
            {"friend_normalised": "adalovelace@gmail.com"},
        ),
        (
            "self_referral.phone",
            ctx(friend=friend(phone="+358 40 123 4567")),
            {"friend_e164": "+358401234567"},
        ),
        (
            "self_referral.address",
            ctx(friend=friend(address={"address1": "2 ENGINE RD", "zip": "02100"})),
            {"friend_address": "2 engine rd 02100"},
        ),
        (
            "self_referral.device",
            ctx(friend=friend(ip="203.0.113.7", user_agent="Chrome")),
            {"friend_ip": "203.0.113.7"},
        ),
        ("existing_customer", ctx(friend_prior_orders=["#1001"]), {"prior_orders": ["#1001"]}),
        (
            "friend_already_referred",
            ctx(friend_other_referrals=[{"referral_id": 9, "advocate_id": 5, "status": "pending"}]),
            {"other_referrals": [{"referral_id": 9, "advocate_id": 5, "status": "pending"}]},
        ),
        (
            "cross_referral",
            ctx(reverse_referral={"referral_id": 4, "status": "completed"}),
            {"reverse_referral": {"referral_id": 4, "status": "completed"}},
        ),
        (
            "blocklist",
            ctx(blocklist_hits=[blocklist.Hit(3, "ip", "198.51.100.0/24", "198.51.100.9")]),
            {
                "hits": [
                    {
                        "entry_id": 3,
                        "kind": "ip",
                        "pattern": "198.51.100.0/24",
                        "matched": "198.51.100.9",
                    }
                ]
            },
        ),
        ("caps", ctx(cap_per_day=2, advocate_referrals_today=2), {"referrals_today": 2}),
        ("caps", ctx(cap_total=5, advocate_referrals_total=5), {"referrals_total": 5}),
    ],
)
def test_each_rule_blocks_with_its_evidence(rule_id, context, evidence):
    result = decisions(context)[rule_id]
    assert result.outcome == "block", result.explanation
    assert result.version >= 1
    for key, value in evidence.items():
        assert result.evidence[key] == value
    others = [r for r in fraud.evaluate(context) if r.rule_id != rule_id and r.blocks]
    assert others == []  # each case trips exactly its own rule


def test_the_email_rule_explains_the_normalisation():
    result = decisions(
        ctx(
            friend=friend(email="j.doe+1@gmail.com"),
            advocate=fraud.Person(customer_id=1, email="jdoe@gmail.com"),
        )
    )
    assert result["self_referral.email"].explanation == (
        "Friend email j.doe+1@gmail.com normalises to jdoe@gmail.com = the advocate's "
        "(jdoe@gmail.com)."
    )


def test_existing_customers_pass_when_the_program_accepts_them():
    result = decisions(ctx(friend_prior_orders=["#1001"], new_customers_only=False))
    assert result["existing_customer"].outcome == "pass"


def test_blocklist_entries_normalise_and_match():
    entries = [
        SimpleNamespace(
            id=1, kind="email", value=blocklist.normalise_entry("email", "*@Spam.test")
        ),
        SimpleNamespace(
            id=2, kind="phone", value=blocklist.normalise_entry("phone", "+1 202 555 0143")
        ),
        SimpleNamespace(id=3, kind="ip", value=blocklist.normalise_entry("ip", "198.51.100.7/24")),
        SimpleNamespace(
            id=4, kind="email", value=blocklist.normalise_entry("email", "jdoe@gmail.com")
        ),
    ]
    assert entries[2].value == "198.51.100.0/24"
    hits = blocklist.matches(
        entries,
        emails=["x@spam.test", "J.Doe+1@gmail.com"],
        phones=["+12025550143"],
        ips=["198.51.100.200", "10.0.0.1"],
    )
    assert sorted((h.entry_id, h.matched) for h in hits) == [
        (1, "x@spam.test"),
        (2, "+12025550143"),
        (3, "198.51.100.200"),
        (4, "jdoe@gmail.com"),
    ]
    for kind, bad in (("ip", "10.0.0.300/33"), ("phone", "call me"), ("email", "nobody")):
        with pytest.raises(blocklist.InvalidEntry):
            blocklist.normalise_entry(kind, bad)


def test_codes_are_readable_and_random():
    code = codes.advocate_code("Åsa-Maria")
    prefix, random_part = code.split("-")
    assert prefix == "ASAMARIA" and len(random_part) == codes.RANDOM_CHARS
    assert set(random_part) <= set(codes.ALPHABET)
    assert len({codes.advocate_code("Ada") for _ in range(200)}) == 200
    assert codes.advocate_code(None).startswith("FRIEND-")
    assert codes.normalise_code(" ada-7q3k ") == "ADA-7Q3K"
    assert codes.normalise_code("x") is None


VALID_FORM = {
    "enabled": "on",
    "friend_kind": "percentage",
    "friend_value": "15",
    "friend_min_subtotal": "20.00",
    "friend_once_per_customer": "on",
    "friend_new_customers_only": "on",
    "reward_kind": "fixed_amount",
    "reward_value": "10.50",
    "reward_expiry_days": "30",
    "reward_trigger": "days_after_paid",
    "reward_trigger_days": "14",
    "approval_mode": "manual",
    "approval_delay_hours": "0",
    "cap_per_day": "",
    "cap_total": "100",
}


def test_the_settings_form_parses_money_in_minor_units():
    form = parse_settings(VALID_FORM, "EUR")
    assert form.valid, form.errors
    assert form.values["friend_min_subtotal_minor"] == 2000
    assert form.values["reward_value"] == 1050
    assert form.values["cap_per_day"] is None and form.values["cap_total"] == 100
    assert parse_settings({**VALID_FORM, "reward_value": "1000"}, "JPY").values["reward_value"] == (
        1000
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("friend_value", "0", "percentage must be a whole number from 1 to 100"),
        ("friend_value", "150", "from 1 to 100"),
        ("reward_value", "-3", "positive amount in EUR"),
        ("reward_value", "1.005", "positive amount in EUR"),
        ("friend_kind", "free", "Choose how the friend discount is given"),
        ("reward_trigger_days", "0", "Days after payment"),
        ("approval_delay_hours", "abc", "Approval delay"),
        ("cap_total", "0", "in total"),
        ("friend_min_subtotal", "ten", "minimum order subtotal"),
    ],
)
def test_the_settings_form_explains_each_problem_on_its_field(field, value, message):
    form = parse_settings({**VALID_FORM, field: value}, "EUR")
    assert not form.valid
    assert message in form.errors[field]


def test_a_custom_conversion_event_can_be_the_reward_trigger():
    form = parse_settings(
        {**VALID_FORM, "reward_trigger": "event", "conversion_event": " subscription_started "},
        "EUR",
    )
    assert form.valid, form.errors
    assert form.values["reward_trigger"] == "event"
    assert form.values["conversion_event"] == "subscription_started"
    assert form.values["reward_trigger_days"] == 0
    # Another trigger forgets the event, so the program never holds a stale one.
    other = parse_settings({**VALID_FORM, "conversion_event": "subscription_started"}, "EUR")
    assert other.values["conversion_event"] is None


@pytest.mark.parametrize("event", ["", "Subscription Started", "a;drop", "x" * 70])
def test_an_event_trigger_needs_a_valid_event_type(event):
    form = parse_settings(
        {**VALID_FORM, "reward_trigger": "event", "conversion_event": event}, "EUR"
    )
    assert not form.valid
    assert "Name the conversion event" in form.errors["conversion_event"]
