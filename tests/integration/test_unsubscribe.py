"""Unsubscribing and the suppression list: the real message's RFC 8058 headers, the
one-click POST, a later share or invitation that must not go (checked again when the job
sends), forged and other-shop tokens, the staff list; and invitations only with consent."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.emails.suppression import unsubscribe_url
from shopify_app.models import (
    AuditEntry,
    BulkJob,
    Customer,
    EmailMessage,
    EmailSuppression,
    SendQuota,
    Shop,
    TimelineEvent,
)
from tests import payloads
from tests.conftest import SHOP_A, SHOP_B

from .test_app_proxy import act, settle
from .test_customers_page import add_customer
from .test_program_pages import get, post
from .webhook_support import deliver, install, install_with_program, one, rows, run_jobs

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def store(live):
    install_with_program(live, SHOP_A)
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    settle(live)
    assert act(live, "join", {}, ada.id).status_code == 200
    return live, ada


def mailbox(live):
    return live.devstore.extensions["devstore_mailbox"]


def shared_mail(live, ada, friend="bob@example.com"):
    """Ada shares with `friend`; the message as the friend's mailbox received it."""
    assert act(live, "share", {"emails": friend}, ada.id).status_code == 200
    run_jobs(live.app)
    (mail,) = mailbox(live).to(friend)
    return mail


def link_path(url: str) -> str:
    return urlsplit(url).path


def test_a_share_carries_list_unsubscribe_headers_and_a_link_in_its_body(store):
    live, ada = store
    mail = shared_mail(live, ada)
    header = mail.headers["List-Unsubscribe"].strip()
    assert re.fullmatch(rf"<{re.escape(live.app_url)}/u/[A-Za-z0-9_-]+>", header)
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header[1:-1]
    assert url in mail.text and "To get no more emails like it" in mail.text
    assert "bob" not in url  # the address is sealed, not readable in the link


def test_the_one_click_post_suppresses_and_later_emails_are_not_sent(store):
    live, ada = store
    url = shared_mail(live, ada).headers["List-Unsubscribe"].strip()[1:-1]
    confirm = live.http.get(url)  # a link scanner's GET changes nothing
    assert confirm.status_code == 200 and "b••@example.com" in confirm.text
    assert confirm.headers["Cache-Control"] == "no-store"
    assert rows(live.app, EmailSuppression) == []
    # The mail client's RFC 8058 POST: no cookie, no login, no token but the link.
    done = live.http.post(url, data=ONE_CLICK)
    assert done.status_code == 200 and "You're unsubscribed" in done.text
    assert live.http.post(url, data=ONE_CLICK).status_code == 200  # idempotent
    entry = one(live.app, EmailSuppression)
    assert (entry.email, entry.reason, entry.source) == (
        "bob@example.com",
        "unsubscribed",
        "one_click",
    )
    assert "You're unsubscribed" in live.http.get(url).text

    again = act(live, "share", {"emails": "Bob@Example.com, cy@example.com"}, ada.id)
    assert again.status_code == 200
    assert (
        "Sent to 1 friend." in again.text and "bob@example.com does not want emails" in again.text
    )
    run_jobs(live.app)
    assert len(mailbox(live).to("bob@example.com")) == 1  # only the first one
    assert len(mailbox(live).to("cy@example.com")) == 1

    # The same person as a customer: an invitation is refused with the reason.
    bob = add_customer(
        live.app, first_name="Bob", email="bob@example.com", email_marketing_state="subscribed"
    )
    refused = post(live, f"/customers/{bob}/invite", {})
    assert refused.status_code == 422 and "suppression list" in refused.text


def test_the_job_checks_the_list_when_it_sends_not_only_when_queued(store):
    live, ada = store
    assert act(live, "share", {"emails": "dan@example.com"}, ada.id).status_code == 200
    queued = one(live.app, EmailMessage)
    url = re.search(r"https?://\S+/u/[A-Za-z0-9_-]+", queued.body_text).group(0)
    # Dan unsubscribes (from an earlier email) before the worker gets to this one.
    assert live.http.post(url, data=ONE_CLICK).status_code == 200
    # An invitation queued for a subscribed customer who then withdraws consent:
    gil = add_customer(
        live.app, first_name="Gil", email="gil@example.com", email_marketing_state="subscribed"
    )
    assert post(live, f"/customers/{gil}/invite", {}).status_code == 200
    with live.app.app_context():
        session = get_session()
        session.get(Customer, gil).email_marketing_state = "unsubscribed"
        session.commit()
    run_jobs(live.app)
    assert mailbox(live).to("dan@example.com") == mailbox(live).to("gil@example.com") == []
    share, invitation = rows(live.app, EmailMessage)
    assert share.status == invitation.status == "suppressed"
    assert "unsubscribed" in share.error and "unsubscribed from email marketing" in invitation.error
    page = get(live, "/emails", status="suppressed")
    assert f'id="email-{share.id}"' in page.text and "Not sent" in page.text


def test_forged_altered_and_other_shop_tokens_do_nothing_here(store):
    live, ada = store
    url = shared_mail(live, ada).headers["List-Unsubscribe"].strip()[1:-1]
    token = url.rsplit("/", 1)[1]
    altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for bad in (altered, "A" * len(token), "x", "not a token", token + "=="):
        assert live.http.post(f"{live.app_url}/u/{bad}", data=ONE_CLICK).status_code in (404, 405)
    assert rows(live.app, EmailSuppression) == []
    # A real link of another shop suppresses the address in that shop only.
    install(live, SHOP_B)
    with live.app.app_context():
        session = get_session()
        other = session.scalar(select(Shop).where(Shop.domain == SHOP_B))
        other_url = unsubscribe_url(other.id, "cy@example.com")
        own_id = session.scalar(select(Shop.id).where(Shop.domain == SHOP_A))
    assert live.http.post(other_url, data=ONE_CLICK).status_code == 200
    (entry,) = rows(live.app, EmailSuppression)
    assert entry.shop_id == other.id and entry.shop_id != own_id
    assert act(live, "share", {"emails": "cy@example.com"}, ada.id).status_code == 200
    run_jobs(live.app)
    assert len(mailbox(live).to("cy@example.com")) == 1
    # A token sealed under a key the app does not hold is refused.
    with live.app.app_context():
        from cryptography.fernet import Fernet

        saved = live.app.config["ENCRYPTION_KEY"]
        live.app.config["ENCRYPTION_KEY"] = Fernet.generate_key().decode()
        try:
            stranger = unsubscribe_url(own_id, "eve@example.com")
        finally:
            live.app.config["ENCRYPTION_KEY"] = saved
    assert live.http.post(stranger, data=ONE_CLICK).status_code == 404
    # Without the one-click field a POST suppresses nothing (a form must say what it does).
    assert live.http.post(url, data={}).status_code == 400
    assert len(rows(live.app, EmailSuppression)) == 1


def test_the_unsubscribe_link_survives_a_key_rotation(store):
    live, ada = store
    url = shared_mail(live, ada).headers["List-Unsubscribe"].strip()[1:-1]
    from cryptography.fernet import Fernet

    saved = live.app.config["ENCRYPTION_KEY"]
    live.app.config["ENCRYPTION_KEY"] = f"{Fernet.generate_key().decode()},{saved}"
    try:
        assert live.http.post(url, data=ONE_CLICK).status_code == 200
    finally:
        live.app.config["ENCRYPTION_KEY"] = saved
    assert one(live.app, EmailSuppression).email == "bob@example.com"


def test_a_reward_email_is_transactional(store):
    """Decision: the reward email tells an advocate the code they earned; it has no
    List-Unsubscribe and is sent even to a suppressed address."""
    from shopify_app.emails import list_unsubscribe_headers

    live, _ada = store
    with live.app.app_context():
        reward = EmailMessage(kind="reward", shop_id=1, to_address="ada@example.com")
        invitation = EmailMessage(kind="invitation", shop_id=1, to_address="ada@example.com")
        assert list_unsubscribe_headers(reward) == {}
        assert set(list_unsubscribe_headers(invitation)) == {
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
        }


def test_invitations_go_only_to_subscribed_customers_and_count_the_rest(live):
    install(live, SHOP_A)
    app = live.app
    add_customer(app, first_name="Ann", email="ann@example.com", email_marketing_state="subscribed")
    add_customer(app, first_name="Ben", email="ben@example.com")  # consent unknown
    add_customer(
        app,
        first_name="Cat",
        email="cat@example.com",
        email_normalized="cat@example.com",
        email_marketing_state="not_subscribed",
    )
    add_customer(app, first_name="Dan", email="dan@example.com", email_marketing_state="pending")
    add_customer(
        app, first_name="Eve", email="eve@example.com", email_marketing_state="unsubscribed"
    )
    add_customer(app, first_name="Fay", email="fay@example.com", email_marketing_state="subscribed")
    post(live, "/emails/suppressions", {"email": "FAY@example.com", "note": "asked by phone"})
    started = post(live, "/customers/invite", {"scope": "all", "request_key": "k"})
    assert started.status_code == 200
    run_jobs(app)
    job = one(app, BulkJob)
    assert job.status == "completed" and job.outcome == {
        "invited": 1,
        "no_consent": 3,
        "unsubscribed": 1,
        "suppressed": 1,
    }
    assert [m.to_address for m in rows(app, EmailMessage)] == ["ann@example.com"]
    progress = get(live, f"/customers/jobs/{job.id}")
    assert "Skipped, no email marketing consent: <strong" in progress.text
    assert 'data-outcome="no_consent">3' in progress.text
    assert 'data-outcome="suppressed">1' in progress.text
    single = post(live, "/advocates/invite", {"email": "cat@example.com"})
    assert single.status_code == 422
    assert "has not consented to email marketing (Shopify: not subscribed)" in single.text
    (mail,) = mailbox(live).to("ann@example.com")
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.headers["List-Unsubscribe"].strip()[1:-1] in mail.text


def test_staff_see_add_and_remove_suppressed_addresses_with_an_audit_trail(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    bad = post(live, "/emails/suppressions", {"email": "not-an-address"})
    assert bad.status_code == 422 and "is not an email address" in bad.text
    added = post(live, "/emails/suppressions", {"email": " Zed@Example.com ", "note": "<b>x</b>"})
    assert (
        added.status_code == 200 and "zed@example.com is now on the suppression list" in added.text
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in added.text and "<b>x</b>" not in added.text
    twice = post(live, "/emails/suppressions", {"email": "zed@example.com"})
    assert "was already on" in twice.text
    entry = one(live.app, EmailSuppression)
    assert (entry.reason, entry.source, entry.created_by) == ("staff", "staff", "staff:501")
    page = get(live, "/emails")
    assert f'id="suppression-{entry.id}"' in page.text and "asked" not in page.text
    assert f'id="suppression-{entry.id}"' not in get(live, "/emails", shop=SHOP_B).text
    foreign = post(live, f"/emails/suppressions/{entry.id}/remove", {}, shop=SHOP_B)
    assert "Already removed." in foreign.text and rows(live.app, EmailSuppression)
    removed = post(live, f"/emails/suppressions/{entry.id}/remove", {})
    assert "zed@example.com may get shares and invitations again" in removed.text
    assert rows(live.app, EmailSuppression) == []
    actions = [(a.action, a.actor) for a in rows(live.app, AuditEntry)]
    assert actions == [("email.suppressed", "staff:501"), ("email.unsuppressed", "staff:501")]
    assert "zed@example.com" not in repr([(a.before, a.after) for a in rows(live.app, AuditEntry)])


def test_erasure_takes_suppressions_and_counters_with_it(store):
    live, ada = store
    url = shared_mail(live, ada).headers["List-Unsubscribe"].strip()[1:-1]
    live.http.post(url, data=ONE_CLICK)
    deliver(live, SHOP_A, "customers/create", payloads.customer())
    run_jobs(live.app)
    redacted = one(live.app, Customer, Customer.shopify_id == 1001).email
    post(live, "/emails/suppressions", {"email": redacted})
    assert len(rows(live.app, EmailSuppression)) == 2
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A))
    run_jobs(live.app)
    assert [e.email for e in rows(live.app, EmailSuppression)] == ["bob@example.com"]
    events = rows(live.app, TimelineEvent, TimelineEvent.kind == "email.unsubscribed")
    assert events == []  # bob is not a customer: nothing on a timeline
    deliver(live, SHOP_A, "shop/redact", payloads.shop_redact(SHOP_A))
    run_jobs(live.app)
    assert rows(live.app, EmailSuppression) == rows(live.app, SendQuota) == []
    # A link followed after the erasure stores nothing for the erased shop.
    assert live.http.post(url, data=ONE_CLICK).status_code == 200
    assert rows(live.app, EmailSuppression) == []


def test_the_customer_page_offers_an_invitation_only_where_one_can_go(live):
    """A merchant is not offered a button the app would refuse: the page says why instead."""
    install_with_program(live, SHOP_A)
    gil = add_customer(
        live.app, first_name="Gil", email="gil@example.com", email_marketing_state="subscribed"
    )
    hal = add_customer(
        live.app, first_name="Hal", email="hal@example.com", email_marketing_state="pending"
    )
    offered = get(live, f"/customers/{gil}")
    assert "Send invitation" in offered.text and 'id="invite-refusal"' not in offered.text
    refused = get(live, f"/customers/{hal}")
    assert "Send invitation" not in refused.text
    assert "No invitation: has not consented to email marketing (Shopify: pending)." in refused.text
