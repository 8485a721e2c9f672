"""Share by email from the storefront page, as an abuser would try it: one recipient mailed
by many advocates, a shop's whole day of mail, many accounts from one address, phishing
text as a "name"; and the quota counters under concurrency."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session

from devstore import commerce
from shopify_app.db import database, get_session
from shopify_app.emails import quotas
from shopify_app.models import EmailMessage, SendQuota, Shop
from tests.conftest import SHOP_A
from tests.helpers import proxy_query

from .test_app_proxy import act, settle
from .webhook_support import install, install_with_program, rows, run_jobs


@pytest.fixture
def store(live):
    """Shop A installed with its program on (15 % off for friends)."""
    install_with_program(live, SHOP_A)
    return live


def advocates(live, *names: str):
    """Storefront customers who joined the program (from their own page)."""
    made = [
        commerce.create_customer(live.state, SHOP_A, email=f"{n.lower()}@example.com", first_name=n)
        for n in names
    ]
    settle(live)
    for customer in made:
        assert act(live, "join", {}, customer.id).status_code == 200
    return made


def share(live, customer, emails, ip="198.51.100.7"):
    return act_from(live, customer.id, {"emails": emails}, ip)


def act_from(live, customer_id, data, ip):
    """`act` from one client address (Shopify's proxy passes it on)."""
    import re

    headers = {"X-Forwarded-For": ip}
    page = live.http.get(
        f"{live.app_url}/proxy", params=proxy_query(SHOP_A, customer_id), headers=headers
    )
    token = re.search(r'name="token" value="([0-9a-f]+)"', page.text).group(1)
    return live.http.post(
        f"{live.app_url}/proxy/share",
        params=proxy_query(SHOP_A, customer_id),
        data={**data, "token": token},
        headers=headers,
    )


def shares(live) -> list[str]:
    return sorted(m.to_address for m in rows(live.app, EmailMessage, EmailMessage.kind == "share"))


def test_a_recipient_mailed_by_other_advocates_up_to_the_limit_gets_no_more(store, monkeypatch):
    live = store
    monkeypatch.setitem(live.app.config, "SHARE_LIMIT_PER_RECIPIENT", 2)
    ben, cy, dee = advocates(live, "Ben", "Cy", "Dee")
    assert share(live, ben, "target@example.com", ip="198.51.100.1").status_code == 200
    assert share(live, cy, "Target@Example.com", ip="198.51.100.2").status_code == 200
    refused = share(live, dee, "target@example.com", ip="198.51.100.3")
    assert refused.status_code == 429
    assert "target@example.com has had enough invitations" in refused.text
    # Mixed with a fresh address: that one goes, the exhausted one is named and left out.
    mixed = share(live, dee, "target@example.com, other@example.com", ip="198.51.100.3")
    assert mixed.status_code == 200 and "Sent to 1 friend." in mixed.text
    assert "target@example.com has had enough" in mixed.text
    assert shares(live) == ["other@example.com", "target@example.com", "target@example.com"]
    # Gmail's dots and +tags are one mailbox: they do not reset the count.
    monkeypatch.setitem(live.app.config, "SHARE_LIMIT_PER_RECIPIENT", 1)
    assert share(live, ben, "pat.smith@gmail.com", ip="198.51.100.1").status_code == 200
    assert share(live, cy, "patsmith+deals@gmail.com", ip="198.51.100.2").status_code == 429


def test_the_shop_has_a_daily_cap_across_all_advocates(store, monkeypatch):
    live = store
    monkeypatch.setitem(live.app.config, "SHARE_LIMIT_PER_SHOP", 3)
    ben, cy = advocates(live, "Ben", "Cy")
    first = share(live, ben, "f1@example.com, f2@example.com", ip="198.51.100.1")
    assert first.status_code == 200
    over = share(live, cy, "f3@example.com, f4@example.com", ip="198.51.100.2")
    assert over.status_code == 429 and "The store has sent all the invitations" in over.text
    assert shares(live) == ["f1@example.com", "f2@example.com"]
    # The refused share counted nothing: the last unit is still there for one friend.
    assert share(live, cy, "f3@example.com", ip="198.51.100.2").status_code == 200
    assert share(live, cy, "f4@example.com", ip="198.51.100.2").status_code == 429
    assert len(shares(live)) == 3


def test_one_client_address_cannot_share_beyond_its_limit_with_many_accounts(store, monkeypatch):
    live = store
    monkeypatch.setitem(live.app.config, "SHARE_LIMIT_PER_IP", 3)
    ben, cy = advocates(live, "Ben", "Cy")
    assert share(live, ben, "a@example.com, b@example.com", ip="203.0.113.9").status_code == 200
    over = share(live, cy, "c@example.com, d@example.com", ip="203.0.113.9")
    assert over.status_code == 429 and "from your network" in over.text
    assert shares(live) == ["a@example.com", "b@example.com"]
    # The per-advocate limit is separate: Cy alone has used nothing.
    with live.app.app_context():
        session = get_session()
        scopes = {(q.scope, q.count) for q in session.query(SendQuota)}
    assert ("advocate", 2) in scopes and ("ip", 2) in scopes and ("shop", 2) in scopes


def test_a_name_with_a_link_reaches_neither_subject_nor_body(store):
    live = store
    (mal,) = [
        commerce.create_customer(
            live.state,
            SHOP_A,
            email="mal@example.com",
            first_name="Account locked, verify at https://evil.example/login or evil.example",
        )
    ]
    settle(live)
    act(live, "join", {}, mal.id)
    assert share(live, mal, "victim@example.com").status_code == 200
    run_jobs(live.app)
    (mail,) = live.devstore.extensions["devstore_mailbox"].to("victim@example.com")
    assert mail.subject == "A friend sent you 15% off at Alpha Shop"
    for text in (mail.subject, mail.text):
        assert "evil" not in text and "https:" not in text and "locked" not in mail.subject
    greeting = mail.text.split(" shops at Alpha Shop")[0].rsplit("\n", 1)[-1]
    assert len(greeting) <= 40 and "." not in greeting and "/" not in greeting
    (logged,) = rows(live.app, EmailMessage)
    assert "evil" not in logged.subject and "evil" not in logged.body_text


def test_quota_counters_let_only_one_of_two_concurrent_shares_take_the_last_unit(live):
    """Two transactions race for the last unit: the second waits on the first's row and
    then finds the counter full (PostgreSQL re-checks the condition on the newest row;
    SQLite has one writer)."""
    install(live, SHOP_A)
    with live.app.app_context():
        shop_id = get_session().query(Shop).filter_by(domain=SHOP_A).one().id
        engine = database().engine
        limit = quotas.Limit("shop", "all", 3)
        with Session(engine) as setup:
            assert quotas.take(setup, shop_id, limit, 2)
            setup.commit()
        first = Session(engine)
        assert quotas.take(first, shop_id, limit, 1)  # holds the row until it commits
        outcome: dict[str, bool] = {}

        def second() -> None:
            with live.app.app_context(), Session(engine) as other:
                outcome["second"] = quotas.take(other, shop_id, limit, 1)
                other.commit()

        racer = threading.Thread(target=second)
        racer.start()
        racer.join(0.5)  # it is waiting for the first transaction's lock (or done, if broken)
        first.commit()
        first.close()
        racer.join(30)
        assert not racer.is_alive()
        assert outcome == {"second": False}
        with Session(engine) as check:
            (row,) = check.query(SendQuota).all()
            assert row.count == 3


@pytest.mark.parametrize("n, fits", [(1, True), (3, True), (4, False)])
def test_a_take_larger_than_the_limit_never_counts(live, n, fits):
    install(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop_id = session.query(Shop).filter_by(domain=SHOP_A).one().id
        assert quotas.take(session, shop_id, quotas.Limit("ip", "k", 3), n) is fits
        session.commit()
        counts = [q.count for q in session.query(SendQuota)]
    assert counts == ([n] if fits else [])
