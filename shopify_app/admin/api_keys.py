"""Settings > API keys: make a key (its secret shown once), see when each was last used,
revoke one. Every change is audited with the staff member as the actor."""

from __future__ import annotations

from flask import Blueprint, g, request
from flask_babel import gettext as _

from shopify_app.api import keys
from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.db import get_session

from .pages import render_outcome

bp = Blueprint("api_keys", __name__)


@bp.after_request
def _never_cached(response):
    """These pages show a secret once: no cache may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _render(session, *, message=None, problem=None, secret=None, form=None, status=200):
    return render_outcome(
        "admin/api_keys.html",
        status,
        message=message,
        problem=problem,
        secret=secret,
        form=form or {},
        keys=keys.shop_keys(session, g.shop),
    )


@bp.get("/settings/api-keys", endpoint="api_keys")
@id_token_required
def api_keys_page():
    return _render(get_session())


@bp.post("/settings/api-keys")
@id_token_required
def create_api_key():
    session = get_session()
    try:
        made = keys.create_key(
            session,
            g.shop,
            name=(request.form.get("name") or "")[: keys.NAME_MAX * 2],
            access=request.form.get("access", ""),
            actor=staff_actor(),
        )
        session.commit()
    except keys.InvalidKeyRequest as exc:
        session.rollback()
        return _render(session, problem=str(exc), form=request.form, status=422)
    return _render(
        session,
        message=_(
            "Key “%(name)s” created. Copy it now: it is not shown again.", name=made.key.name
        ),
        secret=made.secret,
    )


@bp.post("/settings/api-keys/<int:key_id>/revoke")
@id_token_required
def revoke_api_key(key_id: int):
    session = get_session()
    key = keys.revoke_key(session, g.shop, key_id, actor=staff_actor())
    if key is None:
        session.rollback()
        return _render(session, problem=_("No such key."), status=404)
    session.commit()
    return _render(
        session,
        message=_("Key “%(name)s” is revoked: requests with it are refused.", name=key.name),
    )
