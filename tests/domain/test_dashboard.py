"""The Home dashboard's numbers (admin/dashboard.py): exact values for each period, on the
shop's own days (Helsinki, UTC+2 in December), never another shop's rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shopify_app.admin import dashboard
from shopify_app.models import EmailMessage, ReferralClick, SyncRun

from .. import factories

HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # 14:00 in Helsinki
TODAY = date(2026, 12, 5)


def local(day: date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=HELSINKI)


def days_ago(n: int, hour: int = 12, **kw) -> datetime:
    return local(TODAY - timedelta(days=n), hour, **kw)


class Seeder:
    def __init__(self, session, shop):
        self.session, self.shop = session, shop
        self.advocate = factories.advocate(session, shop)

    def referral(self, created, *, status="pending", completed=None, total=10_000, refunded=0):
        friend = factories.customer(self.session, self.shop)
        order = factories.order(
            self.session, self.shop, friend, total_minor=total, refunded_minor=refunded
        )
        return factories.referral(
            self.session,
            self.shop,
            self.advocate,
            order,
            status=status,
            created_at=created,
            completed_at=completed,
        )

    def click(self, at):
        self.session.add(
            ReferralClick(shop_id=self.shop.id, advocate_id=self.advocate.id, clicked_at=at)
        )

    def email(self, at, kind="share"):
        n = factories.next_id()
        self.session.add(
            EmailMessage(
                shop_id=self.shop.id,
                kind=kind,
                to_address=f"friend-{n}@example.com",
                subject="A gift from a friend",
                body_text="…",
                dedupe_key=f"{kind}:{n}",
                advocate_id=self.advocate.id,
                created_at=at,
            )
        )


def seed(session, shop) -> None:
    s = Seeder(session, shop)
    s.referral(days_ago(0, 10))  # today, pending
    s.referral(days_ago(3), status="completed", completed=days_ago(2), total=5_000, refunded=1_000)
    s.referral(days_ago(1), status="blocked")
    s.referral(days_ago(6, 0))  # the first instant of the 7-day period
    s.referral(days_ago(7, 23, minute=59, second=59))  # the last instant before it
    s.referral(days_ago(10), status="completed", completed=days_ago(9), total=8_000)
    s.referral(days_ago(40), status="completed", completed=days_ago(35), total=2_000)
    s.referral(days_ago(100), status="completed", completed=days_ago(95), total=99_999)
    # Completed in the period, made before it: completed counts it, referrals does not.
    s.referral(days_ago(31), status="completed", completed=days_ago(29), total=3_000)
    # Voided after completing: no longer completed, no revenue.
    s.referral(days_ago(5), status="voided", completed=days_ago(4), total=7_000)
    # 23:30 UTC on Dec 4 is 01:30 on Dec 5 in Helsinki: today's, on the shop's calendar.
    s.click(datetime(2026, 12, 4, 23, 30, tzinfo=UTC))
    for n in (0, 1, 2, 5):
        s.click(days_ago(n))
    s.click(days_ago(20))
    s.click(days_ago(60))
    s.click(days_ago(200))
    s.email(days_ago(0))
    s.email(days_ago(4))
    s.email(days_ago(45))
    s.email(days_ago(1), kind="invitation")  # not a share
    s.email(days_ago(1), kind="reward")
    session.flush()


@pytest.fixture
def shops(session):
    mine = factories.shop(session, iana_timezone="Europe/Helsinki")
    other = factories.shop(session)
    seed(session, mine)
    seed(session, other)  # the same rows in another shop: never counted for mine
    Seeder(session, other).referral(days_ago(0), status="completed", completed=days_ago(0))
    return mine, other


def numbers(session, shop, **args) -> dashboard.Metrics:
    period = dashboard.parse_period(args, HELSINKI, now=NOW)
    return dashboard.compute(session, shop, period, "EUR")


def test_last_7_days(session, shops):
    mine, _other = shops
    m = numbers(session, mine, period="7d")
    assert m.period.first_day == date(2026, 11, 29) and m.period.last_day == TODAY
    assert m.period.start == datetime(2026, 11, 28, 22, 0, tzinfo=UTC)
    assert m.totals() == {
        "referrals": 5,  # today, 3 days ago, blocked, the first instant, voided
        "completed": 1,
        "revenue_minor": 4_000,  # 5,000 paid less 1,000 refunded
        "clicks": 5,
        "shares": 2,
    }
    assert m.conversion == 1.0
    assert len(m.referrals) == 7
    assert m.referrals == [1, 1, 0, 1, 0, 1, 1]  # Nov 29 ... Dec 5
    assert m.clicks == [0, 1, 0, 0, 1, 1, 2]  # today's two: 01:30 and 12:00 local
    assert m.completed == [0, 0, 0, 0, 1, 0, 0] and m.revenue_minor[4] == 4_000  # Dec 3


def test_last_30_and_90_days(session, shops):
    mine, _other = shops
    assert numbers(session, mine, period="30d").totals() == {
        "referrals": 7,  # the 7-day five, the one just before, 10 days ago
        "completed": 3,  # 2, 9 and 29 days ago
        "revenue_minor": 4_000 + 8_000 + 3_000,
        "clicks": 6,
        "shares": 2,
    }
    ninety = numbers(session, mine, period="90d")
    assert ninety.totals() == {
        "referrals": 9,
        "completed": 4,
        "revenue_minor": 4_000 + 8_000 + 3_000 + 2_000,
        "clicks": 7,
        "shares": 3,
    }
    assert ninety.conversion == pytest.approx(9 / 7)


def test_a_custom_range(session, shops):
    mine, _other = shops
    m = numbers(session, mine, period="custom", **{"from": "2026-11-20", "to": "2026-11-30"})
    assert (m.period.first_day, m.period.last_day) == (date(2026, 11, 20), date(2026, 11, 30))
    assert m.period.error is None and m.period.label == "2026-11-20 to 2026-11-30"
    assert m.totals() == {
        "referrals": 4,  # Nov 25, Nov 28 23:59:59, Nov 29 00:00, Nov 30 (voided since)
        "completed": 1,  # Nov 26
        "revenue_minor": 8_000,
        "clicks": 1,  # Nov 30
        "shares": 0,  # Dec 1 is after the range
    }
    assert m.conversion == 4.0
    quiet = numbers(session, mine, period="custom", **{"from": "2026-10-10", "to": "2026-10-20"})
    assert quiet.totals()["clicks"] == 0 and quiet.conversion is None  # no rate, not 0 %


def test_another_shops_rows_are_never_counted(session, shops):
    _mine, other = shops
    m = numbers(session, other, period="7d")
    assert m.totals()["completed"] == 2 and m.totals()["referrals"] == 6
    empty = factories.shop(session)
    assert numbers(session, empty, period="90d").totals() == {
        "referrals": 0,
        "completed": 0,
        "revenue_minor": 0,
        "clicks": 0,
        "shares": 0,
    }


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"from": "2026-12-01"}, "Enter both dates"),
        ({"from": "2026-12-01", "to": "nope"}, "Enter both dates"),
        ({"from": "2026-12-03", "to": "2026-12-01"}, "starts after it ends"),
        ({"from": "2026-08-31", "to": "2026-12-01"}, "at most 92 days"),
        ({"from": "2026-12-06", "to": "2026-12-08"}, "starts in the future"),
    ],
)
def test_a_bad_custom_range_falls_back_to_30_days_and_says_why(args, error):
    period = dashboard.parse_period({"period": "custom", **args}, HELSINKI, now=NOW)
    assert period.key == "30d" and len(period.days) == 30 and error in (period.error or "")


def test_periods_end_today_on_the_shops_calendar():
    assert dashboard.parse_period({"period": "bogus"}, HELSINKI, now=NOW).key == "30d"
    # 23:30 UTC on Dec 5 is already Dec 6 in Helsinki.
    late = dashboard.parse_period({"period": "7d"}, HELSINKI, now=NOW.replace(hour=23, minute=30))
    assert late.last_day == date(2026, 12, 6)
    custom = dashboard.parse_period(
        {"period": "custom", "from": "2026-12-01", "to": "2027-01-01"}, HELSINKI, now=NOW
    )
    assert custom.last_day == TODAY  # a range reaching into the future stops today


def test_missing_permissions_name_what_they_are_for():
    required = "read_customers,write_customers,read_orders,write_discounts,write_app_proxy"
    granted = {"write_customers", "write_discounts", "write_app_proxy"}
    assert dashboard.missing_permissions(required, granted) == [
        ("read_orders", "see your orders (to find referrals)")
    ]  # write_customers grants read_customers too
    assert dashboard.missing_permissions(required, set(required.split(","))) == []


def test_import_progress_sentences(session):
    shop = factories.shop(session)
    assert dashboard.import_progress(None)["done"] is True
    run = SyncRun(shop_id=shop.id, kind="import", status="running", phase=None)
    assert "Getting ready" in dashboard.import_progress(run)["text"]
    run.phase, run.bulk_operation_gid, run.customers_synced = "orders", "gid://1", 1200
    progress = dashboard.import_progress(run)
    assert progress["done"] is False
    assert (
        progress["text"]
        == "Importing your store's orders… 1,200 customers and 0 orders imported so far."
    )
    run.status, run.finished_at, run.orders_synced = "completed", NOW, 1
    done = dashboard.import_progress(run)
    assert done["done"] is True and done["finished_at"] == "2026-12-05T12:00:00Z"
    assert done["text"] == "Imported 1,200 customers and 1 order on 2026-12-05 12:00 UTC."


def test_days_follow_a_half_hour_zone_exactly(session):
    """India is UTC+05:30: 18:15 UTC is 23:45 that day, 18:45 UTC is 00:15 the next."""
    kolkata = ZoneInfo("Asia/Kolkata")
    shop = factories.shop(session, iana_timezone="Asia/Kolkata")
    s = Seeder(session, shop)
    s.click(datetime(2026, 12, 3, 18, 15, tzinfo=UTC))
    s.click(datetime(2026, 12, 3, 18, 45, tzinfo=UTC))
    session.flush()
    period = dashboard.parse_period({"period": "7d"}, kolkata, now=NOW)
    clicks = dashboard.compute(session, shop, period, "INR").clicks
    assert clicks[-3:] == [1, 1, 0]  # Dec 3, Dec 4, Dec 5


def test_a_failed_import_is_said_plainly_with_the_detail_kept_apart(session):
    shop = factories.shop(session)
    run = SyncRun(shop_id=shop.id, kind="import", status="failed", error="bulk operation FAILED")
    progress = dashboard.import_progress(run)
    assert progress["done"] is True and "did not finish" in progress["text"]
    assert "bulk operation" not in progress["text"] and progress["error"] == "bulk operation FAILED"
