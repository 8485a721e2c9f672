"""Pages in the admin's and the shopper's language (G3): Shopify's `locale` parameter turns
the admin Finnish (navigation, table headers, dates and money in Finnish formats) and stays on
every link; the storefront page follows the store's language folder, then Accept-Language;
without either everything stays in English as before."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import Shop
from tests import factories
from tests.conftest import SHOP_A
from tests.helpers import proxy_query

from .test_program_pages import get, post
from .webhook_support import install, install_with_program


@pytest.fixture
def customer_with_referral(live):
    install(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        ada = factories.customer(
            session, shop, first_name="Ada", customer_since=datetime(2026, 3, 7, tzinfo=UTC)
        )
        advocate = factories.advocate(session, shop, ada)
        order = factories.order(session, shop, currency="EUR", total_minor=1250)
        factories.referral(
            session, shop, advocate, order, created_at=datetime(2026, 11, 24, 9, tzinfo=UTC)
        )
        session.commit()
        return ada.id


def test_the_admin_speaks_finnish_with_shopifys_locale(live, customer_with_referral):
    page = get(live, f"/customers/{customer_with_referral}", locale="fi-FI", shop=SHOP_A)
    assert page.status_code == 200
    html = page.text
    assert '<html lang="fi">' in html
    assert ">Asiakkaat</s-link>" in html and ">Asetukset</s-link>" in html  # navigation
    assert '<th scope="col" class="num">Tilauksen summa</th>' in html  # a table header
    assert "12,50\xa0€" in html  # money, Finnish format
    assert "<td>24.11.2026</td>" in html  # a date, Finnish format
    assert "Order total" not in html and "2026-11-24" not in html
    assert re.search(r"Liittyi \d{1,2}\.\d{1,2}\.\d{4}<", html)  # the hub's date, shop's zone
    # Every app link keeps the language, like shop/host/embedded.
    links = re.findall(r'href="(/[^"]*)"', html)
    app_links = [u for u in links if u.startswith(("/customers", "/portal", "/settings"))]
    assert app_links and all("locale=fi" in u for u in app_links)

    listing = get(live, "/customers", locale="fi", shop=SHOP_A).text
    assert ">Shopify-tila</th>" in listing
    assert "7.3.2026" in listing  # customer since
    assert '<input type="hidden" name="locale" value="fi">' in listing  # the search form keeps it
    filtered = get(live, "/customers", locale="fi", shop=SHOP_A, program="joined").text
    assert "Ohjelma: Liittynyt" in filtered  # the filter's chip
    assert "1</strong> asiakas vastaa hakua" in filtered


def test_the_admin_stays_english_without_a_locale_or_with_an_unknown_one(
    live, customer_with_referral
):
    for params in ({}, {"locale": "en-US"}, {"locale": "xx"}, {"locale": "<script>"}):
        html = get(live, f"/customers/{customer_with_referral}", shop=SHOP_A, **params).text
        assert '<html lang="en">' in html
        assert ">Customers</s-link>" in html
        assert '<th scope="col" class="num">Order total</th>' in html
        assert "12.50 EUR" in html
        assert "<td>2026-11-24</td>" in html
        assert "locale=" not in html


def storefront(live, prefix="/apps/referrals", headers=None):
    query = proxy_query(SHOP_A)
    query["path_prefix"] = prefix  # as Shopify signs it on a store's language folder
    signed = _resign(query)
    return live.http.get(f"{live.app_url}/proxy", params=signed, headers=headers or {})


def _resign(query):
    import hashlib
    import hmac

    from tests.helpers import API_SECRET

    params = {k: v for k, v in query.items() if k != "signature"}
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(
        API_SECRET.encode(), message.encode(), hashlib.sha256
    ).hexdigest()
    return params


def test_the_storefront_page_follows_the_stores_language(live):
    install_with_program(live, SHOP_A)
    finnish = storefront(live, f"/shops/{SHOP_A}/fi/apps/referrals")
    assert finnish.status_code == 200
    assert '<html lang="fi">' in finnish.text
    assert "Suosittele kauppaa" in finnish.text
    assert "15\xa0% alennus" in finnish.text  # the friend offer, worded in Finnish
    assert "Tilaa uutiset ja tarjoukset" in finnish.text
    assert f'href="/shops/{SHOP_A}/fi/account/login' in finnish.text  # login keeps the folder

    browser = storefront(live, headers={"Accept-Language": "fi-FI,fi;q=0.9,en;q=0.5"})
    assert "Suosittele kauppaa" in browser.text

    english = storefront(live, headers={"Accept-Language": "de-DE,en;q=0.5"})
    assert '<html lang="en">' in english.text
    assert "Refer a friend to" in english.text and "15% off" in english.text


def test_a_language_folder_outside_the_signature_changes_nothing(live):
    """`path_prefix` is signed: a shopper cannot smuggle one in."""
    install_with_program(live, SHOP_A)
    query = proxy_query(SHOP_A)
    query["path_prefix"] = f"/shops/{SHOP_A}/fi/apps/referrals"  # after signing
    response = live.http.get(f"{live.app_url}/proxy", params=query)
    assert response.status_code in (401, 403)


def test_the_devstores_finnish_storefront_reaches_the_app_in_finnish(live):
    """Through the devstore's app proxy, as Shopify proxies a language folder."""
    install_with_program(live, SHOP_A)
    store = f"{live.devstore_url}/shops/{SHOP_A}"
    finnish = live.http.get(f"{store}/fi/apps/referrals")
    assert finnish.status_code == 200
    assert "Suosittele kauppaa" in finnish.text
    assert f'action="/shops/{SHOP_A}/fi/apps/referrals/subscribe"' in finnish.text
    english = live.http.get(f"{store}/apps/referrals")
    assert "Refer a friend to" in english.text
    assert live.http.get(f"{store}/xx/apps/referrals").status_code == 404


# ---- sentences built in Python, the scripts' sentences, the API reference (issue 21, G3) ----

BAD_SETTINGS = {
    "enabled": "on",
    "friend_kind": "percentage",
    "friend_value": "0",
    "friend_min_subtotal": "0",
    "reward_kind": "fixed_amount",
    "reward_value": "ten",
    "reward_expiry_days": "60",
    "reward_trigger": "sometime",
    "approval_mode": "auto",
    "approval_delay_hours": "0",
}


def test_settings_validation_errors_in_finnish_and_english(live):
    install(live, SHOP_A)
    finnish = post(live, "/settings", BAD_SETTINGS, locale="fi")
    assert finnish.status_code == 422
    assert "3 kenttää vaatii huomiota:" in finnish.text
    assert "Ystävän alennuksen prosentti: anna kokonaisluku väliltä 1–100." in finnish.text
    assert "Suosittelijan palkinnon on oltava positiivinen summa valuutassa" in finnish.text
    assert "Valitse, milloin palkinto annetaan." in finnish.text
    assert "must be a whole number" not in finnish.text and "fields need" not in finnish.text

    english = post(live, "/settings", BAD_SETTINGS)
    assert english.status_code == 422
    assert "3 fields need attention:" in english.text
    assert "The friend discount percentage must be a whole number from 1 to 100." in english.text
    assert "The advocate reward amount must be a positive amount in" in english.text
    assert "Choose when the reward is given." in english.text


def html_text(html: str) -> str:
    import html as html_module

    return html_module.unescape(html)


def _blocked_self_referral(live) -> tuple[int, int]:
    """The advocate's own order: a referral blocked by a fraud rule, its explanation stored
    in English, and the customer's timeline (order placed, referral blocked)."""
    from shopify_app.sync import order_flow

    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        owner = factories.customer(session, shop, first_name="Aino")
        advocate = factories.advocate(session, shop, owner)
        order_flow.apply_order(
            session,
            shop,
            factories.order_payload(
                advocate.code, cid=owner.shopify_id, financial_status="paid", currency="EUR"
            ),
        )
        session.commit()
        from shopify_app.models import Referral

        referral = session.scalar(select(Referral).where(Referral.shop_id == shop.id))
        assert referral.status_reason == "The friend is the advocate's own customer account."
        return owner.id, referral.id


def test_stored_sentences_fraud_explanations_and_the_timeline_in_finnish(live):
    install_with_program(live, SHOP_A)
    customer_id, referral_id = _blocked_self_referral(live)

    page = html_text(get(live, f"/customers/{customer_id}", locale="fi").text)
    assert "Suosittelu estettiin: ystävä on suosittelijan oma asiakastili." in page
    assert re.search(r"Tilaus #\d+ tehtiin, summa [\d\xa0,]+\xa0€", page)
    assert "Ajat aikavyöhykkeellä" in page
    assert "own customer account" not in page and "Referral blocked" not in page
    for english_word in ("This app", "The app, automatically", "Undo: unblock", "Staff actions"):
        assert english_word not in page

    english = html_text(get(live, f"/customers/{customer_id}").text)
    assert "Referral blocked: the friend is the advocate's own customer account." in english
    assert re.search(r"Order #\d+ placed for [\d.,]+ EUR", english)

    referral = html_text(get(live, f"/portal/referrals/{referral_id}", locale="fi").text)
    assert "Ystävä on suosittelijan oma asiakastili." in referral  # the rule's explanation
    assert "Ei palkintoa: suosittelu estettiin." in referral
    assert "Sama asiakas" in referral  # the rule's title
    assert "Estetty väärinkäyttösäännöllä ”Sama asiakas”" in referral  # the history line
    english = html_text(get(live, f"/portal/referrals/{referral_id}").text)
    assert "No reward: the referral was blocked. The friend is the advocate's own" in english
    assert "Blocked by the fraud rule “Same customer”" in english


def test_the_audit_page_in_finnish(live):
    install(live, SHOP_A)
    from .test_program_pages import SETTINGS

    assert post(live, "/settings", SETTINGS, locale="fi").status_code == 200
    audit = get(live, "/portal/audit", locale="fi").text
    assert "Muutti suositteluohjelman asetuksia" in audit
    assert "Ohjelma käytössä" in audit  # a field of the change
    assert "Ohjelman asetukset" in audit  # the subject
    assert "Changed the referral program" not in audit
    english = html_text(get(live, "/portal/audit").text)
    assert "Changed the referral program's settings" in english and "Program on" in english


def test_the_home_dashboard_in_finnish(live):
    install_with_program(live, SHOP_A)
    home = get(live, "/", locale="fi").text
    assert "Viimeiset 30 päivää" in home
    assert "Suosittelut päivittäin" in home  # a chart's title
    assert "Ei yhtään tällä jaksolla" in home  # an empty chart
    assert "per day" not in home and "None in this period" not in home
    bad = get(live, "/", locale="fi", period="custom", **{"from": "x", "to": "y"}).text
    assert "Anna mukautetun jakson molemmat päivät muodossa VVVV-KK-PP." in bad
    english = get(live, "/").text
    assert "Last 30 days" in english and "Referrals per day" in english


def test_the_scripts_sentences_come_with_a_finnish_page_only(live):
    import html as html_module
    import json

    install(live, SHOP_A)
    finnish = get(live, "/customers", locale="fi").text
    found = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', finnish)
    assert found, "a Finnish page carries its scripts' sentences"
    messages = json.loads(html_module.unescape(found.group(1)))
    assert messages["Copied"] == "Kopioitu"
    assert messages["Could not load this view: %(error)s."] == (
        "Näkymää ei voitu ladata: %(error)s."
    )
    assert messages["%(name)s is typing…"] == "%(name)s kirjoittaa…"
    assert "/static/i18n.js" in finnish
    english = get(live, "/customers").text
    assert 'id="i18n"' not in english and "/static/i18n.js" in english


def test_the_api_reference_in_finnish(live):
    finnish = live.http.get(f"{live.app_url}/api/v1/docs", params={"locale": "fi"}).text
    assert '<html lang="fi">' in finnish
    assert "<h3>Parametrit</h3>" in finnish and "<h3>Vastaukset</h3>" in finnish
    assert "vaatii luku- ja kirjoitusavaimen" in finnish
    english = live.http.get(f"{live.app_url}/api/v1/docs").text
    assert "<h3>Parameters</h3>" in english and "needs a read-and-write key" in english


def test_the_language_a_customer_bought_in_reaches_the_app(live):
    """Shopify's `customer_locale` on the order webhook is kept as the customer's language."""
    from devstore import commerce
    from shopify_app.models import Customer

    from .test_program_pages import LINES, settle
    from .webhook_support import one

    install(live, SHOP_A)
    aino = commerce.create_customer(live.state, SHOP_A, email="aino@example.com")
    commerce.place_order(live.state, SHOP_A, customer_id=aino.id, lines=LINES, customer_locale="fi")
    settle(live)
    assert one(live.app, Customer).locale == "fi"
