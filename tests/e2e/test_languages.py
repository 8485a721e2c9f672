"""The app in Finnish in Chromium (G3): the admin opened with the staff member's language
(`locale=fi`, as Shopify passes it) keeps it from page to page, and the store's Finnish
storefront shows the referral page in Finnish. Screenshots go to tests/e2e/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import expect

from shopify_app.db import get_session
from shopify_app.models import Shop
from tests import factories
from tests.conftest import SHOP_A
from tests.integration.webhook_support import install_with_program


def test_a_finnish_merchant_and_a_finnish_shopper(live, page, screenshots_dir):
    install_with_program(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(session.query(Shop).filter_by(domain=SHOP_A).statement)
        ada = factories.customer(
            session,
            shop,
            first_name="Aino",
            last_name="Virtanen",
            customer_since=datetime(2026, 3, 7, tzinfo=UTC),
        )
        advocate = factories.advocate(session, shop, ada)
        order = factories.order(session, shop, currency="EUR", total_minor=1250)
        factories.referral(
            session, shop, advocate, order, created_at=datetime(2026, 11, 24, tzinfo=UTC)
        )
        session.commit()
        aino = ada.id

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live.admin_url("alpha-shop") + "/customers?locale=fi")
    app = page.frame_locator("#app-frame")
    expect(app.locator("s-page")).to_have_attribute("heading", "Asiakkaat", timeout=15000)
    expect(app.locator("#customers th").filter(has_text="Shopify-tila")).to_be_visible()
    expect(app.locator("#summary")).to_contain_text("asiakas")
    page.screenshot(path=str(screenshots_dir / "fi-customers-1280.png"), full_page=True)

    app.get_by_role("link", name="Aino Virtanen").click()  # a link keeps the language
    expect(app.locator("#activity-referrals")).to_contain_text("12,50\xa0€")
    expect(app.locator("#activity-referrals")).to_contain_text("24.11.2026")
    expect(app.get_by_text("Tilauksen summa")).to_be_visible()
    page.screenshot(path=str(screenshots_dir / f"fi-customer-{aino}-1280.png"), full_page=True)

    page.goto(f"{live.devstore_url}/shops/{SHOP_A}/fi/apps/referrals")
    expect(page.get_by_role("heading", name="Suosittele kauppaa")).to_be_visible()
    expect(page.get_by_role("button", name="Tilaa sähköpostiin")).to_be_visible()
    page.screenshot(path=str(screenshots_dir / "fi-storefront-1280.png"), full_page=True)


def _finnish(path: str) -> str:
    return path + ("&" if "?" in path else "?") + "locale=fi"


def test_the_inbox_and_the_admin_scripts_speak_finnish(live, page, screenshots_dir):
    """Text the scripts write (static/inbox.js, forms.js) comes from the catalogue through
    static/i18n.js: the composer's errors, the character count, the note's author, Copy."""
    import re

    from tests.e2e.admin_story import seed

    story = seed(live)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(
        live.admin_url("alpha-shop") + _finnish(f"/admin/conversations?c={story.conversation}")
    )
    app = page.frame_locator("#app-frame")
    expect(app.locator("#reply-body")).to_be_visible(timeout=15000)
    # The live line: the script replaces the page's sentence with its own, in Finnish.
    expect(app.locator("#live-state")).to_have_text(
        re.compile(r"Reaaliaikai|Yhdistetään"), timeout=15000
    )
    app.locator("#send-reply").click()
    expect(app.locator("#composer-error")).to_have_text("Kirjoita ensin vastaus.")
    app.locator("#add-note").click()
    expect(app.locator("#composer-error")).to_have_text("Kirjoita ensin muistiinpano.")
    max_body = int(app.locator("#thread").get_attribute("data-max-body"))
    app.locator("#reply-body").fill("a" * (max_body - 10))
    expect(app.locator("#char-count")).to_contain_text("merkkiä")
    expect(app.locator("#reply-body")).to_have_attribute(
        "placeholder", re.compile(r"^Vastaa: .*Enter lähettää")
    )
    page.screenshot(path=str(screenshots_dir / "fi-inbox-1280.png"), full_page=True)

    page.goto(live.admin_url("alpha-shop") + _finnish("/advocates"))
    copy = app.locator("[data-copy]").first
    expect(copy).to_be_visible(timeout=15000)
    copy.click()
    expect(copy).to_have_text(re.compile(r"^(Kopioitu|Valitse linkki ja kopioi se)$"))


FINNISH_WIDTHS = (800, 1280)


def test_finnish_admin_pages_fit_their_width(live, browser, screenshots_dir):
    """Finnish words are long: every admin page in Finnish at a narrow and a common width,
    nothing scrolling sideways or sticking out of its card and the main tables fitting at
    1280 px (the same checks as test_admin_layout.py), with a screenshot of each."""
    from tests.e2e.admin_story import admin_pages, seed
    from tests.e2e.test_admin_layout import MUST_FIT, OVERFLOW, _open, _whole_frame

    story = seed(live)
    failures = []
    for width in FINNISH_WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        try:
            for name, path in admin_pages(story).items():
                _app, frame = _open(page, live, _finnish(path))
                assert frame.evaluate("() => document.documentElement.lang") == "fi", name
                _whole_frame(page, frame)
                page.screenshot(
                    path=str(screenshots_dir / f"fi-layout-{name}-{width}.png"), full_page=True
                )
                found = frame.evaluate(OVERFLOW)
                failures += [f"{name} at {width} px: {p}" for p in found["problems"]]
                if width >= 1280 and name in MUST_FIT and found["scrolling"]:
                    failures.append(f"{name} at {width} px: {found['scrolling']} scroll")
        finally:
            context.close()
    assert not failures, "\n".join(failures)
