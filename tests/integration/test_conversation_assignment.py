"""Who can chat, assignment, status and the archive (issue 20, F4/F6) over HTTP with real ID
tokens: the owner grants the chat permission in Settings (anyone else is refused 403), the
inbox's JSON endpoints assign, unassign, switch the status, archive and restore (refusals
as 422/404 JSON), the audit trail, the staff channel, and the devstore's staff switcher."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.jobs import redis_connection
from shopify_app.models import AuditEntry, Conversation, Shop, StaffMember
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token

from .test_inbox import list_ids, start
from .webhook_support import install, one, rows

OWNER, SAM, KIM = 501, 502, 503  # Alpha Shop's staff in the devstore (tests/support.py)


@pytest.fixture
def shops(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    return live


def auth(shop=SHOP_A, user_id=OWNER) -> dict[str, str]:
    return {"Authorization": f"Bearer {id_token(shop, user_id=user_id)}"}


def get(live, path, user_id=OWNER, shop=SHOP_A, **params):
    return live.http.get(f"{live.app_url}{path}", params=params, headers=auth(shop, user_id))


def post_json(live, path, payload=None, user_id=OWNER, shop=SHOP_A):
    return live.http.post(f"{live.app_url}{path}", json=payload, headers=auth(shop, user_id))


def opened_app(live, *user_ids, shop=SHOP_A) -> dict[int, int]:
    """These staff open the app (the online token exchange makes them known); user id ->
    StaffMember id."""
    for user_id in user_ids:
        assert get(live, "/admin/conversations", user_id, shop).status_code == 200
    members = rows(live.app, StaffMember)
    return {m.user_id: m.id for m in members}


def grant(live, *staff_ids, listed, user_id=OWNER):
    """The Settings card's form as the owner's browser posts it."""
    data = {"listed": [str(s) for s in listed], "chat": [str(s) for s in staff_ids]}
    return live.http.post(
        f"{live.app_url}/settings/chat-staff", data=data, headers=auth(SHOP_A, user_id)
    )


def conversation(live, cid) -> Conversation:
    return one(live.app, Conversation, Conversation.id == cid)


def audit_actions(live) -> list[tuple[str, str]]:
    return [(a.action, a.actor) for a in rows(live.app, AuditEntry)]


def test_settings_lists_staff_who_opened_the_app_and_the_owner_grants(shops):
    live = shops
    ids = opened_app(live, OWNER, SAM, KIM)
    page = get(live, "/settings")
    assert page.status_code == 200
    card = page.text[page.text.index('id="chat-staff-card"') :]
    assert "Staff appear here once they have opened the app in Shopify admin." in card
    assert "Ada Alpha" in card and "Sam Support" in card and "Kim Clerk" in card
    assert "Shop owner: always" in card and 'id="chat-staff-save"' in card
    answer = grant(live, ids[SAM], listed=[ids[SAM], ids[KIM]])
    assert answer.status_code == 200
    assert answer.headers["X-Location"].startswith("/settings")
    assert "Sam Support: may chat" in answer.text
    members = {m.user_id: m for m in rows(live.app, StaffMember)}
    assert members[SAM].chat_permission and not members[KIM].chat_permission
    assert audit_actions(live) == [("staff.chat_permission_granted", f"staff:{OWNER}")]
    # The same form again changes nothing; unticking withdraws it.
    again = grant(live, ids[SAM], listed=[ids[SAM], ids[KIM]])
    assert "Nothing changed." in again.text and len(audit_actions(live)) == 1
    grant(live, listed=[ids[SAM], ids[KIM]])
    assert not one(live.app, StaffMember, StaffMember.user_id == SAM).chat_permission
    assert [a for a, _ in audit_actions(live)][-1] == "staff.chat_permission_withdrawn"


def test_a_staff_member_who_is_not_the_owner_sees_it_read_only_and_is_refused(shops):
    live = shops
    ids = opened_app(live, OWNER, SAM, KIM)
    page = get(live, "/settings", SAM)
    card = page.text[page.text.index('id="chat-staff-card"') :]
    assert "Only the shop owner can change who can chat with shoppers." in card
    assert "Ask them to tick your name here." in card
    assert 'id="chat-staff-save"' not in card and "<fieldset disabled>" in card
    refused = grant(live, ids[SAM], ids[KIM], listed=[ids[SAM], ids[KIM]], user_id=SAM)
    assert refused.status_code == 403
    assert "Only the shop owner can change who can chat with shoppers." in refused.text
    # A staff member the app does not know yet (no online token exchange) is no owner.
    unknown = grant(live, ids[KIM], listed=[ids[KIM]], user_id=999)
    assert unknown.status_code == 403
    assert not any(m.chat_permission for m in rows(live.app, StaffMember))
    assert audit_actions(live) == []


def test_the_owner_cannot_grant_another_shops_staff(shops):
    live = shops
    ids = opened_app(live, OWNER)
    ben = opened_app(live, 601, shop=SHOP_B)[601]
    refused = grant(live, ben, listed=[ben])
    assert refused.status_code == 422 and "No such staff member in this shop." in refused.text
    assert not one(live.app, StaffMember, StaffMember.id == ben).chat_permission
    assert ids[OWNER] != ben


def test_assign_to_permitted_staff_unassign_and_refusals(shops):
    live = shops
    ids = opened_app(live, OWNER, SAM, KIM)
    ben = opened_app(live, 601, shop=SHOP_B)[601]
    grant(live, ids[SAM], listed=[ids[SAM], ids[KIM]])
    cid = start(live, SHOP_A, "mia@example.com", ("shopper", "Where is my order?"))
    theirs = start(live, SHOP_B, "bo@example.com", ("shopper", "Hi"))
    url = f"/admin/conversations/{cid}/assign"

    page = get(live, "/admin/conversations", c=cid)
    select_html = page.text[page.text.index('<select id="assignee"') :]
    select_html = select_html[: select_html.index("</select>")]
    assert "Unassigned" in select_html and "Sam Support" in select_html
    assert "Ada Alpha" in select_html and "Kim Clerk" not in select_html

    refused = post_json(live, url, {"staff_id": ids[KIM]})
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "Kim Clerk does not have the chat permission: the shop owner can grant it "
        "in Settings."
    }
    for wanted in (ben, 10**6, "x", True):
        answer = post_json(live, url, {"staff_id": wanted})
        assert answer.status_code == 422, wanted
        assert answer.json()["error"] == "No such staff member in this shop."
    assert post_json(live, url, {}).status_code == 400
    assert post_json(live, url, ["staff_id"]).status_code == 400
    assert post_json(live, f"/admin/conversations/{theirs}/assign", {"staff_id": ids[SAM]}).json()[
        "error"
    ] == ("No such conversation in this shop.")
    assert (
        post_json(live, f"/admin/conversations/{theirs}/assign", {"staff_id": None}).status_code
        == 404
    )
    assert conversation(live, cid).assigned_staff_id is None

    done = post_json(live, url, {"staff_id": ids[SAM]})
    assert done.status_code == 200
    assert done.json() == {
        "changed": True,
        "conversation": {
            "id": cid,
            "assigned_staff_id": ids[SAM],
            "assigned_staff_name": "Sam Support",
            "assignee_may_chat": True,
            "status": "active",
            "archived": False,
        },
    }
    assert post_json(live, url, {"staff_id": ids[SAM]}).json()["changed"] is False
    thread = get(live, f"/admin/conversations/{cid}/messages").json()
    assert thread["chat_staff"] == [
        {"id": ids[OWNER], "name": "Ada Alpha"},
        {"id": ids[SAM], "name": "Sam Support"},
    ]
    assert thread["details"]["assigned_staff_name"] == "Sam Support"
    listed = get(live, "/admin/conversations.json").json()["conversations"]
    assert listed[0]["assigned_staff_name"] == "Sam Support"
    assert "Assigned to Sam Support" in get(live, "/admin/conversations").text
    # Sam sees it under "Mine", the owner does not; "Unassigned" no longer has it.
    assert list_ids(get(live, "/admin/conversations", SAM, view="mine").text) == [cid]
    assert list_ids(get(live, "/admin/conversations", OWNER, view="mine").text) == []
    assert list_ids(get(live, "/admin/conversations", view="unassigned").text) == []

    gone = post_json(live, url, {"staff_id": None}, user_id=SAM)
    assert gone.status_code == 200 and gone.json()["conversation"]["assigned_staff_id"] is None
    assert post_json(live, url, {"staff_id": None}).json()["changed"] is False
    assert list_ids(get(live, "/admin/conversations", view="unassigned").text) == [cid]
    assert audit_actions(live)[1:] == [
        ("conversation.assigned", f"staff:{OWNER}"),
        ("conversation.unassigned", f"staff:{SAM}"),
    ]


def test_a_withdrawn_permission_keeps_the_assignment_shown_as_such(shops):
    live = shops
    ids = opened_app(live, OWNER, SAM)
    grant(live, ids[SAM], listed=[ids[SAM]])
    cid = start(live, SHOP_A, "mia@example.com", ("shopper", "Hello"))
    post_json(live, f"/admin/conversations/{cid}/assign", {"staff_id": ids[SAM]})
    grant(live, listed=[ids[SAM]])
    page = get(live, "/admin/conversations", c=cid)
    assert "Sam Support (no chat permission)" in page.text
    again = post_json(live, f"/admin/conversations/{cid}/assign", {"staff_id": ids[SAM]})
    assert again.status_code == 422


def test_status_switch_and_the_views(shops):
    live = shops
    opened_app(live, OWNER)
    cid = start(live, SHOP_A, "mia@example.com", ("shopper", "Hello"))
    url = f"/admin/conversations/{cid}/status"
    assert post_json(live, url, {"status": "closed"}).status_code == 422
    assert post_json(live, url, {}).status_code == 422
    done = post_json(live, url, {"status": "inactive"})
    assert done.status_code == 200 and done.json()["conversation"]["status"] == "inactive"
    assert post_json(live, url, {"status": "inactive"}).json()["changed"] is False
    assert list_ids(get(live, "/admin/conversations", view="inactive").text) == [cid]
    assert list_ids(get(live, "/admin/conversations", view="active").text) == []
    assert post_json(live, url, {"status": "active"}).json()["changed"] is True
    assert list_ids(get(live, "/admin/conversations", view="active").text) == [cid]
    entries = [a for a in rows(live.app, AuditEntry) if a.action == "conversation.status_changed"]
    assert [(e.before, e.after) for e in entries] == [
        ({"status": "active"}, {"status": "inactive"}),
        ({"status": "inactive"}, {"status": "active"}),
    ]


def test_archive_hides_it_archived_and_search_find_it_restore_and_the_shopper_unarchives(shops):
    live = shops
    opened_app(live, OWNER)
    cid = start(live, SHOP_A, "mia@example.com", ("shopper", "The teapot is chipped"))
    other = start(live, SHOP_A, "leo@example.com", ("shopper", "Hello"))
    theirs = start(live, SHOP_B, "bo@example.com", ("shopper", "Hi"))
    assert post_json(live, f"/admin/conversations/{theirs}/archive").status_code == 404
    assert post_json(live, f"/admin/conversations/{theirs}/restore").status_code == 404
    done = post_json(live, f"/admin/conversations/{cid}/archive")
    assert done.status_code == 200 and done.json()["conversation"]["archived"] is True
    assert post_json(live, f"/admin/conversations/{cid}/archive").json()["changed"] is False
    for view in ("all", "active", "unassigned"):
        assert list_ids(get(live, "/admin/conversations", view=view).text) == [other], view
    archived = get(live, "/admin/conversations", view="archived").text
    assert list_ids(archived) == [cid]
    found = get(live, "/admin/conversations", q="teapot").text
    assert list_ids(found) == [cid]
    row = found[found.index(f'id="conversation-{cid}"') :]
    assert '<span class="badge">Archived</span>' in row[: row.index("</li>")]
    assert get(live, "/admin/conversations.json", q="teapot").json()["conversations"][0]["archived"]
    # Opened while archived: the header offers Restore.
    assert ">Restore</button>" in get(live, "/admin/conversations", c=cid).text
    restored = post_json(live, f"/admin/conversations/{cid}/restore")
    assert restored.json() == {
        "changed": True,
        "conversation": {
            "id": cid,
            "assigned_staff_id": None,
            "assigned_staff_name": None,
            "assignee_may_chat": None,
            "status": "active",
            "archived": False,
        },
    }
    assert sorted(list_ids(get(live, "/admin/conversations").text)) == sorted([cid, other])
    post_json(live, f"/admin/conversations/{cid}/archive")
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
        from shopify_app.conversations import service

        thread = session.get(Conversation, cid)
        service.post_message(
            session, shop, thread, author="shopper", body="Any news?", channel="widget"
        )
        session.commit()
    assert conversation(live, cid).archived_at is None
    assert cid in list_ids(get(live, "/admin/conversations").text)
    assert [a for a, _ in audit_actions(live)] == [
        "conversation.archived",
        "conversation.restored",
        "conversation.archived",
    ]


def test_changes_reach_every_staff_inbox_of_the_shop_never_the_shopper(shops):
    live = shops
    ids = opened_app(live, OWNER)
    cid = start(live, SHOP_A, "mia@example.com", ("shopper", "Hello"))
    shop_id = one(live.app, Shop, Shop.domain == SHOP_A).id
    with live.app.app_context():
        listener = redis_connection().pubsub(ignore_subscribe_messages=True)
    listener.subscribe(f"rt:{shop_id}:staff", f"rt:{shop_id}:conv:{cid}")
    heard = []
    try:
        post_json(live, f"/admin/conversations/{cid}/assign", {"staff_id": ids[OWNER]})
        post_json(live, f"/admin/conversations/{cid}/status", {"status": "inactive"})
        post_json(live, f"/admin/conversations/{cid}/archive")
        for _ in range(50):
            message = listener.get_message(timeout=0.5)
            if message is not None:
                heard.append(message)
            elif len(heard) >= 3:
                break
    finally:
        listener.close()
    assert {m["channel"] for m in heard} == {f"rt:{shop_id}:staff".encode()}
    events = [json.loads(m["data"]) for m in heard]
    assert [e["event"] for e in events] == ["conversation"] * 3
    assert events[0]["data"]["assigned_staff_name"] == "Ada Alpha"
    assert events[1]["data"]["status"] == "inactive" and events[2]["data"]["archived"]
    assert {e["data"]["conversation_id"] for e in events} == {cid}


def test_every_endpoint_needs_a_valid_id_token(shops):
    live = shops
    cid = start(live, SHOP_A, "mia@example.com", ("shopper", "Hello"))
    for action in ("assign", "status", "archive", "restore"):
        answer = live.http.post(
            f"{live.app_url}/admin/conversations/{cid}/{action}",
            json={"staff_id": None, "status": "inactive"},
            headers={"Authorization": "Bearer not-a-token"},
        )
        assert answer.status_code == 401
    wrong_secret = "not-the-apps-secret-but-long-enough-32b"
    forged = live.http.post(
        f"{live.app_url}/settings/chat-staff",
        data={"listed": "1", "chat": "1"},
        headers={"Authorization": f"Bearer {id_token(SHOP_A, user_id=OWNER, secret=wrong_secret)}"},
    )
    assert forged.status_code == 401
    row = conversation(live, cid)
    assert (row.status, row.archived_at, row.assigned_staff_id) == ("active", None, None)


def test_the_devstore_admin_opens_as_the_chosen_staff_member(shops):
    live = shops
    frame = live.admin_url("alpha-shop")

    def sub_of(page) -> str:
        src = re.search(r'id="app-frame"[^>]*src="([^"]+)"', page.text).group(1)
        query = parse_qs(urlsplit(src.replace("&amp;", "&")).query)
        assert "staff" not in query  # the switcher's parameter is the admin's, not the app's
        return jwt.decode(query["id_token"][0], options={"verify_signature": False})["sub"]

    first = live.http.get(frame)
    assert first.status_code == 200 and 'id="staff-switch"' in first.text
    assert '<option value="501" selected>' in first.text and sub_of(first) == "501"
    chosen = live.http.get(frame, params={"staff": "502"})
    assert '<option value="502" selected>' in chosen.text and sub_of(chosen) == "502"
    # Remembered (a cookie): the next visit and App Bridge's fresh tokens are Sam's too.
    assert sub_of(live.http.get(frame)) == "502"
    fresh = live.http.post(f"{live.devstore_url}/store/alpha-shop/id-token")
    assert jwt.decode(fresh.json()["id_token"], options={"verify_signature": False})["sub"] == "502"
    # Another shop's staff id is nobody here: the owner.
    assert sub_of(live.http.get(frame, params={"staff": "601"})) == "501"
    # The app knows Sam by the online token exchange's associated_user.
    assert get(live, "/admin/conversations", SAM).status_code == 200
    sam = one(live.app, StaffMember, StaffMember.user_id == SAM)
    assert (sam.first_name, sam.account_owner) == ("Sam", False)


def test_the_audit_page_says_who_assigned_and_who_may_chat_in_words(shops):
    live = shops
    ids = opened_app(live, OWNER, SAM)
    grant(live, ids[SAM], listed=[ids[SAM]])
    cid = start(live, SHOP_A, "mia@example.com", ("shopper", "Hello"))
    post_json(live, f"/admin/conversations/{cid}/assign", {"staff_id": ids[SAM]})
    post_json(live, f"/admin/conversations/{cid}/archive")
    page = get(live, "/portal/audit").text
    assert "Allowed a staff member to chat with shoppers" in page
    assert "Sam Support (sam@alpha.example)" in page
    assert "Assigned a conversation" in page and "Archived a conversation" in page
    assert "Assigned to" in page and "assigned_staff_id" not in page.split("<details")[0]
    assert f"c={cid}" in page  # the subject links to the conversation


def test_a_finnish_audit_page_reads_the_stored_sentences_in_finnish(shops):
    live = shops
    ids = opened_app(live, OWNER, SAM)
    grant(live, ids[SAM], listed=[ids[SAM]])
    cid = start(live, SHOP_A, "mia@example.com", ("shopper", "Hei"))
    post_json(live, f"/admin/conversations/{cid}/assign", {"staff_id": ids[SAM]})
    post_json(live, f"/admin/conversations/{cid}/status", {"status": "inactive"})
    page = get(live, "/portal/audit", locale="fi").text
    assert "osoitti keskustelun henkilölle Sam Support" in page
    assert "merkitsi keskustelun ei-aktiiviseksi" in page
    assert "assigned the conversation to" not in page
