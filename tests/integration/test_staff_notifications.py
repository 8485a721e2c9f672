"""Staff notifications (issue 20, F7) over HTTP with real ID tokens: the unread count in
every app page's navigation and its JSON (scoped by shop, archived left out), notify.js on
every shop page, the notification setting (bad values refused with the reason, another
shop's untouched), and the unread-email sweep run by two workers at once: one email."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from shopify_app.conversations import staff_alerts
from shopify_app.db import get_session
from shopify_app.models import Conversation, ConversationMessage, EmailMessage, Shop, StaffMember
from tests import payloads
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token
from workers import conversation_jobs
from workers.schedule import PERIODIC_JOBS

from .test_conversation_privacy import ADA_EMAIL, chat, seed
from .test_inbox import start
from .test_program_pages import auth, get
from .webhook_support import deliver, install, run_jobs

NAV = re.compile(r'<s-link [^>]*data-nav="conversations"[^>]*>([^<]*)</s-link>')


@pytest.fixture
def shops(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    return live


def nav_label(page) -> str:
    assert page.status_code == 200, page.text[:300]
    found = NAV.search(page.text)
    assert found, "no Conversations link in the navigation"
    return found.group(1)


def shop_row(session, domain) -> Shop:
    return session.scalars(select(Shop).where(Shop.domain == domain)).one()


def test_every_app_page_shows_the_shops_unread_count_without_archived_ones(shops):
    live = shops
    for page in ("/", "/customers", "/settings", "/admin/conversations"):
        assert nav_label(get(live, page)) == "Conversations"
    start(live, SHOP_A, "mia@example.com", ("shopper", "Is the teapot in stock?"), name="Mia")
    start(live, SHOP_A, "bo@example.com", ("shopper", "Hello?"), ("shopper", "Anyone?"))
    start(live, SHOP_A, "old@example.com", ("shopper", "Old"), archived=True)
    start(live, SHOP_A, "done@example.com", ("shopper", "Thanks"), ("staff", "You're welcome"))
    start(live, SHOP_B, "b@example.com", ("shopper", "Another shop's"))
    for page in ("/", "/customers", "/settings", "/admin/conversations", "/portal"):
        response = get(live, page)
        assert nav_label(response) == "Conversations (2)", page
        assert 'id="staff-notify"' in response.text and "notify.js" in response.text
    assert nav_label(get(live, "/customers", shop=SHOP_B)) == "Conversations (1)"
    counted = get(live, "/admin/unread-count")
    assert counted.json() == {"unread_conversations": 2}
    assert counted.headers["Cache-Control"] == "no-store"
    assert get(live, "/admin/unread-count", shop=SHOP_B).json() == {"unread_conversations": 1}
    # Reading one lowers the count.
    mia = start(live, SHOP_A, "mia@example.com")
    read = live.http.post(f"{live.app_url}/admin/conversations/{mia}/read", headers=auth())
    assert read.status_code == 204
    assert get(live, "/admin/unread-count").json() == {"unread_conversations": 1}
    assert nav_label(get(live, "/customers")) == "Conversations (1)"


def test_the_count_needs_a_valid_id_token(shops):
    live = shops
    bare = live.http.get(f"{live.app_url}/admin/unread-count")
    assert (
        bare.status_code == 400 and "unread_conversations" not in bare.text
    )  # "open from the admin"
    forged = id_token(SHOP_A, user_id=501, secret="not-the-secret-but-long-enough-for-hs256!")
    answer = live.http.get(
        f"{live.app_url}/admin/unread-count", headers={"Authorization": f"Bearer {forged}"}
    )
    assert answer.status_code == 401


def settings(live, payload, shop=SHOP_A, **kwargs):
    return live.http.post(
        f"{live.app_url}/admin/notification-settings",
        headers=auth(shop),
        **({"json": payload} if payload is not None else kwargs),
    )


def test_the_delay_setting_is_validated_and_kept_per_shop(shops):
    live = shops
    page = get(live, "/settings")
    assert page.status_code == 200
    assert "Email the assigned staff member about a message unread for this many minutes" in (
        page.text
    )
    assert 'id="f-unread_email_minutes"' in page.text and 'value="10"' in page.text
    assert "Turn on desktop notifications" in page.text
    saved = settings(live, {"unread_email_minutes": "25"})
    assert saved.status_code == 200 and saved.json() == {"unread_email_minutes": 25}
    assert settings(live, {"unread_email_minutes": 0}).json() == {"unread_email_minutes": 0}
    assert settings(live, {"unread_email_minutes": 15}).status_code == 200
    for bad, says in (
        ("ten", "The delay must be a whole number of minutes, from 0 (no emails) to 10,080"),
        ("-1", "whole number of minutes"),
        ("1.5", "whole number of minutes"),
        (None, "whole number of minutes"),
        (True, "whole number of minutes"),
        ({"x": 1}, "whole number of minutes"),
        ("10081", "The delay can be at most 10,080 minutes (a week)."),
    ):
        refused = settings(live, {"unread_email_minutes": bad})
        assert refused.status_code == 422, bad
        assert says in refused.json()["error"], bad
    for malformed in ({}, [15]):
        refused = settings(live, malformed)
        assert refused.status_code == 400
        assert refused.json()["error"] == (
            'Send JSON with the delay in minutes as "unread_email_minutes".'
        )
    form = settings(live, None, data={"unread_email_minutes": "5"})
    assert form.status_code == 400
    forged = id_token(SHOP_A, user_id=501, secret="not-the-secret-but-long-enough-for-hs256!")
    unsigned = live.http.post(
        f"{live.app_url}/admin/notification-settings",
        json={"unread_email_minutes": 1},
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert unsigned.status_code == 401
    with live.app.app_context():
        session = get_session()
        assert shop_row(session, SHOP_A).unread_email_minutes == 15  # nothing lost
        assert shop_row(session, SHOP_B).unread_email_minutes == 10  # another shop untouched
    assert 'value="15"' in get(live, "/settings").text


def overdue_assigned_thread(live, domain, email, minutes_ago=30):
    """An unread conversation of `domain` assigned to a staff member with an address, its
    shopper message `minutes_ago` old."""
    cid = start(live, domain, email, ("shopper", "Is the teapot in stock?"), name="Mia")
    with live.app.app_context():
        session = get_session()
        shop = shop_row(session, domain)
        member = StaffMember(
            shop_id=shop.id,
            user_id=900 + cid,
            first_name="Grace",
            email=f"grace{cid}@example.com",
            chat_permission=True,
        )
        session.add(member)
        session.flush()
        conversation = session.get(Conversation, cid)
        conversation.assigned_staff_id = member.id
        for message in session.scalars(
            select(ConversationMessage).where(ConversationMessage.conversation_id == cid)
        ):
            message.created_at = message.created_at - timedelta(minutes=minutes_ago)
        session.commit()
    return cid


def unread_emails(live) -> list[EmailMessage]:
    with live.app.app_context():
        return list(
            get_session().scalars(
                select(EmailMessage).where(EmailMessage.kind == "conversation_unread")
            )
        )


def test_two_sweeps_at_once_send_one_email_per_streak(shops):
    live = shops
    cids = [overdue_assigned_thread(live, SHOP_A, f"s{i}@example.com") for i in range(3)]
    cids.append(overdue_assigned_thread(live, SHOP_B, "b@example.com"))
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweeper() -> None:
        try:
            with live.app.app_context():
                due = staff_alerts.emails_due(get_session())
                barrier.wait(10)  # both have the same answer before either claims
                sent = 0
                for item in due:
                    if staff_alerts.email_assignee(get_session(), item):
                        sent += 1
                    get_session().commit()
                counts.append(sent)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(counts) in ([0, 4], [1, 3], [2, 2]) and sum(counts) == 4
    emails = unread_emails(live)
    assert len(emails) == 4
    assert len({e.dedupe_key for e in emails}) == 4
    # The periodic job (as the scheduler runs it) finds nothing more to send.
    with live.app.app_context():
        assert conversation_jobs.sweep_unread_emails() == 0
    assert len(unread_emails(live)) == 4
    assert any(j.func is conversation_jobs.sweep_unread_emails for j in PERIODIC_JOBS)


def test_a_read_conversation_is_not_emailed_about(shops):
    live = shops
    cid = overdue_assigned_thread(live, SHOP_A, "mia@example.com")
    assert (
        live.http.post(f"{live.app_url}/admin/conversations/{cid}/read", headers=auth()).status_code
        == 204
    )
    # Another shop's staff cannot read it (404) and so cannot hide it from the assignee.
    other = overdue_assigned_thread(live, SHOP_A, "bo@example.com")
    assert (
        live.http.post(
            f"{live.app_url}/admin/conversations/{other}/read", headers=auth(SHOP_B)
        ).status_code
        == 404
    )
    with live.app.app_context():
        assert conversation_jobs.sweep_unread_emails() == 1
    [email] = unread_emails(live)
    assert f"/admin/conversations?c={other}" in email.body_text


def test_the_shoppers_erasure_empties_the_assignees_email_about_her_chat(live):
    """customers/redact: the email quoting her chat to the assignee is emptied (and never
    sent if still queued); an email about someone else's chat stays."""
    seed(live, SHOP_A)
    hers = chat(live, SHOP_A, "Please call me on 040 123 4567", email=ADA_EMAIL)
    theirs = chat(live, SHOP_A, "Not hers", email="someone@example.com")
    with live.app.app_context():
        session = get_session()
        shop = shop_row(session, SHOP_A)
        member = StaffMember(
            shop_id=shop.id,
            user_id=777,
            first_name="Grace",
            email="g@x.example",
            chat_permission=True,
        )
        session.add(member)
        session.flush()
        for cid in (hers, theirs):
            session.get(Conversation, cid).assigned_staff_id = member.id
            for message in session.scalars(
                select(ConversationMessage).where(ConversationMessage.conversation_id == cid)
            ):
                message.created_at = message.created_at - timedelta(minutes=30)
        session.commit()
        assert conversation_jobs.sweep_unread_emails() == 2
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A))
    run_jobs(live.app)
    by_key = {e.dedupe_key.split(":")[1]: e for e in unread_emails(live)}
    erased, kept = by_key[str(hers)], by_key[str(theirs)]
    assert (erased.subject, erased.body_text) == ("(redacted)", "")
    assert erased.status in ("cancelled", "sent")
    assert "040 123 4567" not in erased.body_text and ADA_EMAIL not in erased.body_text
    assert "Not hers" in kept.body_text
