"""Program settings (B1): read with defaults, validate a submitted form, save with an audit
entry. A change bumps the program's version; referrals keep the terms they were made under."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.audit import record_audit
from shopify_app.db import get_or_insert
from shopify_app.i18n import Discount
from shopify_app.models import Program, Shop
from shopify_app.timeline.third_party import valid_event_type
from shopify_app.values import minor_units, money_text

KINDS = ("percentage", "fixed_amount")
TRIGGERS = ("paid", "fulfilled", "days_after_paid", "event")
APPROVALS = ("auto", "manual")
# The settings a referral copies when it is made (`Referral.terms`).
TERMS_FIELDS = (
    "friend_kind",
    "friend_value",
    "friend_min_subtotal_minor",
    "friend_once_per_customer",
    "friend_new_customers_only",
    "reward_kind",
    "reward_value",
    "reward_expiry_days",
    "reward_trigger",
    "reward_trigger_days",
    "conversion_event",
    "approval_mode",
    "approval_delay_hours",
    "cap_per_day",
    "cap_total",
)
SETTINGS_FIELDS = ("enabled", *TERMS_FIELDS)
# Settings that change what the advocates' shareable friend codes give.
FRIEND_CODE_FIELDS = (
    "friend_kind",
    "friend_value",
    "friend_min_subtotal_minor",
    "friend_once_per_customer",
    "friend_new_customers_only",  # implies once per customer in Shopify (`friend_spec`)
)


def shop_currency(shop: Shop) -> str:
    return shop.currency or "USD"


def get_program(session: Session, shop: Shop) -> Program:
    """The shop's program, created with the defaults (disabled) on first use."""
    program = session.scalar(select(Program).where(Program.shop_id == shop.id))
    if program is not None:
        return program
    program, _new = get_or_insert(session, Program, {"shop_id": shop.id}, {})
    return program


def settings_of(program: Program) -> dict[str, Any]:
    return {f: getattr(program, f) for f in SETTINGS_FIELDS}


def terms_of(program: Program) -> dict[str, Any]:
    return {f: getattr(program, f) for f in TERMS_FIELDS}


@dataclass
class SettingsForm:
    """A submitted settings form: the parsed values, or the errors by field."""

    values: dict[str, Any]
    errors: dict[str, str]

    @property
    def valid(self) -> bool:
        return not self.errors


def _money(text: str, currency: str) -> int:
    value = Decimal(text)
    if value < 0 or value != value.quantize(Decimal(1).scaleb(-minor_units(currency))):
        raise InvalidOperation
    return int(value.scaleb(minor_units(currency)))


def parse_settings(form: Mapping[str, str], currency: str) -> SettingsForm:
    """Validate the settings form; every problem is reported, each on its field."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def text(name: str) -> str:
        return (form.get(name) or "").strip()

    def choice(name: str, options: tuple[str, ...], problem: str) -> None:
        value = text(name)
        if value in options:
            values[name] = value
        else:
            errors[name] = problem

    def whole(name: str, low: int, high: int, label: str, *, blank: bool = False) -> None:
        value = text(name)
        if blank and value == "":
            values[name] = None
            return
        if not value.isdigit() or not low <= int(value) <= high:
            errors[name] = _(
                "%(label)s must be a whole number from %(low)s to %(high)s.",
                label=label,
                low=low,
                high=high,
            )
        else:
            values[name] = int(value)

    def offer(prefix: str, kind_problem: str, percentage: str, amount_problem: str) -> None:
        choice(f"{prefix}_kind", KINDS, kind_problem)
        raw = text(f"{prefix}_value")
        if values.get(f"{prefix}_kind") == "percentage":
            whole(f"{prefix}_value", 1, 100, percentage)
        elif values.get(f"{prefix}_kind") == "fixed_amount":
            try:
                amount = _money(raw, currency)
                if amount <= 0:
                    raise InvalidOperation
                values[f"{prefix}_value"] = amount
            except InvalidOperation:
                errors[f"{prefix}_value"] = amount_problem

    example = money_text(1000, currency)
    values["enabled"] = form.get("enabled") in ("on", "1", "true")
    offer(
        "friend",
        _("Choose how the friend discount is given."),
        _("The friend discount percentage"),
        _(
            "The friend discount amount must be a positive amount in %(currency)s, "
            "like %(example)s.",
            currency=currency,
            example=example,
        ),
    )
    try:
        values["friend_min_subtotal_minor"] = _money(text("friend_min_subtotal") or "0", currency)
    except InvalidOperation:
        errors["friend_min_subtotal"] = _(
            "The minimum order subtotal must be an amount in %(currency)s (0 for none).",
            currency=currency,
        )
    values["friend_once_per_customer"] = form.get("friend_once_per_customer") in ("on", "1")
    values["friend_new_customers_only"] = form.get("friend_new_customers_only") in ("on", "1")
    offer(
        "reward",
        _("Choose how the advocate reward is given."),
        _("The advocate reward percentage"),
        _(
            "The advocate reward amount must be a positive amount in %(currency)s, "
            "like %(example)s.",
            currency=currency,
            example=example,
        ),
    )
    whole("reward_expiry_days", 0, 3650, _("Reward expiry (days, 0 for never)"))
    choice("reward_trigger", TRIGGERS, _("Choose when the reward is given."))
    if values.get("reward_trigger") == "days_after_paid":
        whole("reward_trigger_days", 1, 365, _("Days after payment"))
    else:
        values["reward_trigger_days"] = 0
    if values.get("reward_trigger") == "event":
        event = text("conversion_event")
        if valid_event_type(event):
            values["conversion_event"] = event
        else:
            errors["conversion_event"] = _(
                "Name the conversion event: lowercase words joined by '_' or '.', "
                "like subscription_started."
            )
    else:
        values["conversion_event"] = None
    choice("approval_mode", APPROVALS, _("Choose how referrals are approved."))
    whole("approval_delay_hours", 0, 720, _("Approval delay (hours)"))
    whole("cap_per_day", 1, 10_000, _("Rewards per advocate per day"), blank=True)
    whole("cap_total", 1, 1_000_000, _("Rewards per advocate in total"), blank=True)
    return SettingsForm(values, errors)


def update_program(
    session: Session, shop: Shop, values: Mapping[str, Any], *, actor: str
) -> tuple[Program, list[str]]:
    """Apply validated settings; returns the program and the fields that changed.

    An unchanged submission changes nothing (no new version, no audit entry).
    """
    program = get_program(session, shop)
    before = settings_of(program)
    changed = [f for f in SETTINGS_FIELDS if f in values and values[f] != before[f]]
    if not changed:
        return program, []
    for field in changed:
        setattr(program, field, values[field])
    if any(f in TERMS_FIELDS for f in changed):
        program.version += 1
    record_audit(
        session,
        shop,
        actor=actor,
        action="program.updated",
        subject_type="program",
        subject_id=program.id,
        before={f: before[f] for f in changed},
        after={f: values[f] for f in changed},
    )
    return program, changed


def offer_text(program: Program, currency: str) -> Discount:
    """The friend offer in words: "15% off", "10.00 EUR off" (in the language it is shown in)."""
    return Discount(program.friend_kind, program.friend_value, currency)
