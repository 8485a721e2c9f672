"""Staff notifications in the admin (issue 20, F7): the unread count every app page's
navigation shows (`static/notify.js` refreshes it live) and the shop's setting for the
assignee's unread-message email. JSON only, `@id_token_required`, scoped by the token's shop.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from shopify_app.auth.embedded import id_token_required
from shopify_app.db import get_session

from . import staff_alerts

bp = Blueprint("staff_alerts", __name__, url_prefix="/admin")


def problem(status: int, message: str):
    response = jsonify(error=message)
    response.status_code = status
    return response


@bp.get("/unread-count")
@id_token_required
def unread_count():
    count = staff_alerts.unread_count(get_session(), g.shop)
    response = jsonify(unread_conversations=count)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/notification-settings")
@id_token_required
def notification_settings():
    """Set how long a shopper message stays unread before its assignee is emailed
    (`{"unread_email_minutes": 10}`; 0 turns the email off)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or "unread_email_minutes" not in data:
        return problem(400, 'Send JSON with the delay in minutes as "unread_email_minutes".')
    session = get_session()
    try:
        minutes = staff_alerts.set_unread_email_minutes(
            session, g.shop, data["unread_email_minutes"]
        )
    except staff_alerts.SettingRefused as exc:
        session.rollback()
        return problem(422, str(exc))
    session.commit()
    return {"unread_email_minutes": minutes}
