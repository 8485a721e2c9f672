"""The staff inbox (issue 19, item 5): the conversation list, the thread and the customer's
hub beside it, inside the embedded admin.

The page is rendered whole on the server (list, thread, hub); `static/inbox.js` sends
replies and notes as JSON, follows the realtime stream and catches up through the thread's
JSON (`after=<last id>`). Every route is `@id_token_required`: fetches carry App Bridge's
bearer token (no cookie, so a forged cross-site form carries nothing), and every lookup is
scoped by the token's shop, so another shop's conversation or saved reply is a 404.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Blueprint, abort, current_app, g, jsonify, render_template, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.customers import attributes
from shopify_app.customers import detail as detail_cards
from shopify_app.db import get_session
from shopify_app.jobs import redis_connection
from shopify_app.models import Conversation, SavedReply, StaffMember
from shopify_app.realtime import presence
from shopify_app.realtime.tokens import issue_realtime_token
from shopify_app.referrals.program import shop_currency
from shopify_app.request_limits import MULTIPART_SLACK
from shopify_app.shopify.services import shopify
from shopify_app.shops import ensure_shop_timezone
from shopify_app.storage import storage
from shopify_app.timeline.labels import local_time
from shopify_app.values import iso_utc

from . import catalog, images, notify, service, staff_chat

log = logging.getLogger(__name__)

bp = Blueprint("conversations", __name__, url_prefix="/admin")

VIEWS = {
    "all": "All",
    "mine": "Assigned to me",
    "unassigned": "Unassigned",
    "active": "Active",
    "inactive": "Inactive",
    "archived": "Archived",
}
SEARCH_CAP = 200
LIST_LIMIT = 50
TITLE_CAP = 255
CLIENT_ID_CAP = 64
REALTIME_TOKEN_TTL = 300
HUB_ROWS = 5  # referrals and rewards beside the thread; "Open in Support" has them all


@bp.errorhandler(HTTPException)
def json_error(error: HTTPException):
    """The inbox's JSON endpoints answer errors as JSON (`{"error": sentence}`); the page
    itself gets the app's readable error page."""
    if request.endpoint == "conversations.inbox":
        title = f"{error.code} {error.name}"
        html = render_template("error.html", title=title, message=error.description)
        return html, error.code or 500
    return problem(error.code or 500, error.description or error.name)


def problem(status: int, message: str):
    response = jsonify(error=message)
    response.status_code = status
    return response


def conversation_or_404(session, conversation_id: int) -> Conversation:
    conversation = session.scalar(
        select(Conversation).where(
            Conversation.id == conversation_id, Conversation.shop_id == g.shop.id
        )
    )
    if conversation is None:
        abort(404, "No such conversation in this shop.")
    return conversation


def current_staff(session) -> StaffMember | None:
    """The staff member of the ID token, when the app knows them (`staff.remember_staff`)."""
    user_id = str(g.get("staff_user_id") or "")
    if not user_id.isdigit():
        return None
    return session.scalar(
        select(StaffMember).where(
            StaffMember.shop_id == g.shop.id, StaffMember.user_id == int(user_id)
        )
    )


def online_ids(conversation_ids: list[int]) -> set[int]:
    """Which of these conversations' shoppers have the store open now; none when Redis
    cannot say (the list then shows where a reply would go by email, which is true then)."""
    if not conversation_ids:
        return set()
    try:
        return presence.online_among(redis_connection(), g.shop.id, conversation_ids)
    except redis.RedisError:
        log.warning("presence unavailable for shop %s", g.shop.id, exc_info=True)
        return set()


def list_params() -> tuple[str, str]:
    q = (request.args.get("q") or "").strip()[:SEARCH_CAP]
    view = request.args.get("view") or "all"
    return q, view if view in VIEWS else "all"


def parse_moment(value: str | None) -> datetime | None:
    """`before=` of the list: an ISO time as the JSON gives it (`last_message_at`)."""
    try:
        moment = datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def row_json(
    conversation: Conversation, online: set[int], names: dict[int, str] | None = None
) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "email": conversation.email,
        "name": conversation.name,
        "customer_id": conversation.customer_id,
        "status": conversation.status,
        "archived": conversation.archived_at is not None,
        "assigned_staff_id": conversation.assigned_staff_id,
        "assigned_staff_name": (names or {}).get(conversation.assigned_staff_id or 0),
        "preview": conversation.last_message_preview,
        "last_message_at": iso_utc(conversation.last_message_at),
        "unread": conversation.unread_for_staff,
        "online": conversation.id in online,
    }


def staff_names(session) -> dict[int, str]:
    """`StaffMember.id` -> name, for the assignee on each row."""
    return {s.id: s.name for s in staff_chat.shop_staff(session, g.shop)}


def load_list(session) -> tuple[list[Conversation], set[int], str, str]:
    q, view = list_params()
    conversations = service.list_conversations(
        session,
        g.shop,
        q=q or None,
        view=view,
        staff=current_staff(session),
        limit=LIST_LIMIT,
        before=parse_moment(request.args.get("before")),
    )
    return conversations, online_ids([c.id for c in conversations]), q, view


def hub_context(session, conversation: Conversation) -> dict[str, Any]:
    """The customer's hub beside the thread, from the Customers page's own cards."""
    if conversation.customer_id is None:
        return {"customer": None}
    view = detail_cards.customer_detail(session, g.shop, conversation.customer_id)
    if view is None:
        return {"customer": None}
    return {
        "customer": view.customer,
        "c": view.customer,
        "advocate": view.advocate,
        "referrals": view.referrals[:HUB_ROWS],
        "friends": view.friends,
        "rewards": view.rewards[:HUB_ROWS],
        "activity_limit": detail_cards.ACTIVITY_LIMIT,
        "referral_count": len(view.referrals),
        "reward_count": len(view.rewards),
        "orders": detail_cards.order_summary(session, g.shop, view.customer.id),
        "custom_attributes": attributes.shown(view.customer.custom_attributes),
        "currency": shop_currency(g.shop),
    }


def storefront_root(session, rows) -> str | None:
    """The storefront root the links of product and discount messages must be on (inbox.js
    shows them as links only then): read from Shopify (cached) when the thread has such
    messages, else only from the cache; None when Shopify cannot say now."""
    if not any(m.kind in ("product", "discount") for m in rows):
        return catalog.cached_storefront(g.shop)
    try:
        return catalog.online_store(session, g.shop).root
    except service.MessageRefused:
        return None


@bp.get("/conversations")
@id_token_required
def inbox():
    session = get_session()
    conversations, online, q, view = load_list(session)
    raw = request.args.get("c", "")
    if raw and not raw.isdigit():
        abort(404, "No such conversation in this shop.")
    selected = conversation_or_404(session, int(raw)) if raw else None
    zone = ensure_shop_timezone(session, g.shop, shopify())
    shown: dict[str, Any] = {
        "conversations": conversations,
        "online": online,
        "q": q,
        "view": view,
        "views": VIEWS,
        "selected_id": selected.id if selected else None,
        "list_limit": LIST_LIMIT,
        "staff_names": staff_names(session),
        "iso_utc": iso_utc,
        "local_time": lambda moment: local_time(moment, zone),
        "local_day": lambda moment: local_time(moment, zone).partition(",")[0],
    }
    if request.args.get("fragment") == "list":
        return render_template("admin/conversations_list.html", **shown)
    if selected is not None:
        rows = service.messages_after(session, g.shop, selected, 0, include_notes=True)
        shown |= hub_context(session, selected)
        shown["messages"] = [service.message_json(m, for_shopper=False) for m in rows]
        shown["created"] = {m.id: m.created_at for m in rows}
        shown["storefront"] = storefront_root(session, rows)
        listed = any(c.id == selected.id for c in conversations)
        shown["selected_online"] = selected.id in (online if listed else online_ids([selected.id]))
        shown["details"] = staff_chat.details_json(session, selected)
        shown["chat_staff"] = service.chat_staff(session, g.shop)
    return render_template(
        "admin/conversations.html",
        selected=selected,
        saved_replies=service.list_saved_replies(session, g.shop),
        max_body=service.MAX_BODY,
        image_max_bytes=current_app.config["CHAT_IMAGE_MAX_BYTES"],
        timezone=zone.key,
        **shown,
    )


@bp.get("/conversations.json")
@id_token_required
def list_json():
    session = get_session()
    conversations, online, _q, _view = load_list(session)
    names = staff_names(session)
    return {"conversations": [row_json(c, online, names) for c in conversations]}


@bp.get("/conversations/<int:conversation_id>/messages")
@id_token_required
def thread_json(conversation_id: int):
    session = get_session()
    conversation = conversation_or_404(session, conversation_id)
    after = request.args.get("after", "0")
    messages = service.messages_after(
        session, g.shop, conversation, int(after) if after.isdigit() else 0, include_notes=True
    )
    return {
        "conversation": row_json(conversation, online_ids([conversation.id]), staff_names(session)),
        "details": staff_chat.details_json(session, conversation),
        "chat_staff": [{"id": s.id, "name": s.name} for s in service.chat_staff(session, g.shop)],
        "messages": [service.message_json(m, for_shopper=False) for m in messages],
    }


def posted_text(field: str, cap: int, what: str) -> str:
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get(field), str):
        abort(400, f'Send JSON with the {what} as "{field}".')
    text = data[field]
    if len(text) > cap:
        abort(413, f"The {what} is {len(text):,} characters long; the most is {cap:,}.")
    return text


def posted_client_id() -> str | None:
    client_id = (request.get_json(silent=True) or {}).get("client_id")
    if client_id is not None and (not isinstance(client_id, str) or len(client_id) > CLIENT_ID_CAP):
        abort(400, f"client_id must be a string of at most {CLIENT_ID_CAP} characters.")
    return client_id or None


def post_from_staff(conversation_id: int, author: str):
    session = get_session()
    conversation = conversation_or_404(session, conversation_id)
    what = "reply" if author == "staff" else "note"
    body = posted_text("body", service.MAX_BODY, what)
    client_id = posted_client_id()
    try:
        message = service.post_message(
            session,
            g.shop,
            conversation,
            author=author,
            body=body,
            channel="admin",
            staff=current_staff(session),
            client_id=client_id,
        )
        session.commit()
    except service.MessageRefused as exc:
        session.rollback()
        return problem(exc.status, exc.reason)
    return {"message": service.message_json(message, for_shopper=False)}, 201


@bp.post("/conversations/<int:conversation_id>/reply")
@id_token_required
def reply(conversation_id: int):
    return post_from_staff(conversation_id, "staff")


@bp.post("/conversations/<int:conversation_id>/note")
@id_token_required
def note(conversation_id: int):
    return post_from_staff(conversation_id, "note")


@bp.post("/conversations/<int:conversation_id>/images")
@id_token_required
def upload_image(conversation_id: int):
    """Staff send an image (multipart, the file in "image", optionally "client_id"). The
    body is capped before it is read (`request_limits`); what the file is, is decided by
    its content (`images.clean_image`)."""
    cap = current_app.config["CHAT_IMAGE_MAX_BYTES"]
    if (request.content_length or 0) > cap + MULTIPART_SLACK:
        return problem(413, images.too_large(cap))
    session = get_session()
    conversation = conversation_or_404(session, conversation_id)
    if request.mimetype != "multipart/form-data":
        return problem(415, 'Send the image as multipart/form-data, in the field "image".')
    try:
        upload = request.files.get("image")
        client_id = request.form.get("client_id")
    except RequestEntityTooLarge:
        return problem(413, images.too_large(cap))
    if upload is None:
        return problem(400, 'Send the image as multipart/form-data, in the field "image".')
    if client_id is not None and len(client_id) > CLIENT_ID_CAP:
        abort(400, f"client_id must be a string of at most {CLIENT_ID_CAP} characters.")
    data = upload.stream.read(cap + 1)
    if len(data) > cap:
        return problem(413, images.too_large(cap))
    if not data:
        return problem(422, "The image file is empty.")
    try:
        message = images.send_image(
            session,
            g.shop,
            conversation,
            data,
            store=storage(),
            staff=current_staff(session),
            client_id=client_id or None,
            max_pixels=current_app.config["CHAT_IMAGE_MAX_PIXELS"],
            max_side=current_app.config["CHAT_IMAGE_MAX_SIDE"],
        )
        session.commit()
    except service.MessageRefused as exc:
        session.rollback()
        return problem(exc.status, exc.reason)
    return {"message": service.message_json(message, for_shopper=False)}, 201


# ---- products and discount codes (F5): `catalog.py` reads them from Shopify ----------------


def catalog_call(call):
    """Run a catalog read or send; a refusal (the reason, or Shopify failing) is the JSON
    error, and nothing is stored."""
    session = get_session()
    try:
        result = call(session)
        session.commit()
    except service.MessageRefused as exc:
        session.rollback()
        return problem(exc.status, exc.reason)
    return result


def posted_json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "Send a JSON object.")
    return data


@bp.get("/conversations/<int:conversation_id>/products")
@id_token_required
def search_products(conversation_id: int):
    """Products a shopper could open (active, on the Online Store), by title."""
    conversation_or_404(get_session(), conversation_id)
    term = (request.args.get("q") or "")[:SEARCH_CAP]
    return catalog_call(
        lambda session: {
            "products": catalog.search_products(session, g.shop, term),
            "storefront": catalog.online_store(session, g.shop).root,
        }
    )


@bp.get("/conversations/<int:conversation_id>/discounts")
@id_token_required
def discount_codes(conversation_id: int):
    """The shop's active discount codes, offered in the picker."""
    conversation_or_404(get_session(), conversation_id)
    return catalog_call(lambda session: {"discounts": catalog.active_codes(session, g.shop)})


def sent(message, session) -> tuple[dict[str, Any], int]:
    return {
        "message": service.message_json(message, for_shopper=False),
        "storefront": catalog.online_store(session, g.shop).root,
    }, 201


@bp.post("/conversations/<int:conversation_id>/product")
@id_token_required
def send_product(conversation_id: int):
    conversation = conversation_or_404(get_session(), conversation_id)
    data, client_id = posted_json(), posted_client_id()
    return catalog_call(
        lambda session: sent(
            catalog.send_product(
                session,
                g.shop,
                conversation,
                current_staff(session),
                data.get("product_id"),
                client_id,
            ),
            session,
        )
    )


@bp.post("/conversations/<int:conversation_id>/discount")
@id_token_required
def send_discount(conversation_id: int):
    conversation = conversation_or_404(get_session(), conversation_id)
    data, client_id = posted_json(), posted_client_id()
    return catalog_call(
        lambda session: sent(
            catalog.send_discount(
                session, g.shop, conversation, current_staff(session), data.get("code"), client_id
            ),
            session,
        )
    )


@bp.post("/conversations/<int:conversation_id>/read")
@id_token_required
def mark_read(conversation_id: int):
    session = get_session()
    service.mark_read(session, g.shop, conversation_or_404(session, conversation_id))
    session.commit()
    return "", 204


@bp.post("/conversations/<int:conversation_id>/typing")
@id_token_required
def typing(conversation_id: int):
    """Staff is typing: shown in the shopper's widget (never a note's text, only the fact),
    under the first name the shopper sees on the replies."""
    session = get_session()
    conversation = conversation_or_404(session, conversation_id)
    staff = current_staff(session)
    first_name = ((staff.first_name if staff else None) or "").strip() or None
    notify.publish_event(
        shop_id=g.shop.id,
        conversation_id=conversation.id,
        event="typing",
        data={"conversation_id": conversation.id, "author": "staff", "staff_name": first_name},
        to_shopper=True,
        to_staff=False,
    )
    return "", 204


# ---- the conversation's details (issue 20): assignee, status, archive --------------------


def posted_object() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and not request.get_data():
        return {}
    if not isinstance(data, dict):
        abort(400, "Send a JSON object.")
    return data


def change_details(conversation_id: int, change) -> tuple[dict[str, Any], int]:
    """Apply `change(session, conversation) -> changed` and answer with the details as they
    now are (`changed` false when the request changed nothing: a repeat is harmless)."""
    session = get_session()
    conversation = conversation_or_404(session, conversation_id)
    try:
        changed = change(session, conversation)
        session.commit()
    except service.MessageRefused as exc:
        session.rollback()
        return problem(exc.status, exc.reason)
    return {"conversation": staff_chat.details_json(session, conversation), "changed": changed}, 200


@bp.post("/conversations/<int:conversation_id>/assign")
@id_token_required
def assign(conversation_id: int):
    """`{"staff_id": <StaffMember id>}` assigns, `{"staff_id": null}` unassigns."""
    data = posted_object()
    if "staff_id" not in data:
        abort(400, 'Send JSON with "staff_id": a staff member\'s id, or null to unassign.')
    return change_details(
        conversation_id,
        lambda session, c: staff_chat.assign(session, g.shop, c, staff_actor(), data["staff_id"]),
    )


@bp.post("/conversations/<int:conversation_id>/status")
@id_token_required
def set_status(conversation_id: int):
    """`{"status": "active" | "inactive"}`."""
    status = posted_object().get("status")
    return change_details(
        conversation_id,
        lambda session, c: staff_chat.set_status(session, g.shop, c, staff_actor(), status),
    )


@bp.post("/conversations/<int:conversation_id>/archive")
@id_token_required
def archive(conversation_id: int):
    return change_details(
        conversation_id,
        lambda session, c: staff_chat.archive(session, g.shop, c, staff_actor()),
    )


@bp.post("/conversations/<int:conversation_id>/restore")
@id_token_required
def restore(conversation_id: int):
    return change_details(
        conversation_id,
        lambda session, c: staff_chat.restore(session, g.shop, c, staff_actor()),
    )


def saved_reply_json(reply: SavedReply) -> dict[str, Any]:
    return {"id": reply.id, "title": reply.title, "body": reply.body}


@bp.get("/saved-replies")
@id_token_required
def saved_replies():
    replies = service.list_saved_replies(get_session(), g.shop)
    return {"saved_replies": [saved_reply_json(r) for r in replies]}


@bp.post("/saved-replies")
@id_token_required
def create_saved_reply():
    session = get_session()
    title = posted_text("title", TITLE_CAP, "title").strip()
    body = posted_text("body", service.MAX_BODY, "saved reply")
    if not title or not body.strip():
        return problem(422, "A saved reply needs a title and a text.")
    try:
        reply = service.save_reply(session, g.shop, title=title, body=body)
    except service.MessageRefused as exc:
        session.rollback()
        return problem(exc.status, exc.reason)
    session.commit()
    return {"saved_reply": saved_reply_json(reply)}, 201


@bp.delete("/saved-replies/<int:reply_id>")
@id_token_required
def delete_saved_reply(reply_id: int):
    session = get_session()
    if not service.delete_saved_reply(session, g.shop, reply_id):
        abort(404, "No such saved reply in this shop.")
    session.commit()
    return "", 204


@bp.post("/realtime-token")
@id_token_required
def realtime_token():
    """A short-lived token for the realtime stream (`/events/staff`), against the ID token."""
    user_id = str(g.staff_user_id or "")
    token = issue_realtime_token(
        notify.realtime_secret(),
        shop_id=g.shop.id,
        audience="staff",
        staff_user_id=int(user_id) if user_id.isdigit() else None,
        ttl=REALTIME_TOKEN_TTL,
    )
    return {
        "token": token,
        "url": notify.realtime_url().rstrip("/"),
        "expires_in": REALTIME_TOKEN_TTL,
    }
