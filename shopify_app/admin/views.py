from __future__ import annotations

from flask import Blueprint, current_app, g, render_template

from shopify_app.auth.embedded import id_token_required
from shopify_app.db import get_session
from shopify_app.shopify.services import shopify
from shopify_app.shops import load_shop_profile

bp = Blueprint("admin", __name__)


@bp.get("/")
@id_token_required
def home():
    profile = load_shop_profile(get_session(), g.shop, shopify())
    required = {s.strip() for s in current_app.config["SCOPES"].split(",") if s.strip()}
    missing_scopes = sorted(required - g.shop.scope_set)
    return render_template(
        "admin/home.html", profile=profile, shop=g.shop, missing_scopes=missing_scopes
    )
