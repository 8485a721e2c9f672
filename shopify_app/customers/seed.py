"""`referrals seed`: realistic customers, orders, advocates, referrals and rewards for the demo
and the benchmarks, fast enough for a million customers.

Rows go in through the models' tables in chunks (one multi-row insert per table per chunk),
with the listing columns derived by the same functions the model uses; the triggers keep
the Customers page's segments (the joins and referral counts written here as bulk updates
move customers between them) and totals exact. The B9 numbers are worked out from the generated rows
exactly as `referrals.revenue` would (`referrals revenue recompute` finds no drift).
Nothing is sent to Shopify: seeded friend codes are marked `inactive` with that reason.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from shopify_app.models import Advocate, Customer, Order, Referral, Reward, Shop, utcnow
from shopify_app.models.customer import list_segment, name_sort_key, search_key
from shopify_app.referrals.codes import ALPHABET

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Edsger",
    "Frances",
    "Donald",
    "Radia",
    "Tim",
    "Hedy",
    "Niklaus",
    "Katherine",
    "Dennis",
    "Sophie",
    "John",
    "Mary",
    "Aino",
    "Eero",
    "Helmi",
    "Väinö",
    "Sanna",
    "Jyrki",
    "Åsa",
    "Zoë",
    "Noël",
    "Chloé",
    "Mateo",
    "Sofía",
    "Lucas",
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "Mia",
    "Leo",
    "Ella",
    "Aleksi",
    "Ilona",
    "Kaisa",
    "Matti",
    "Tuula",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Dijkstra",
    "Allen",
    "Knuth",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Wirth",
    "Johnson",
    "Ritchie",
    "Wilson",
    "Backus",
    "Shelley",
    "Virtanen",
    "Korhonen",
    "Mäkinen",
    "Nieminen",
    "Hämäläinen",
    "Järvinen",
    "Lehtonen",
    "Laine",
    "Heikkinen",
    "O'Brien",
    "García",
    "Müller",
    "Dubois",
    "Rossi",
    "Smith",
    "Jones",
    "Brown",
    "Taylor",
    "Lee",
    "Martin",
    "Nguyen",
    "Kim",
    "Silva",
    "Andersson",
    "Nowak",
    "Kowalski",
    "Öberg",
]
CHUNK = 10_000
# Consent as a store sees it: most customers were asked for email at checkout; SMS only
# those with a phone, fewer subscribed. Every Shopify state appears.
EMAIL_STATES = ("subscribed", "not_subscribed", "unsubscribed", "pending", "invalid", "redacted")
EMAIL_MIX = (40, 38, 16, 3, 2, 1)
SMS_STATES = ("subscribed", "not_subscribed", "unsubscribed", "pending", "redacted")
SMS_MIX = (30, 45, 20, 4, 1)


@dataclass
class SeedResult:
    customers: int = 0
    advocates: int = 0
    referrals: int = 0
    rewards: int = 0
    orders: int = 0


def _ascii(text: str) -> str:
    table = str.maketrans("äöåéëüíáøÄÖÅÉËÜÍÁØ", "aoaeeuiaoAOAEEUIAO")
    return "".join(ch for ch in text.translate(table) if ch.isalnum()).lower()


def _insert(session: Session, model, rows: list[dict]) -> list[int]:
    if not rows:
        return []
    table = model.__table__
    result = session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    )
    return list(result.scalars())


def seed_shop(
    session: Session,
    shop: Shop,
    customers: int,
    *,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> SeedResult:
    """Add `customers` customers (and the program data around them) to `shop`."""
    rng = random.Random(seed * 1_000_003 + shop.id)  # noqa: S311 - demo data, not secrets
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(days=3 * 365)
    currency = shop.currency or "USD"
    next_shopify_id = (
        session.scalar(select(func.max(Customer.shopify_id)).where(Customer.shop_id == shop.id))
        or 7_000_000_000
    ) + 1
    next_order_id = (
        session.scalar(select(func.max(Order.shopify_id)).where(Order.shop_id == shop.id))
        or 5_000_000_000
    ) + 1
    next_order_name = session.scalar(
        select(func.count()).select_from(Order).where(Order.shop_id == shop.id)
    )
    result = SeedResult()
    done = 0
    while done < customers:
        n = min(CHUNK, customers - done)
        rows = []
        for i in range(n):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            number = next_shopify_id + i
            email = f"{_ascii(first)}.{_ascii(last)}.{number % 10_000_000}@example.com"
            member = rng.random() < 0.55
            created = start + timedelta(seconds=rng.randrange(3 * 365 * 86400))
            phone = f"+1555{rng.randrange(10**7):07d}" if rng.random() < 0.3 else None
            email_state = rng.choices(EMAIL_STATES, EMAIL_MIX)[0]
            sms_state = rng.choices(SMS_STATES, SMS_MIX)[0] if phone else None
            consent_at = created + timedelta(days=rng.randrange(0, 400))
            rows.append(
                {
                    "shop_id": shop.id,
                    "shopify_id": number,
                    "email": email,
                    "email_normalized": email,
                    "phone": phone,
                    "first_name": first,
                    "last_name": last,
                    "account_state": "enabled" if member else "disabled",
                    "email_marketing_state": email_state,
                    "email_marketing_consent_updated_at": consent_at,
                    "sms_marketing_state": sms_state,
                    "sms_marketing_consent_updated_at": consent_at if sms_state else None,
                    "tags": "",
                    "shopify_created_at": created,
                    "shopify_updated_at": created,
                    "created_at": now,
                    "updated_at": now,
                    "program_joined": False,
                    "sort_name": name_sort_key(first, last, email),
                    "last_name_key": search_key(last, 255),
                    "email_key": search_key(email, 320),
                    "customer_since": created,
                    "list_segment": list_segment(
                        member=member,
                        joined=False,
                        deleted=False,
                        email_state=email_state,
                        sms_state=sms_state,
                    ),
                }
            )
        ids = _insert(session, Customer, rows)
        next_shopify_id += n
        chunk = _Chunk(session, shop, rng, now, currency, list(zip(ids, rows, strict=True)))
        chunk.next_order_id, chunk.next_order_name = next_order_id, next_order_name
        chunk.run(result)
        next_order_id, next_order_name = chunk.next_order_id, chunk.next_order_name
        session.commit()
        done += n
        result.customers += n
        if progress:
            progress(done)
    return result


class _Chunk:
    """The program data around one chunk of new customers: ~3 % join, each refers 0-6
    friends from the chunk; completed referrals get a reward, some of them used."""

    def __init__(self, session, shop, rng, now, currency, customers):
        self.session, self.shop, self.rng, self.now, self.currency = (
            session,
            shop,
            rng,
            now,
            currency,
        )
        self.customers = customers
        self.next_order_id = 0
        self.next_order_name = 0
        self.stats: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def _order(self, customer_id: int, row: dict, total: int, codes: list[str], at) -> dict:
        self.next_order_id += 1
        self.next_order_name += 1
        return {
            "shop_id": self.shop.id,
            "shopify_id": self.next_order_id,
            "name": f"#{1000 + self.next_order_name}",
            "customer_id": customer_id,
            "customer_shopify_id": row["shopify_id"],
            "email": row["email"],
            "currency": self.currency,
            "total_minor": total,
            "subtotal_minor": total,
            "total_discounts_minor": 0,
            "refunded_minor": 0,
            "discount_codes": [{"code": c, "type": "percentage"} for c in codes],
            "note_attributes": [],
            "financial_status": "paid",
            "processed_at": at,
            "shopify_created_at": at,
            "shopify_updated_at": at,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def run(self, result: SeedResult) -> None:
        rng, session = self.rng, self.session
        pool = self.customers
        joining = [c for c in pool if rng.random() < 0.03]
        joined_ids = {cid for cid, _row in joining}
        friends = [c for c in pool if c[0] not in joined_ids]
        advocate_rows = [
            {
                "shop_id": self.shop.id,
                "customer_id": cid,
                "code": f"{_ascii(row['first_name'])[:8].upper() or 'FRIEND'}-"
                + "".join(rng.choice(ALPHABET) for _ in range(8)),
                "joined_at": row["customer_since"] + timedelta(days=rng.randrange(1, 30)),
                "joined_via": rng.choice(("storefront", "invitation", "staff")),
                "friend_discount_status": "inactive",
                "friend_discount_error": "seeded data: no discount exists in Shopify",
                "created_at": self.now,
                "updated_at": self.now,
            }
            for cid, row in joining
        ]
        advocate_ids = _insert(session, Advocate, advocate_rows)
        result.advocates += len(advocate_ids)
        if advocate_ids:
            table = Customer.__table__
            session.execute(
                table.update()
                .where(table.c.id.in_([cid for cid, _ in joining]))
                .values(
                    program_joined=True,
                    list_segment=table.c.list_segment + 1,
                )
            )
        referral_plans = []
        order_rows = []
        for advocate_id, (cid, _row), adv in zip(advocate_ids, joining, advocate_rows, strict=True):
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 4, 6))):
                if not friends:
                    break
                friend_id, friend = rng.choice(friends)
                status = rng.choices(("completed", "pending", "blocked"), (70, 20, 10))[0]
                total = rng.randrange(2_000, 30_000)
                at = adv["joined_at"] + timedelta(days=rng.randrange(1, 60))
                order_rows.append(self._order(friend_id, friend, total, [adv["code"]], at))
                referral_plans.append((advocate_id, cid, friend_id, status, total, at))
        order_ids = _insert(session, Order, order_rows)
        result.orders += len(order_ids)
        referral_rows = []
        for (advocate_id, _cid, friend_id, status, total, at), order_id, order in zip(
            referral_plans, order_ids, order_rows, strict=True
        ):
            referral_rows.append(
                {
                    "shop_id": self.shop.id,
                    "advocate_id": advocate_id,
                    "friend_customer_id": friend_id,
                    "order_id": order_id,
                    "order_shopify_id": order["shopify_id"],
                    "attribution": "discount_code",
                    "attribution_evidence": {"code": order["discount_codes"][0]["code"]},
                    "status": status,
                    "status_reason": "friend email matches the advocate's (seeded)"
                    if status == "blocked"
                    else None,
                    "terms": {},
                    "program_version": 1,
                    "order_total_minor": total,
                    "currency": self.currency,
                    "needs_manual_approval": False,
                    "completed_at": at if status == "completed" else None,
                    "created_at": at,
                    "updated_at": self.now,
                }
            )
        referral_ids = _insert(session, Referral, referral_rows)
        result.referrals += len(referral_ids)
        self._rewards(result, referral_plans, referral_ids)
        self._write_stats(referral_plans)

    def _rewards(self, result, plans, referral_ids) -> None:
        rng = self.rng
        reward_rows, used_orders = [], []
        rows_by_id = dict(self.customers)
        for (advocate_id, cid, _friend, status, _total, at), referral_id in zip(
            plans, referral_ids, strict=True
        ):
            if status != "completed":
                continue
            used = rng.random() < 0.4
            code = "REWARD-" + "".join(rng.choice(ALPHABET) for _ in range(8))
            row = {
                "shop_id": self.shop.id,
                "referral_id": referral_id,
                "advocate_id": advocate_id,
                "code": code,
                "kind": "percentage",
                "value": 10,
                "currency": self.currency,
                "status": "used" if used else "issued",
                "expires_at": at + timedelta(days=90),
                "issued_at": at,
                "used_order_shopify_id": None,
                "used_at": None,
                "created_at": self.now,
                "updated_at": self.now,
            }
            if used:
                spend = rng.randrange(3_000, 25_000)
                order = self._order(cid, rows_by_id[cid], spend, [code], at + timedelta(days=3))
                used_orders.append(order)
                row["used_order_shopify_id"] = order["shopify_id"]
                row["used_at"] = at + timedelta(days=3)
                self.stats[cid]["referrer_revenue_minor"] += spend
            reward_rows.append(row)
        result.orders += len(_insert(self.session, Order, used_orders))
        result.rewards += len(_insert(self.session, Reward, reward_rows))

    def _write_stats(self, plans) -> None:
        referees: dict[int, set[int]] = defaultdict(set)
        for _advocate_id, cid, friend, status, total, _at in plans:
            if status == "completed":
                self.stats[cid]["successful_referrals"] += 1
                self.stats[cid]["referral_revenue_minor"] += total
                self.stats[friend]["referee_revenue_minor"] += total
            if status != "blocked":
                referees[cid].add(friend)
        for cid, friends in referees.items():
            self.stats[cid]["total_referees"] = len(friends)
        if not self.stats:
            return
        table = Customer.__table__
        fields = (
            "successful_referrals",
            "total_referees",
            "referral_revenue_minor",
            "referrer_revenue_minor",
            "referee_revenue_minor",
        )
        self.session.execute(
            table.update()
            .where(table.c.id == bindparam("_id"))
            .values(
                {**{f: bindparam(f"_{f}") for f in fields}, "stats_updated_at": bindparam("_at")}
            ),
            [
                {"_id": cid, "_at": datetime.now(UTC), **{f"_{f}": s.get(f, 0) for f in fields}}
                for cid, s in self.stats.items()
            ],
        )
