"""Fraud rules, explained (B7, H4). Each rule is a pure function of a `FraudContext` (built
from the database by `checks.fraud_context`) and returns its decision with the evidence it
compared, so a decision can be stored, shown side by side, exported and evaluated again.

A rule's `version` changes whenever its logic does; stored checks keep the version they ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shopify_app.i18n import N_, stored

from .blocklist import Hit
from .identity import canonical_address, canonical_email, canonical_phone


@dataclass(frozen=True)
class Person:
    customer_id: int | None
    email: str | None = None
    phone: str | None = None
    address: dict[str, Any] | None = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass
class FraudContext:
    advocate: Person
    friend: Person
    # The advocate's own devices (from their orders and their visits to the referral page)
    # as (ip, user agent) pairs, and their orders' shipping addresses.
    advocate_devices: list[tuple[str | None, str | None]] = field(default_factory=list)
    advocate_addresses: list[dict[str, Any]] = field(default_factory=list)
    new_customers_only: bool = True
    friend_prior_orders: list[str] = field(default_factory=list)  # order names before this one
    # Earlier orders of other customer records with the friend's email (a guest checkout, a
    # second record): the same person to the program, whatever Shopify's checkout allowed.
    friend_prior_orders_by_email: list[str] = field(default_factory=list)
    friend_other_referrals: list[dict[str, Any]] = field(default_factory=list)
    reverse_referral: dict[str, Any] | None = None  # the friend referred this advocate
    blocklist_hits: list[Hit] = field(default_factory=list)
    cap_per_day: int | None = None
    cap_total: int | None = None
    advocate_referrals_today: int = 0
    advocate_referrals_total: int = 0


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    version: int
    outcome: str  # pass | flag | block
    explanation: str
    evidence: dict[str, Any]

    @property
    def blocks(self) -> bool:
        return self.outcome == "block"

    @property
    def flags(self) -> bool:
        """A grey area: the referral is held for a person to review, not blocked."""
        return self.outcome == "flag"


def _result(rule, blocked: bool, explanation: str, *, flag: bool = False, **evidence) -> RuleResult:
    return RuleResult(
        rule.rule_id,
        rule.version,
        "block" if blocked else "flag" if flag else "pass",
        explanation,
        evidence,
    )


@dataclass(frozen=True)
class Rule:
    rule_id: str
    version: int
    title: str
    check: Callable[[Rule, FraudContext], RuleResult]

    def __call__(self, ctx: FraudContext) -> RuleResult:
        return self.check(self, ctx)


# The explanations, stored in English with each check (`stored`: pages show them translated).
_T = {
    key: stored(message)
    for key, message in {
        "own_account": N_("The friend is the advocate's own customer account."),
        "other_customer": N_("The friend is a different customer from the advocate."),
        "same_email": N_(
            "Friend email %(email)s normalises to %(normalised)s = the advocate's "
            "(%(advocate_email)s)."
        ),
        "other_email": N_("The friend's email differs from the advocate's once normalised."),
        "same_phone": N_("Friend phone %(phone)s is the advocate's number (%(advocate_phone)s)."),
        "other_phone": N_("The friend's phone differs from the advocate's (or one is missing)."),
        "same_address": N_("The order ships to an address the advocate uses (%(address)s)."),
        "other_address": N_("The order ships to an address the advocate has not used."),
        "same_device": N_(
            "The order came from the advocate's own device (IP %(ip)s, same browser)."
        ),
        "other_device": N_(
            "The order came from a different IP address and browser than the advocate's."
        ),
        "same_name": N_("the same name at another domain"),
        "one_letter": N_("names one letter apart at the same domain"),
        "similar_email": N_(
            "The friend's email %(email)s is similar to the advocate's (%(advocate_email)s): "
            "%(why)s."
        ),
        "not_similar": N_("The friend's email is not similar to the advocate's."),
        "shared_ip": N_(
            "The order came from an IP address the advocate also uses (%(ip)s), with another "
            "browser: perhaps one household."
        ),
        "not_shared_ip": N_(
            "The friend's IP address is not one the advocate uses with another browser."
        ),
        "existing_accepted": N_("The program accepts existing customers as friends."),
        "ordered_before": N_("The friend had already ordered (%(orders)s)."),
        "email_ordered_before": N_(
            "The friend's email %(email)s belongs to a customer who had already ordered "
            "(%(orders)s)."
        ),
        "new_customer": N_("The friend had not ordered before."),
        "already_referred": N_("The friend was already referred (referral #%(referral)s)."),
        "not_referred": N_("The friend has not been referred before."),
        "cross_referral": N_(
            "Cross referral: the friend referred this advocate (referral #%(referral)s)."
        ),
        "no_cross_referral": N_("The friend has not referred this advocate."),
        "blocklisted": N_("Blocklisted: %(hits)s"),
        "blocklist_hit": N_("%(matched)s matches %(kind)s %(pattern)s"),
        "not_blocklisted": N_("Nothing about the friend is on the blocklist."),
        # a blocklist entry's kind, inside "… matches email *@spam.test"
        "kind_email": N_("email"),
        "kind_phone": N_("phone"),
        "kind_ip": N_("ip"),
        "cap_day": N_("The advocate reached the cap of %(cap)s referrals per day."),
        "cap_total": N_("The advocate reached the cap of %(cap)s referrals in total."),
        "within_caps": N_("The advocate is within the program's caps."),
    }.items()
}


def _same_customer(rule: Rule, ctx: FraudContext) -> RuleResult:
    same = ctx.friend.customer_id is not None and ctx.friend.customer_id == ctx.advocate.customer_id
    return _result(
        rule,
        same,
        _T["own_account"] if same else _T["other_customer"],
        friend_customer_id=ctx.friend.customer_id,
        advocate_customer_id=ctx.advocate.customer_id,
    )


def _same_email(rule: Rule, ctx: FraudContext) -> RuleResult:
    friend, advocate = canonical_email(ctx.friend.email), canonical_email(ctx.advocate.email)
    same = friend is not None and friend == advocate
    if same:
        text = _T["same_email"] % {
            "email": ctx.friend.email,
            "normalised": friend,
            "advocate_email": ctx.advocate.email,
        }
    else:
        text = _T["other_email"]
    return _result(
        rule,
        same,
        text,
        friend_email=ctx.friend.email,
        friend_normalised=friend,
        advocate_email=ctx.advocate.email,
        advocate_normalised=advocate,
    )


def _same_phone(rule: Rule, ctx: FraudContext) -> RuleResult:
    friend, advocate = canonical_phone(ctx.friend.phone), canonical_phone(ctx.advocate.phone)
    same = friend is not None and friend == advocate
    return _result(
        rule,
        same,
        _T["same_phone"] % {"phone": ctx.friend.phone, "advocate_phone": advocate}
        if same
        else _T["other_phone"],
        friend_phone=ctx.friend.phone,
        friend_e164=friend,
        advocate_phone=ctx.advocate.phone,
        advocate_e164=advocate,
    )


def _same_address(rule: Rule, ctx: FraudContext) -> RuleResult:
    friend = canonical_address(ctx.friend.address)
    own = sorted({a for a in (canonical_address(x) for x in ctx.advocate_addresses) if a})
    same = friend is not None and friend in own
    return _result(
        rule,
        same,
        _T["same_address"] % {"address": friend} if same else _T["other_address"],
        friend_address=friend,
        advocate_addresses=own,
    )


def _same_device(rule: Rule, ctx: FraudContext) -> RuleResult:
    friend = (ctx.friend.ip, ctx.friend.user_agent)
    known = [list(d) for d in ctx.advocate_devices if d[0] and d[1]]
    same = bool(friend[0] and friend[1]) and list(friend) in known
    return _result(
        rule,
        same,
        _T["same_device"] % {"ip": friend[0]} if same else _T["other_device"],
        friend_ip=friend[0],
        friend_user_agent=friend[1],
        advocate_devices=known,
    )


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, stopping early once it exceeds `limit` (addresses are short)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def similar_emails(friend: str | None, advocate: str | None) -> str | None:
    """Why two normalised addresses look like one person's (None: they do not, or they are
    the same address, which `self_referral.email` blocks): the same name at another domain,
    or names of letters only one letter apart at the same domain (`ada.lovelace` and
    `ada.lovelance`). Names with digits are compared exactly: `customer-17` and
    `customer-18` are not alike."""
    if not friend or not advocate or friend == advocate:
        return None
    f_local, _, f_domain = friend.partition("@")
    a_local, _, a_domain = advocate.partition("@")
    # Gmail ignores dots (its canonical form drops them), other providers may not.
    f_local, a_local = f_local.replace(".", ""), a_local.replace(".", "")
    if f_local == a_local and len(f_local) >= 4:
        return _T["same_name"]
    letters_only = not any(c.isdigit() for c in f_local + a_local)
    if (
        f_domain == a_domain
        and letters_only
        and min(len(f_local), len(a_local)) >= 6
        and _edit_distance(f_local, a_local, 1) == 1
    ):
        return _T["one_letter"]
    return None


def _similar_email(rule: Rule, ctx: FraudContext) -> RuleResult:
    friend, advocate = canonical_email(ctx.friend.email), canonical_email(ctx.advocate.email)
    why = similar_emails(friend, advocate)
    return _result(
        rule,
        False,
        _T["similar_email"]
        % {"email": ctx.friend.email, "advocate_email": ctx.advocate.email, "why": why}
        if why
        else _T["not_similar"],
        flag=why is not None,
        friend_email=ctx.friend.email,
        advocate_email=ctx.advocate.email,
        similarity=why,
    )


def _shared_ip(rule: Rule, ctx: FraudContext) -> RuleResult:
    """A household: the friend ordered from an IP address the advocate uses, with another
    browser. The same IP and browser is `self_referral.device` (a block)."""
    ip, agent = ctx.friend.ip, ctx.friend.user_agent
    same_device = bool(ip and agent) and (ip, agent) in ctx.advocate_devices
    shared = bool(ip) and not same_device and any(d[0] == ip for d in ctx.advocate_devices)
    return _result(
        rule,
        False,
        _T["shared_ip"] % {"ip": ip} if shared else _T["not_shared_ip"],
        flag=shared,
        friend_ip=ip,
        advocate_ips=sorted({d[0] for d in ctx.advocate_devices if d[0]}),
    )


def _existing_customer(rule: Rule, ctx: FraudContext) -> RuleResult:
    """Shopify's checkout cannot hold "new customers only" for a code anyone may use (see
    `referrals.discount_specs.friend_spec`), so it is held here: an order from a customer who
    ordered before, or whose email belongs to a customer who did, makes no referral."""
    own, by_email = ctx.friend_prior_orders, ctx.friend_prior_orders_by_email
    existing = ctx.new_customers_only and bool(own or by_email)
    if not ctx.new_customers_only:
        text = _T["existing_accepted"]
    elif own:
        text = _T["ordered_before"] % {"orders": ", ".join(own[:5])}
    elif existing:
        text = _T["email_ordered_before"] % {
            "email": ctx.friend.email,
            "orders": ", ".join(by_email[:5]),
        }
    else:
        text = _T["new_customer"]
    return _result(
        rule,
        existing,
        text,
        new_customers_only=ctx.new_customers_only,
        prior_orders=own[:20],
        prior_orders_by_email=by_email[:20],
        friend_email=ctx.friend.email,
    )


def _already_referred(rule: Rule, ctx: FraudContext) -> RuleResult:
    others = ctx.friend_other_referrals
    return _result(
        rule,
        bool(others),
        _T["already_referred"] % {"referral": others[0]["referral_id"]}
        if others
        else _T["not_referred"],
        other_referrals=others[:10],
    )


def _cross_referral(rule: Rule, ctx: FraudContext) -> RuleResult:
    reverse = ctx.reverse_referral
    return _result(
        rule,
        reverse is not None,
        _T["cross_referral"] % {"referral": reverse["referral_id"]}
        if reverse
        else _T["no_cross_referral"],
        reverse_referral=reverse,
    )


def _blocklist(rule: Rule, ctx: FraudContext) -> RuleResult:
    hits = ctx.blocklist_hits
    return _result(
        rule,
        bool(hits),
        _T["blocklisted"]
        % {
            "hits": "; ".join(
                _T["blocklist_hit"] % {"matched": h.matched, "kind": h.kind, "pattern": h.pattern}
                for h in hits
            )
        }
        if hits
        else _T["not_blocklisted"],
        hits=[
            {"entry_id": h.entry_id, "kind": h.kind, "pattern": h.pattern, "matched": h.matched}
            for h in hits
        ],
    )


def _caps(rule: Rule, ctx: FraudContext) -> RuleResult:
    over_day = ctx.cap_per_day is not None and ctx.advocate_referrals_today >= ctx.cap_per_day
    over_total = ctx.cap_total is not None and ctx.advocate_referrals_total >= ctx.cap_total
    if over_day:
        text = _T["cap_day"] % {"cap": ctx.cap_per_day}
    elif over_total:
        text = _T["cap_total"] % {"cap": ctx.cap_total}
    else:
        text = _T["within_caps"]
    return _result(
        rule,
        over_day or over_total,
        text,
        cap_per_day=ctx.cap_per_day,
        cap_total=ctx.cap_total,
        referrals_today=ctx.advocate_referrals_today,
        referrals_total=ctx.advocate_referrals_total,
    )


RULES: tuple[Rule, ...] = (
    Rule("self_referral.customer", 1, N_("Same customer"), _same_customer),
    Rule("self_referral.email", 1, N_("Same email (normalised)"), _same_email),
    Rule("self_referral.phone", 1, N_("Same phone"), _same_phone),
    Rule("self_referral.address", 1, N_("Same shipping address"), _same_address),
    Rule("self_referral.device", 1, N_("Same IP and browser"), _same_device),
    Rule("existing_customer", 2, N_("Existing customer"), _existing_customer),
    Rule("friend_already_referred", 1, N_("Friend already referred"), _already_referred),
    Rule("cross_referral", 1, N_("Cross referral"), _cross_referral),
    Rule("blocklist", 1, N_("Blocklist"), _blocklist),
    Rule("caps", 1, N_("Per-advocate caps"), _caps),
    Rule("similar_email", 1, N_("Similar email (review)"), _similar_email),
    Rule("shared_ip", 1, N_("Shared IP address (review)"), _shared_ip),
)


def evaluate(ctx: FraudContext, rules: tuple[Rule, ...] = RULES) -> list[RuleResult]:
    """Every rule's decision (all run, so the evidence is complete even after a block)."""
    return [rule(ctx) for rule in rules]
