"""The Home dashboard's numbers: referrals, completed referrals, referral revenue, clicks,
shares and conversion over a period of the shop's own days.

Each metric is one statement of per-day counts (or sums), one scalar subquery per day of the
period, each reading an index range that starts with the shop and the metric's time column
(migration 0022_dashboard). The days' bounds are the shop's local midnights as exact
instants, so every time zone, half-hour offsets and DST changes included, gets its own days;
and counting an index range is several times cheaper than grouping by a time expression
computed for every row.

Definitions (the page says them too):
- referrals: orders attributed to an advocate, made in the period, whatever their status;
- completed referrals: referrals completed in the period (their reward was earned);
- referral revenue: what friends paid, net of refunds, on the orders of those completed
  referrals (as `referrals.revenue` counts it per advocate);
- clicks: visits through advocates' referral links (one per visitor and day, `clicks.py`);
- shares: referral offers advocates emailed to friends;
- conversion: referrals ÷ clicks in the same period.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from shopify_app.i18n import N_, day_text, integer_text
from shopify_app.models import (
    EmailMessage,
    Order,
    Program,
    Referral,
    ReferralClick,
    Shop,
    SyncRun,
    utcnow,
)
from shopify_app.models.base import UTCDateTime

PRESETS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PRESET = "30d"
# A year of per-day subqueries took PostgreSQL seconds on the 1M-customer bench (90 days:
# ~70 ms); longer ranges would need weekly buckets (docs/performance.md, 2026-12-05).
MAX_CUSTOM_DAYS = 92


@dataclass(frozen=True)
class Period:
    key: str  # 7d | 30d | 90d | custom
    first_day: date
    last_day: date  # inclusive
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    error: str | None = None  # why a custom range was refused (the default is shown instead)
    bounds: tuple[datetime, ...] = ()  # each day's first instant (UTC), then `end`

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=i) for i in range(count)]

    @property
    def label(self) -> str:
        if self.key in PRESETS:
            return _("Last %(days)s days", days=PRESETS[self.key])
        return _(
            "%(first)s to %(last)s", first=day_text(self.first_day), last=day_text(self.last_day)
        )


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _period(key: str, first: date, last: date, zone: ZoneInfo, error: str | None = None):
    count = (last - first).days + 1
    bounds = tuple(_local_midnight(first + timedelta(days=i), zone) for i in range(count + 1))
    return Period(
        key=key,
        first_day=first,
        last_day=last,
        start=bounds[0],
        end=bounds[-1],
        error=error,
        bounds=bounds,
    )


def _parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def parse_period(args: Mapping[str, str], zone: ZoneInfo, now: datetime | None = None) -> Period:
    """The period the query asks for (`period=7d|30d|90d`, or `period=custom&from=&to=` as
    YYYY-MM-DD in the shop's time zone); the last 30 days when it asks for nothing valid."""
    today = (now or utcnow()).astimezone(zone).date()
    key = args.get("period") or DEFAULT_PRESET
    if key == "custom":
        first, last = _parse_day(args.get("from")), _parse_day(args.get("to"))
        error = None
        if first is None or last is None:
            error = _("Enter both dates of the custom range as YYYY-MM-DD.")
        elif first > last:
            error = _("The custom range starts after it ends.")
        elif (last - first).days + 1 > MAX_CUSTOM_DAYS:
            error = _("A custom range can be at most %(days)s days.", days=MAX_CUSTOM_DAYS)
        elif first > today:
            error = _("The custom range starts in the future.")
        if error is None:
            return _period("custom", first, min(last, today), zone)
        key = DEFAULT_PRESET
        days = PRESETS[key]
        return _period(key, today - timedelta(days=days - 1), today, zone, error)
    if key not in PRESETS:
        key = DEFAULT_PRESET
    days = PRESETS[key]
    return _period(key, today - timedelta(days=days - 1), today, zone)


@dataclass
class Metrics:
    period: Period
    currency: str
    referrals: list[int] = field(default_factory=list)  # one value per day of the period
    completed: list[int] = field(default_factory=list)
    revenue_minor: list[int] = field(default_factory=list)
    clicks: list[int] = field(default_factory=list)
    shares: list[int] = field(default_factory=list)

    @property
    def conversion(self) -> float | None:
        """Referrals per click in the period; None without clicks."""
        clicks = sum(self.clicks)
        return sum(self.referrals) / clicks if clicks else None

    def totals(self) -> dict[str, int]:
        return {
            "referrals": sum(self.referrals),
            "completed": sum(self.completed),
            "revenue_minor": sum(self.revenue_minor),
            "clicks": sum(self.clicks),
            "shares": sum(self.shares),
        }


def _bases() -> dict[str, tuple[Select, object]]:
    """Each metric's aggregate, filtered to the shop (`shop_id`), and its time column."""
    shop = bindparam("shop_id")
    count = select(func.count())
    completed = (Referral.shop_id == shop, Referral.status == "completed")
    return {
        "referrals": (
            count.select_from(Referral).where(Referral.shop_id == shop),
            Referral.created_at,
        ),
        "completed": (count.select_from(Referral).where(*completed), Referral.completed_at),
        "revenue": (
            select(func.sum(Order.total_minor - Order.refunded_minor))
            .select_from(Referral)
            .join(Order, Order.id == Referral.order_id)
            .where(*completed),
            Referral.completed_at,
        ),
        "clicks": (
            count.select_from(ReferralClick).where(ReferralClick.shop_id == shop),
            ReferralClick.clicked_at,
        ),
        "shares": (
            count.select_from(EmailMessage).where(
                EmailMessage.shop_id == shop, EmailMessage.kind == "share"
            ),
            EmailMessage.created_at,
        ),
    }


@functools.lru_cache(maxsize=32)
def _statement(metric: str, days: int) -> Select:
    """One row: `metric` for each of `days` days, a scalar subquery per day over the index
    range between bounds `b<i>` and `b<i+1>`. Built once per metric and length, since
    building a 92-day range's subqueries costs more than running them. Few are kept (the three
    presets' fifteen and some custom lengths): a long one is thousands of objects for the
    garbage collector to walk (docs/performance.md, 2026-12-04)."""
    base, column = _bases()[metric]
    bounds = [bindparam(f"b{i}", type_=UTCDateTime()) for i in range(days + 1)]
    return select(
        *(
            base.where(column >= bounds[i], column < bounds[i + 1]).scalar_subquery()
            for i in range(days)
        )
    )


def compute(session: Session, shop: Shop, period: Period, currency: str) -> Metrics:
    """The shop's numbers for `period`: five statements, each on its own index."""
    params: dict[str, object] = {f"b{i}": bound for i, bound in enumerate(period.bounds)}
    params["shop_id"] = shop.id
    days = len(period.bounds) - 1

    def per_day(metric: str) -> list[int]:
        row = session.execute(_statement(metric, days), params).one()
        return [int(value or 0) for value in row]

    return Metrics(
        period=period,
        currency=currency,
        referrals=per_day("referrals"),
        completed=per_day("completed"),
        revenue_minor=per_day("revenue"),
        clicks=per_day("clicks"),
        shares=per_day("shares"),
    )


def program_enabled(session: Session, shop: Shop) -> bool | None:
    """Whether the program is on; None when the merchant has not set it up yet."""
    return session.scalar(select(Program.enabled).where(Program.shop_id == shop.id))


def reconcile_runs(session: Session, shop: Shop, limit: int = 5) -> list[SyncRun]:
    """The latest reconciliation passes, newest first (the merchant's report, H2)."""
    return list(
        session.scalars(
            select(SyncRun)
            .where(SyncRun.shop_id == shop.id, SyncRun.kind == "reconcile")
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(limit)
        )
    )


SCOPE_NAMES = {
    "read_customers": N_("see your customers"),
    "write_customers": N_("update your customers (their marketing consent)"),
    "read_orders": N_("see your orders (to find referrals)"),
    "read_discounts": N_("see discount codes"),
    "write_discounts": N_("create friends' discounts and advocates' rewards"),
    "write_app_proxy": N_("show the referral page on your storefront"),
    "read_products": N_("send product links in conversations"),
    "read_publications": N_("send only products shoppers can open on your Online Store"),
    "write_pixels": N_("add the web pixel that shows chatting shoppers' cart in the inbox"),
    "read_customer_events": N_("read the cart events of shoppers in a chat"),
    "read_locales": N_("write emails to customers in your store's language"),
}


def missing_permissions(required: str, granted: set[str]) -> list[tuple[str, str]]:
    """The access scopes the app needs and the shop has not granted, each with what it is
    for: [(scope, purpose)]. A write scope implies its read scope, as Shopify grants it."""
    wanted = [s.strip() for s in required.split(",") if s.strip()]
    have = set(granted) | {
        "read_" + s.removeprefix("write_") for s in granted if s.startswith("write_")
    }
    return [
        (s, _(SCOPE_NAMES[s]) if s in SCOPE_NAMES else s.replace("_", " "))
        for s in wanted
        if s not in have
    ]


def import_progress(run: SyncRun | None) -> dict[str, object]:
    """The import's state for the Home page's poll: the sentence shown, and whether it is
    still moving (`done` false: ask again)."""
    if run is None:
        return {
            "status": "none",
            "done": True,
            "text": _("Customers and orders arrive as Shopify sends them."),
        }
    body: dict[str, object] = {
        "status": run.status,
        "done": run.status != "running",
        "phase": run.phase,
        "records_read": run.objects_seen,
        "customers": run.customers_synced,
        "orders": run.orders_synced,
        "finished_at": run.finished_at.isoformat().replace("+00:00", "Z")
        if run.finished_at
        else None,
    }
    if run.status == "running":
        if run.phase is None or run.bulk_operation_gid is None:
            text = _("Getting ready to import your store's customers and orders…")
        else:
            values = {
                "customers": _customers(run.customers_synced),
                "orders": _orders(run.orders_synced),
                "records": _records(run.objects_seen),
            }
            phase = run.phase
            if run.objects_seen:
                text = (
                    _(
                        "Importing your store's customers… %(customers)s and %(orders)s "
                        "imported so far; Shopify has gathered %(records)s for this step.",
                        **values,
                    )
                    if phase == "customers"
                    else _(
                        "Importing your store's orders… %(customers)s and %(orders)s "
                        "imported so far; Shopify has gathered %(records)s for this step.",
                        **values,
                    )
                    if phase == "orders"
                    else f"Importing your store's {phase}… {values['customers']} and "
                    f"{values['orders']} imported so far; Shopify has gathered "
                    f"{values['records']} for this step."
                )
            else:
                text = (
                    _(
                        "Importing your store's customers… %(customers)s and %(orders)s "
                        "imported so far.",
                        **values,
                    )
                    if phase == "customers"
                    else _(
                        "Importing your store's orders… %(customers)s and %(orders)s "
                        "imported so far.",
                        **values,
                    )
                    if phase == "orders"
                    else f"Importing your store's {phase}… {values['customers']} and "
                    f"{values['orders']} imported so far."
                )
    elif run.status == "completed":
        when = run.finished_at.strftime("%Y-%m-%d %H:%M UTC") if run.finished_at else ""
        text = _(
            "Imported %(customers)s and %(orders)s on %(when)s.",
            customers=_customers(run.customers_synced),
            orders=_orders(run.orders_synced),
            when=when,
        )
    else:
        text = _(
            "The import of your store's existing customers and orders did not finish. "
            "New ones still arrive as Shopify sends them."
        )
        body["error"] = run.error  # for engineers: the page keeps it in a disclosure
    body["text"] = text
    return body


def _customers(n: int | None) -> str:
    return ngettext("%(count)s customer", "%(count)s customers", n or 0, count=integer_text(n or 0))


def _orders(n: int | None) -> str:
    return ngettext("%(count)s order", "%(count)s orders", n or 0, count=integer_text(n or 0))


def _records(n: int | None) -> str:
    return ngettext("%(count)s record", "%(count)s records", n or 0, count=integer_text(n or 0))
