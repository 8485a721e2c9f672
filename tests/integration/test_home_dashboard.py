"""Home over HTTP with real ID tokens: the dashboard's numbers per period and per shop, the
import-progress endpoint the page polls, the missing-permissions banner, the favicon."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import EmailMessage, Referral, ReferralClick, Shop, SyncRun, utcnow
from tests import factories
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token

from .webhook_support import install

WRONG_SECRET = "not-the-app-secret-0123456789abcdef"


def auth(shop=SHOP_A):
    return {"Authorization": f"Bearer {id_token(shop)}"}


def get(live, path, shop=SHOP_A, **params):
    return live.http.get(f"{live.app_url}{path}", params=params, headers=auth(shop))


def shop_row(session, domain) -> Shop:
    return session.scalars(select(Shop).where(Shop.domain == domain)).one()


def seed(live, domain: str, *, recent: int, older: int, clicks: int, shares: int) -> None:
    """`recent` completed referrals 2 days ago (each order 40.00, 5.00 refunded), `older`
    pending ones 20 days ago, `clicks` clicks and `shares` shares 2 days ago."""
    now = utcnow()
    with live.app.app_context():
        session = get_session()
        shop = shop_row(session, domain)
        advocate = factories.advocate(session, shop)
        for when, status, n in (
            (now - timedelta(days=2), "completed", recent),
            (now - timedelta(days=20), "pending", older),
        ):
            for _ in range(n):
                friend = factories.customer(session, shop)
                order = factories.order(
                    session, shop, friend, total_minor=4_000, refunded_minor=500
                )
                factories.referral(
                    session,
                    shop,
                    advocate,
                    order,
                    status=status,
                    created_at=when,
                    completed_at=when if status == "completed" else None,
                )
        for _ in range(clicks):
            session.add(
                ReferralClick(
                    shop_id=shop.id, advocate_id=advocate.id, clicked_at=now - timedelta(days=2)
                )
            )
        for i in range(shares):
            session.add(
                EmailMessage(
                    shop_id=shop.id,
                    kind="share",
                    to_address=f"friend{i}@example.com",
                    subject="A gift",
                    body_text="…",
                    dedupe_key=f"share:{i}",
                    created_at=now - timedelta(days=2),
                )
            )
        session.commit()


def metric(html: str, name: str) -> str:
    found = re.search(rf'data-metric="{name}">([^<]*)<', html)
    assert found, f"no {name} on the page"
    return found.group(1).strip()


def test_the_dashboard_counts_the_period_of_each_shop_only(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    seed(live, SHOP_A, recent=3, older=2, clicks=10, shares=4)
    seed(live, SHOP_B, recent=1, older=0, clicks=0, shares=7)

    week = get(live, "/", period="7d")
    assert week.status_code == 200
    text = week.text
    assert [metric(text, m) for m in ("referrals", "completed", "clicks", "shares")] == [
        "3",
        "3",
        "10",
        "4",
    ]
    assert metric(text, "revenue") == "105.00 EUR"  # 3 × (40.00 − 5.00)
    assert metric(text, "conversion") == "30.0 %"
    assert 'aria-current="page">Last 7 days' in text

    month = get(live, "/", period="30d").text
    assert metric(month, "referrals") == "5" and metric(month, "completed") == "3"
    assert metric(month, "conversion") == "50.0 %"

    other = get(live, "/", SHOP_B, period="30d").text
    assert [metric(other, m) for m in ("referrals", "completed", "clicks", "shares")] == [
        "1",
        "1",
        "0",
        "7",
    ]
    assert metric(other, "conversion") == "—"  # no clicks: no rate


def test_charts_are_svg_with_a_title_a_description_and_a_table_of_the_numbers(live):
    install(live, SHOP_A)
    seed(live, SHOP_A, recent=2, older=0, clicks=0, shares=0)
    page = get(live, "/", period="7d").text
    charts = re.findall(r'<svg class="chart[^>]*role="img"[^>]*aria-labelledby="([^"]+)"', page)
    assert len(charts) == 5
    for labelled_by in charts:
        title_id, desc_id = labelled_by.split()
        assert f'<title id="{title_id}">' in page and f'<desc id="{desc_id}">' in page
    assert "Completed referrals per day" in page and "2 in all; the most, 2, on" in page
    table = page[page.index('id="daily-numbers"') :]
    assert table.count('<tr><th scope="row">') == 7
    assert "cdn.shopify.com" not in page.split("<body>", 1)[1]  # the charts need no CDN


def test_a_custom_range_and_a_refused_one(live):
    install(live, SHOP_A)
    seed(live, SHOP_A, recent=1, older=2, clicks=0, shares=0)
    today = utcnow().date()
    first = (today - timedelta(days=25)).isoformat()
    last = (today - timedelta(days=15)).isoformat()
    page = get(live, "/", period="custom", **{"from": first, "to": last}).text
    assert metric(page, "referrals") == "2" and metric(page, "completed") == "0"
    assert f'value="{first}"' in page and f"{first} to {last}" in page
    refused = get(live, "/", period="custom", **{"from": last, "to": first}).text
    assert "The custom range starts after it ends. Showing the last 30 days." in refused
    assert metric(refused, "referrals") == "3"


def test_program_state_links_to_settings(live):
    install(live, SHOP_A)
    page = get(live, "/").text
    assert "Turn it on in Settings" in page and 'id="settings-link"' in page
    with live.app.app_context():
        session = get_session()
        factories.program(session, shop_row(session, SHOP_A))
        session.commit()
    page = get(live, "/").text
    assert '<span class="badge active">On</span>' in page and "Change in Settings" in page


def test_import_progress_endpoint_follows_the_run_and_is_the_shops_own(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    none = get(live, "/import/progress")
    assert none.status_code == 200 and none.json()["status"] == "none"
    assert none.json()["done"] is True
    assert none.headers["Cache-Control"] == "no-store"
    with live.app.app_context():
        session = get_session()
        run = SyncRun(
            shop_id=shop_row(session, SHOP_A).id,
            kind="import",
            status="running",
            phase="customers",
            bulk_operation_gid="gid://shopify/BulkOperation/1",
            customers_synced=500,
        )
        session.add(run)
        session.commit()
        run_id = run.id
    running = get(live, "/import/progress").json()
    assert running["done"] is False and running["customers"] == 500
    assert running["text"] == (
        "Importing your store's customers… 500 customers and 0 orders imported so far."
    )
    home = get(live, "/").text
    assert 'data-running="1"' in home and "/import/progress" in home
    assert get(live, "/import/progress", SHOP_B).json()["status"] == "none"  # not A's run

    with live.app.app_context():
        session = get_session()
        run = session.get(SyncRun, run_id)
        run.status, run.phase, run.orders_synced = "completed", None, 3
        run.finished_at = utcnow()
        session.commit()
    done = get(live, "/import/progress").json()
    assert done["done"] is True and done["text"].startswith(
        "Imported 500 customers and 3 orders on "
    )
    assert "data-running" not in get(live, "/").text  # nothing left to poll


def test_import_progress_needs_a_valid_id_token(live):
    install(live, SHOP_A)
    forged = live.http.get(
        f"{live.app_url}/import/progress",
        headers={"Authorization": f"Bearer {id_token(SHOP_A, secret=WRONG_SECRET)}"},
    )
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_session"
    bare = live.http.get(f"{live.app_url}/import/progress")
    assert bare.status_code in (302, 400) and "application/json" not in bare.headers.get(
        "Content-Type", ""
    )


def test_scopes_are_not_listed_unless_one_is_missing(live):
    install(live, SHOP_A)
    page = get(live, "/").text
    assert "read_customers" not in page and "write_discounts" not in page
    assert "missing permissions" not in page
    with live.app.app_context():
        session = get_session()
        shop = shop_row(session, SHOP_A)
        shop.scopes = (
            "read_customers,write_customers,read_discounts,write_discounts,write_app_proxy"
        )
        session.commit()
    page = get(live, "/").text
    banner = page[page.index('id="missing-permissions"') :]
    banner = " ".join(banner[: banner.index("</s-banner>")].split())
    assert "see your orders (to find referrals)" in banner
    assert '<code class="code">read_orders</code>' in banner
    assert "approve the updated permissions" in banner
    assert "write_discounts" not in banner  # only the missing one is named


def test_the_favicon_is_served(live):
    for base in (live.app_url, live.devstore_url):
        response = live.http.get(f"{base}/favicon.ico")
        assert response.status_code == 200
        assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_referral_rows_of_the_other_shop_stay_out_of_the_daily_table(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    seed(live, SHOP_B, recent=4, older=0, clicks=3, shares=0)
    page = get(live, "/", period="7d").text
    assert metric(page, "referrals") == "0" and metric(page, "clicks") == "0"
    with live.app.app_context():
        assert get_session().scalar(select(Referral.id).limit(1)) is not None


def test_reconciliation_runs_are_reported_in_words(live):
    install(live, SHOP_A)
    assert "No check has run yet." in get(live, "/").text
    now = utcnow()
    with live.app.app_context():
        session = get_session()
        shop = shop_row(session, SHOP_A)
        for minutes, status, orders, error in (
            (45, "completed", 0, None),
            (30, "failed", 0, "ReadTimeout: the read operation timed out"),
            (15, "completed", 3, None),
        ):
            session.add(
                SyncRun(
                    shop_id=shop.id,
                    kind="reconcile",
                    status=status,
                    orders_recovered=orders,
                    error=error,
                    started_at=now - timedelta(minutes=minutes),
                    finished_at=now - timedelta(minutes=minutes - 1),
                )
            )
        session.commit()
    page = get(live, "/").text
    start = page.index('id="reconcile-report"')
    report = page[start : page.index("</table>", start)]
    rows = report.split("<tr>")[2:]  # newest first
    assert "Recovered 3 orders and 0 customers that Shopify's notifications missed" in rows[0]
    assert "Did not finish" in rows[1] and "The next check covers this time again." in rows[1]
    technical = rows[1][rows[1].index('<details class="technical">') :]
    assert "ReadTimeout" in technical  # the engineers' form, kept apart
    assert "ReadTimeout" not in rows[1][: rows[1].index('<details class="technical">')]
    assert "Nothing was missing" in rows[2]
