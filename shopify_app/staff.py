"""Staff members' names for the audit trail (D8).

The ID token carries only the staff member's id (`sub`). An online token exchange answers
with `associated_user` (name, email); the app asks once a day per staff member, keeps the
identity and throws the online token away (it acts with the shop's offline token). A
failure never stands in the way of the request: the audit then says "A staff member"
(the export keeps `staff:<id>`).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import httpx
from flask import current_app, g
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.db import get_or_insert, get_session
from shopify_app.models import Shop, StaffMember, utcnow
from shopify_app.shopify.errors import ShopifyError

log = logging.getLogger(__name__)

REFRESH_AFTER = timedelta(hours=24)
RETRY_AFTER_FAILURE_S = 3600
CHECK_EVERY_S = 600
_lock = threading.Lock()


def _checked() -> dict[tuple[int, int], float]:
    """(shop id, user id) -> when this process last looked (monotonic), per app."""
    return current_app.extensions.setdefault("staff_checked", {})


def _due(shop_id: int, user_id: int) -> bool:
    checked = _checked()
    with _lock:
        last = checked.get((shop_id, user_id))
        if last is not None and time.monotonic() < last:
            return False
        checked[(shop_id, user_id)] = time.monotonic() + CHECK_EVERY_S
        return True


def remember_staff(session: Session, shop: Shop, sub: str, id_token: str, tokens) -> None:
    """Make sure the staff member's identity is known and at most a day old (one database
    look every ten minutes per process, one online token exchange a day)."""
    if not sub.isdigit():
        return
    user_id = int(sub)
    if not _due(shop.id, user_id):
        return
    known = session.scalar(
        select(StaffMember).where(StaffMember.shop_id == shop.id, StaffMember.user_id == user_id)
    )
    if known is not None and utcnow() - known.refreshed_at < REFRESH_AFTER:
        return
    try:
        grant = tokens.exchange_id_token_online(shop.domain, id_token)
    except (ShopifyError, httpx.HTTPError) as exc:
        log.warning("no staff identity for %s user %s: %s", shop.domain, user_id, exc)
        with _lock:
            _checked()[(shop.id, user_id)] = time.monotonic() + RETRY_AFTER_FAILURE_S
        return
    user = grant.associated_user or {}
    if str(user.get("id")) != str(user_id):
        log.warning("online token for %s answered for another user", shop.domain)
        return
    row, _new = get_or_insert(
        session, StaffMember, {"shop_id": shop.id, "user_id": user_id}, {"refreshed_at": utcnow()}
    )
    row.first_name = (user.get("first_name") or None) and str(user["first_name"])[:255]
    row.last_name = (user.get("last_name") or None) and str(user["last_name"])[:255]
    row.email = (user.get("email") or None) and str(user["email"])[:320]
    row.account_owner = bool(user.get("account_owner"))
    row.refreshed_at = utcnow()
    session.commit()


def actor_label(actor: str | None) -> str:
    """Who acted, as a merchant reads it: `staff:501` -> "Ada Alpha (ada@alpha.example)" for
    the request's shop ("A staff member" until the app knows the name), `system` -> "The
    app", `api:Zapier` -> the API key's name; never the internal form."""
    if not actor:
        return "—"
    if not actor.startswith("staff:"):
        if actor.startswith("api:"):
            return _("The API key “%(name)s”", name=actor[4:])
        if actor.startswith("customer:"):
            return _("The customer")
        if actor == "system":
            return _("The app")
        if actor == "staff":
            return _("A staff member")
        return actor
    names = g.get("staff_names")
    if names is None:
        shop = g.get("shop")
        names = {}
        if shop is not None:
            for member in get_session().scalars(
                select(StaffMember).where(StaffMember.shop_id == shop.id)
            ):
                names[f"staff:{member.user_id}"] = member.label
        g.staff_names = names
    return names[actor] if actor in names else _("A staff member")
