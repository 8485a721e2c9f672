"""`@api_key_required(scope)`: the one way into an API view, and what every request gets.

In order: the key (401: missing, malformed, wrong, revoked, or its shop uninstalled), the
rate limits per key and per shop (429), the scope (403: a read key writing), the request
against the OpenAPI document (400/415/422), the `Idempotency-Key` claim of a POST (a replay
or 409), the view, the response against the document (a drift is a 500 and a log line,
never a silent difference), the idempotent answer stored, and one COMMIT.

Views do not commit: the guard commits their effects together with the stored idempotent
answer, so the two can never disagree. A view raises `ApiError` for an answer other than
success (its effects are rolled back) and returns a dict, `(dict, status)` or
`(dict, status, headers)`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, g, request
from sqlalchemy import select

from shopify_app.auth.embedded import bearer_token
from shopify_app.db import get_session
from shopify_app.models import ApiKey, Shop

from . import idempotency, keys, spec
from .errors import ApiError, FieldError, error_response

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def current_key() -> ApiKey:
    return g.api_key


def current_shop() -> Shop:
    return g.api_shop


def api_actor() -> str:
    """The audit actor of an API write: the key's name, as the owner named it."""
    return f"api:{g.api_key.name}"


def json_body() -> Any:
    """The request's JSON (already validated against the document)."""
    return request.get_json(silent=True)


def _authenticate() -> tuple[ApiKey, Shop]:
    session = get_session()
    key = keys.find_key(session, bearer_token())
    if key is None:
        raise ApiError(
            "unauthorized",
            "Send a valid API key as Authorization: Bearer <key>.",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    shop = session.scalar(select(Shop).where(Shop.id == key.shop_id))
    if shop is None or not shop.is_installed or shop.redacted_at is not None:
        raise ApiError("unauthorized", "The key's shop does not have the app installed.")
    if keys.note_use(session, key):
        session.commit()
    return key, shop


def _rate_headers(key: ApiKey, shop: Shop) -> dict[str, str]:
    """Count the request per key and per shop; the tighter window's headers. Raises 429."""
    limiter = current_app.extensions["rate_limits"]
    windows = [
        w
        for w in (limiter.window("api-key", str(key.id)), limiter.window("api-shop", str(shop.id)))
        if w is not None
    ]
    if not windows:
        return {}
    tight = min(windows, key=lambda w: (w.allowed, w.remaining))
    headers = {
        "RateLimit-Limit": str(tight.limit),
        "RateLimit-Remaining": str(tight.remaining),
        "RateLimit-Reset": str(tight.reset_after),
    }
    if not tight.allowed:
        raise ApiError(
            "rate_limited",
            "Too many requests; retry after the number of seconds in Retry-After.",
            headers={**headers, "Retry-After": str(tight.reset_after)},
        )
    return headers


def _as_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    status, headers = 200, {}
    if isinstance(result, tuple):
        result, status, *rest = result
        headers = rest[0] if rest else {}
    response = current_app.json.response(result)
    response.status_code = status
    response.headers.update(headers)
    return response


def _checked(response: Response) -> Response:
    """The response if the document allows it; a logged 500 otherwise."""
    if request.method == "HEAD":  # Flask's GET without the body; the document names the GET
        return response
    problems = spec.response_errors(request, response)
    if not problems:
        return response
    log.error(
        "API response breaks the spec: %s %s -> %s: %s",
        request.method,
        request.path,
        response.status_code,
        "; ".join(f"{p}: {getattr(p, '__cause__', '')}" for p in problems)[:2000],
    )
    raise _Drift


class _Drift(Exception):
    pass


def _run(view: Callable[..., Any], kwargs: dict[str, Any], scope: str) -> Response:
    session = get_session()
    held: idempotency.Claim | None = None
    rate: dict[str, str] = {}
    try:
        key, shop = _authenticate()
        g.api_key, g.api_shop = key, shop
        rate = _rate_headers(key, shop)
        if scope not in key.scope_set:
            raise ApiError("forbidden", f"This key cannot {scope}: it has {key.scopes} access.")
        spec.validate_request(request)
        idempotency_key = request.headers.get(idempotency.HEADER)
        if request.method == "POST" and idempotency_key is not None:
            if not idempotency.KEY_RE.fullmatch(idempotency_key):
                raise validation_failed(
                    idempotency.HEADER, "1 to 255 printable ASCII characters, no spaces."
                )
            claimed = idempotency.claim(
                session, shop, idempotency_key, idempotency.request_digest(request, key.id)
            )
            if isinstance(claimed, Response):
                claimed.headers.update(rate)
                return claimed
            held = claimed
        response = _checked(_as_response(view(**kwargs)))
        if held is not None:
            idempotency.finish(session, held, response)
        if request.method in WRITES:
            session.commit()
    except ApiError as error:
        session.rollback()
        response = _checked(error_response(error))
        if held is not None:  # the view's refusal is its answer
            try:
                idempotency.finish(session, held, response)
                session.commit()
            except ApiError as lost:
                session.rollback()
                response = error_response(lost)
    except Exception as error:
        session.rollback()
        if held is not None:
            idempotency.release(session, held)
        if not isinstance(error, _Drift):
            raise
        response = error_response(ApiError("internal_error", "The server broke its own spec."))
    response.headers.update(rate)
    response.headers["Cache-Control"] = "no-store"
    return response


def api_key_required(scope: str) -> Callable[[F], F]:
    """Guard an API view: `scope` is "read" or "write" (a write key reads too)."""
    if scope not in keys.SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            return _run(view, kwargs, scope)

        return wrapper  # type: ignore[return-value]

    return decorate


def validation_failed(path: str, message: str) -> ApiError:
    """A rule the schema cannot say (an address that is not one), as a 422 on `path`."""
    return ApiError("validation_failed", message, [FieldError(path, message)])
