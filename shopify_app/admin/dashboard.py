"""The Home dashboard's numbers: referrals, completed referrals, referral revenue, clicks,
shares and conversion over a period of the shop's own days.

Each metric is one aggregate query over an index that starts with the shop and the metric's
time column (migration 0022_dashboard), grouped by UTC hour; the hours are then summed into
the shop's local days here. Counting by hour rather than by day keeps the SQL the same on
SQLite and PostgreSQL and still puts each hour on the right local day for every time zone
whose offset is whole hours (a zone like India's, +05:30, may place the half hour around
midnight on the neighbouring day in the chart; the period's totals are exact, since the
bounds are exact instants).

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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

PRESETS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PRESET = "30d"
MAX_CUSTOM_DAYS = 366


@dataclass(frozen=True)
class Period:
    key: str  # 7d | 30d | 90d | custom
    first_day: date
    last_day: date  # inclusive
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    error: str | None = None  # why a custom range was refused (the default is shown instead)

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=i) for i in range(count)]

    @property
    def label(self) -> str:
        if self.key in PRESETS:
            return f"Last {PRESETS[self.key]} days"
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _period(key: str, first: date, last: date, zone: ZoneInfo, error: str | None = None):
    return Period(
        key=key,
        first_day=first,
        last_day=last,
        start=_local_midnight(first, zone),
        end=_local_midnight(last + timedelta(days=1), zone),
        error=error,
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
            error = "Enter both dates of the custom range as YYYY-MM-DD."
        elif first > last:
            error = "The custom range starts after it ends."
        elif (last - first).days + 1 > MAX_CUSTOM_DAYS:
            error = f"A custom range can be at most {MAX_CUSTOM_DAYS} days."
        elif first > today:
            error = "The custom range starts in the future."
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


def _hour(session: Session, column):
    """The UTC hour of `column` as text 'YYYY-MM-DD HH' (the same on both databases)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


def _by_day(rows, period: Period, zone: ZoneInfo, columns: int = 1) -> list[list[int]]:
    """Per-hour rows (hour text, value, ...) summed into the period's local days."""
    index = {day: i for i, day in enumerate(period.days)}
    out = [[0] * len(index) for _ in range(columns)]
    for row in rows:
        hour = datetime.strptime(row[0], "%Y-%m-%d %H").replace(tzinfo=UTC)
        i = index.get(hour.astimezone(zone).date())
        if i is None:
            continue
        for c in range(columns):
            out[c][i] += int(row[c + 1] or 0)
    return out


def _hourly_count(session: Session, column, *where):
    hour = _hour(session, column)
    return session.execute(select(hour, func.count()).where(*where).group_by(hour)).all()


def compute(session: Session, shop: Shop, period: Period, zone: ZoneInfo, currency: str) -> Metrics:
    """The shop's numbers for `period`: five aggregate queries, each on its own index."""
    metrics = Metrics(period=period, currency=currency)
    (metrics.referrals,) = _by_day(
        _hourly_count(
            session,
            Referral.created_at,
            Referral.shop_id == shop.id,
            Referral.created_at >= period.start,
            Referral.created_at < period.end,
        ),
        period,
        zone,
    )
    hour = _hour(session, Referral.completed_at)
    completed_rows = session.execute(
        select(
            hour,
            func.count(),
            func.coalesce(func.sum(Order.total_minor - Order.refunded_minor), 0),
        )
        .select_from(Referral)
        .outerjoin(Order, Order.id == Referral.order_id)
        .where(
            Referral.shop_id == shop.id,
            Referral.completed_at >= period.start,
            Referral.completed_at < period.end,
            Referral.status == "completed",
        )
        .group_by(hour)
    ).all()
    metrics.completed, metrics.revenue_minor = _by_day(completed_rows, period, zone, columns=2)
    (metrics.clicks,) = _by_day(
        _hourly_count(
            session,
            ReferralClick.clicked_at,
            ReferralClick.shop_id == shop.id,
            ReferralClick.clicked_at >= period.start,
            ReferralClick.clicked_at < period.end,
        ),
        period,
        zone,
    )
    (metrics.shares,) = _by_day(
        _hourly_count(
            session,
            EmailMessage.created_at,
            EmailMessage.shop_id == shop.id,
            EmailMessage.kind == "share",
            EmailMessage.created_at >= period.start,
            EmailMessage.created_at < period.end,
        ),
        period,
        zone,
    )
    return metrics


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
    "read_customers": "see your customers",
    "write_customers": "update your customers (their marketing consent)",
    "read_orders": "see your orders (to find referrals)",
    "read_discounts": "see discount codes",
    "write_discounts": "create friends' discounts and advocates' rewards",
    "write_app_proxy": "show the referral page on your storefront",
}


def missing_permissions(required: str, granted: set[str]) -> list[tuple[str, str]]:
    """The access scopes the app needs and the shop has not granted, each with what it is
    for: [(scope, purpose)]. A write scope implies its read scope, as Shopify grants it."""
    wanted = [s.strip() for s in required.split(",") if s.strip()]
    have = set(granted) | {
        "read_" + s.removeprefix("write_") for s in granted if s.startswith("write_")
    }
    return [(s, SCOPE_NAMES.get(s, s.replace("_", " "))) for s in wanted if s not in have]


def import_progress(run: SyncRun | None) -> dict[str, object]:
    """The import's state for the Home page's poll: the sentence shown, and whether it is
    still moving (`done` false: ask again)."""
    if run is None:
        return {
            "status": "none",
            "done": True,
            "text": "Customers and orders arrive as Shopify sends them.",
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
            text = "Getting ready to import your store's customers and orders…"
        else:
            done = (
                f"{_count(run.customers_synced, 'customer')} and "
                f"{_count(run.orders_synced, 'order')} imported so far"
            )
            reading = (
                f"; Shopify has gathered {_count(run.objects_seen, 'record')} for this step"
                if run.objects_seen
                else ""
            )
            text = f"Importing your store's {run.phase}… {done}{reading}."
    elif run.status == "completed":
        when = run.finished_at.strftime("%Y-%m-%d %H:%M UTC") if run.finished_at else ""
        text = (
            f"Imported {_count(run.customers_synced, 'customer')} and "
            f"{_count(run.orders_synced, 'order')} on {when}."
        )
    else:
        text = f"The import did not finish: {run.error or 'unknown error'}. It will be retried."
    body["text"] = text
    return body


def _count(n: int, noun: str) -> str:
    n = n or 0
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
