"""`/shops/<shop>/admin/oauth/*`: authorize page and the token endpoint's three grants."""

from __future__ import annotations

import hmac
import time
from urllib.parse import urlencode

import jwt
from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request

from .admin import admin_host_param
from .signing import sign_query
from .store import DevStoreState

bp = Blueprint("devstore_oauth", __name__)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
ONLINE_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"


def state() -> DevStoreState:
    return current_app.extensions["devstore_state"]


def registered_app():
    return current_app.extensions["devstore_app"]


def _error(status: int, error: str, description: str):
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


@bp.route("/shops/<shop>/admin/oauth/authorize", methods=["GET", "POST"])
def authorize(shop: str):
    app = registered_app()
    dev_shop = state().shop(shop) or abort(404)
    args = request.values
    if args.get("client_id") != app.api_key:
        abort(400, description="unknown client_id")
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in app.redirect_urls:
        abort(400, description="redirect_uri is not in the app's [auth] redirect_urls")
    scopes = args.get("scope") or app.scopes
    if request.method == "GET":
        return render_template(
            "devstore/authorize.html",
            shop=dev_shop,
            app=app,
            scopes=scopes.split(","),
            params=request.args,
        )
    state().install(shop, scopes)
    params = {
        "code": state().new_code(shop),
        "host": admin_host_param(dev_shop),
        "shop": shop,
        "state": args.get("state", ""),
        "timestamp": str(int(time.time())),
    }
    params["hmac"] = sign_query(params, app.api_secret)
    return redirect(f"{redirect_uri}?{urlencode(params)}")


@bp.post("/shops/<shop>/admin/oauth/access_token")
def access_token(shop: str):
    app = registered_app()
    store = state()
    dev_shop = store.shop(shop)
    if dev_shop is None:
        return _error(404, "not_found", "unknown shop")
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(body, dict):
        return _error(400, "invalid_request", "body must be JSON or form-encoded")
    if store.token_endpoint_failures > 0:
        store.token_endpoint_failures -= 1
        return _error(503, "service_unavailable", "try again")
    store.token_requests.append(
        {
            "shop": shop,
            "grant_type": body.get("grant_type", "authorization_code"),
            "requested_token_type": body.get("requested_token_type"),
        }
    )
    if body.get("client_id") != app.api_key or not hmac.compare_digest(
        str(body.get("client_secret", "")), app.api_secret
    ):
        return _error(401, "invalid_client", "client credentials are invalid")
    expiring = str(body.get("expiring", "0")) == "1"
    grant = body.get("grant_type")
    if grant == TOKEN_EXCHANGE:
        return _token_exchange(shop, body, expiring)
    if grant == "refresh_token":
        issued = store.refresh(shop, str(body.get("refresh_token", "")))
        if issued is None:
            return _error(400, "invalid_grant", "refresh token is invalid, expired or revoked")
        return jsonify(issued)
    if grant in (None, "authorization_code"):
        if not store.take_code(shop, str(body.get("code", ""))):
            return _error(400, "invalid_grant", "authorization code is invalid or expired")
        return jsonify(store.issue_tokens(shop, expiring=expiring))
    return _error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")


def _token_exchange(shop: str, body: dict, expiring: bool):
    app = registered_app()
    store = state()
    requested = body.get("requested_token_type")
    if body.get("subject_token_type") != ID_TOKEN_TYPE or requested not in (
        OFFLINE_TYPE,
        ONLINE_TYPE,
    ):
        return _error(400, "invalid_request", "unsupported subject or requested token type")
    try:
        claims = jwt.decode(
            str(body.get("subject_token", "")),
            app.api_secret,
            algorithms=["HS256"],
            audience=app.api_key,
            leeway=10,
        )
    except jwt.PyJWTError as exc:
        return _error(400, "invalid_subject_token", f"ID token rejected: {exc}")
    if claims.get("dest") != f"https://{shop}":
        return _error(400, "invalid_subject_token", "ID token was issued for another shop")
    if not store.shops[shop].installed:
        return _error(400, "invalid_subject_token", "the app is not installed on this shop")
    if requested == ONLINE_TYPE:
        issued = store.issue_online_token(shop, str(claims.get("sub", "")))
        if issued is None:
            return _error(400, "invalid_subject_token", "the ID token's user is not staff here")
        return jsonify(issued)
    return jsonify(store.issue_tokens(shop, expiring=expiring))
