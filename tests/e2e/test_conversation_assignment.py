"""Assignment and the conversation's details (issue 20, F4/F6) in the devstore's admin frame,
with a real `referrals realtime` process:

1. Sam and Kim (not owners) open the app through the devstore's staff switcher, so the app
   knows them; the owner, Ada, ticks Sam in Settings › Who can chat with shoppers.
2. Ada opens the conversation: "Assigned to" offers Ada and Sam, not Kim; she assigns it to
   Sam (Sam's inbox, open on "Assigned to me" in another window, shows it without a reload),
   unassigns it; meanwhile Sam's permission is withdrawn elsewhere and choosing him is
   refused inline; granted again, she assigns it again, sets it inactive and archives it.
3. Archived, it is gone from "All" but under "Archived" and found by search, marked
   Archived; Ada restores it.
4. Sam, in his own window, sees Settings read-only.

Screenshots: tests/e2e/screenshots/assignment-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from shopify_app.conversations import service, staff_chat
from shopify_app.db import get_session
from shopify_app.models import AuditEntry, Conversation, Shop, StaffMember
from tests.conftest import SHOP_A
from tests.integration.webhook_support import install, one, rows

pytestmark = pytest.mark.xdist_group("realtime")

LIVE = 30000  # generous: the machine may be busy; nothing here measures speed


def start(live, email, name, body) -> int:
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
        conversation = service.start_conversation(session, shop, email=email, name=name)
        service.post_message(
            session, shop, conversation, author="shopper", body=body, channel="widget"
        )
        session.commit()
        return conversation.id


def permit(live, user_id: int, allowed: bool) -> None:
    """The owner changes a permission in another tab (the service the Settings card uses)."""
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
        owner = session.scalars(
            select(StaffMember).where(StaffMember.shop_id == shop.id, StaffMember.user_id == 501)
        ).one()
        member = session.scalars(
            select(StaffMember).where(
                StaffMember.shop_id == shop.id, StaffMember.user_id == user_id
            )
        ).one()
        assert staff_chat.set_chat_permission(session, shop, owner, member.id, allowed)
        session.commit()


def test_owner_grants_assigns_archives_and_sam_sees_it_as_his(
    live, browser, page, realtime, screenshots_dir
):
    def snap(name: str, p=None) -> None:
        (p or page).screenshot(path=str(screenshots_dir / f"assignment-{name}.png"), full_page=True)

    install(live, SHOP_A)
    admin = live.admin_url("alpha-shop")
    cid = start(live, "mia@example.com", "Mia", "Is the blue teapot back in stock?")
    other = start(live, "leo@example.com", "Leo", "Hello there")

    # 1. Sam and Kim open the app (the devstore's "Logged in as"), then Ada again.
    page.goto(admin)
    switch = page.locator("#staff-select")
    expect(switch).to_have_value("501")
    for staff_id in ("502", "503", "501"):
        switch.select_option(staff_id)
        expect(page.locator("#staff-select")).to_have_value(staff_id)
        expect(page.frame_locator("#app-frame").locator("main")).to_be_visible(timeout=LIVE)
    members = {m.user_id: m for m in rows(live.app, StaffMember)}
    assert {501, 502, 503} <= set(members)

    page.goto(admin + "/settings")
    app = page.frame_locator("#app-frame")
    card = app.locator("#chat-staff-card")
    expect(card).to_contain_text("Staff appear here once they have opened the app", timeout=LIVE)
    expect(card).to_contain_text("Sam Support")
    expect(card).to_contain_text("Kim Clerk")
    owner_box = card.get_by_role("checkbox", name="Ada Alpha")
    expect(owner_box).to_be_checked()
    expect(owner_box).to_be_disabled()
    sam_box = card.get_by_role("checkbox", name="Sam Support")
    expect(sam_box).not_to_be_checked()
    sam_box.check()
    card.get_by_role("button", name="Save chat permissions").click()
    expect(app.locator("#chat-staff-saved")).to_contain_text("Sam Support: may chat", timeout=LIVE)
    expect(
        app.locator("#chat-staff-card").get_by_role("checkbox", name="Sam Support")
    ).to_be_checked()
    app.locator("#chat-staff-card").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots_dir / "assignment-1-settings-owner.png"))
    assert one(live.app, StaffMember, StaffMember.user_id == 502).chat_permission

    # Sam's own window, on "Assigned to me" (empty for now), live.
    sam_context = browser.new_context(viewport={"width": 1280, "height": 800})
    sam_page = sam_context.new_page()
    sam_page.goto(admin + "/admin/conversations?staff=502&view=mine")
    sam_app = sam_page.frame_locator("#app-frame")
    expect(sam_app.locator("#no-conversations")).to_be_visible(timeout=LIVE)
    expect(sam_app.locator("#live-state")).to_contain_text("Live", timeout=LIVE)

    # 2. Ada opens the conversation: Ada and Sam are offered, Kim is not.
    page.goto(admin + "/admin/conversations")
    app = page.frame_locator("#app-frame")
    app.locator(f"#conversation-{cid} a").click()
    expect(app.locator("#thread-heading")).to_have_text("Mia", timeout=LIVE)
    assignee = app.locator("#assignee")
    expect(assignee).to_have_value("")
    options = assignee.locator("option")
    expect(options).to_have_text(["Unassigned", "Ada Alpha", "Sam Support"])
    expect(app.locator("#live-state")).to_contain_text("Live", timeout=LIVE)

    result = app.locator("#details-result")
    sam_id = str(members[502].id)
    assignee.select_option(label="Sam Support")
    expect(result).to_have_text("Assigned to Sam Support.", timeout=LIVE)
    expect(app.locator(f"#conversation-{cid}")).to_contain_text("Assigned to Sam Support")
    expect(assignee).to_have_value(sam_id)
    expect(sam_app.locator(f"#conversation-{cid}")).to_contain_text("Mia", timeout=LIVE)
    snap("2-assigned")
    snap("2-sam-mine", sam_page)

    assignee.select_option(label="Unassigned")
    expect(result).to_have_text("Unassigned.", timeout=LIVE)
    expect(app.locator(f"#conversation-{cid} .assignee")).to_have_count(0, timeout=LIVE)
    expect(sam_app.locator(f"#conversation-{cid}")).to_have_count(0, timeout=LIVE)
    # Meanwhile the owner withdraws Sam's permission elsewhere: choosing him is refused
    # inline, and the select goes back to what is stored.
    permit(live, 502, False)
    assignee.select_option(label="Sam Support")
    expect(result).to_have_text(
        "Assignment not changed: Sam Support does not have the chat permission: the shop owner "
        "can grant it in Settings.",
        timeout=LIVE,
    )
    expect(result).to_have_class("details-result error")
    expect(assignee).to_have_value("")
    expect(options).to_have_text(["Unassigned", "Ada Alpha"])  # Sam no longer offered
    snap("3-refused")
    permit(live, 502, True)
    page.reload()  # the page offers who may chat as it is rendered
    app = page.frame_locator("#app-frame")
    app.locator(f"#conversation-{cid} a").click()
    assignee, result = app.locator("#assignee"), app.locator("#details-result")
    expect(assignee.locator("option")).to_have_text(
        ["Unassigned", "Ada Alpha", "Sam Support"], timeout=LIVE
    )
    assignee.select_option(label="Sam Support")
    expect(result).to_have_text("Assigned to Sam Support.", timeout=LIVE)

    status = app.locator("#conversation-status")
    status.select_option("inactive")
    expect(result).to_have_text("Marked inactive.", timeout=LIVE)
    expect(app.locator("#thread-badge")).to_have_text("Inactive")
    expect(app.locator(f"#conversation-{cid} .badge")).to_have_text("Inactive", timeout=LIVE)
    snap("3-inactive")

    app.locator("#archive-toggle").click()
    expect(result).to_contain_text("Archived: it shows only under Archived", timeout=LIVE)
    expect(app.locator("#thread-badge")).to_have_text("Archived")
    expect(app.locator("#archive-toggle")).to_have_text("Restore")
    expect(app.locator(f"#conversation-{cid}")).to_have_count(0, timeout=LIVE)
    expect(app.locator(f"#conversation-{other}")).to_be_visible()
    snap("4-archived")

    # 3. Under "Archived", and found by search, marked Archived.
    app.locator("#inbox-views").get_by_role("link", name="Archived").click()
    archived_row = app.locator(f"#conversation-{cid}")
    expect(archived_row).to_contain_text("Archived", timeout=LIVE)
    expect(app.locator(f"#conversation-{other}")).to_have_count(0)
    app.locator("#inbox-views").get_by_role("link", name="All").click()
    expect(app.locator(f"#conversation-{cid}")).to_have_count(0, timeout=LIVE)
    search = app.locator("#inbox-q")
    search.fill("blue teapot")
    search.press("Enter")
    found = app.locator(f"#conversation-{cid}")
    expect(found.locator(".badge")).to_have_text("Archived", timeout=LIVE)
    expect(app.locator(f"#conversation-{other}")).to_have_count(0)
    snap("5-search-finds-archived")
    found.locator("a").click()
    expect(app.locator("#archive-toggle")).to_have_text("Restore", timeout=LIVE)
    app.locator("#archive-toggle").click()
    expect(result).to_have_text("Restored to the inbox.", timeout=LIVE)
    expect(app.locator("#thread-badge")).to_have_text("Inactive")
    app.locator("#inbox-views").get_by_role("link", name="All").click()
    expect(app.locator(f"#conversation-{cid}")).to_be_visible(timeout=LIVE)
    row = one(live.app, Conversation, Conversation.id == cid)
    assert (row.archived_at, row.status, row.assigned_staff_id) == (None, "inactive", int(sam_id))
    assert [a.action for a in rows(live.app, AuditEntry)] == [
        "staff.chat_permission_granted",
        "conversation.assigned",
        "conversation.unassigned",
        "staff.chat_permission_withdrawn",
        "staff.chat_permission_granted",
        "conversation.assigned",
        "conversation.status_changed",
        "conversation.archived",
        "conversation.restored",
    ]

    # 4. Sam: the conversation is his under "Assigned to me"; Settings is read-only.
    sam_page.goto(admin + "/admin/conversations?view=mine")
    sam_app = sam_page.frame_locator("#app-frame")
    expect(sam_app.locator(f"#conversation-{cid}")).to_contain_text(
        "Assigned to Sam Support", timeout=LIVE
    )
    expect(sam_app.locator(f"#conversation-{other}")).to_have_count(0)
    snap("6-sam-mine-after", sam_page)
    sam_page.goto(admin + "/settings")
    sam_card = sam_page.frame_locator("#app-frame").locator("#chat-staff-card")
    expect(sam_card).to_contain_text("Only the shop owner can change", timeout=LIVE)
    expect(sam_card).to_contain_text("You have the chat permission.")
    expect(sam_card.get_by_role("checkbox", name="Kim Clerk")).to_be_disabled()
    expect(sam_card.get_by_role("button", name="Save chat permissions")).to_have_count(0)
    sam_card.scroll_into_view_if_needed()
    sam_page.screenshot(path=str(screenshots_dir / "assignment-7-settings-staff.png"))
    sam_context.close()
