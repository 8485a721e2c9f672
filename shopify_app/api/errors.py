"""The API's one error shape: `{"error": {"type", "message", "fields": [{"path", "message"}]}}`.

Views and the guard raise `ApiError`; anything else that goes wrong under `/api/v1` (an
unknown URL, a wrong method, a body over the cap, an unexpected exception) is answered in the
same shape by the handlers `register` installs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

STATUS = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "validation_failed": 422,
    "rate_limited": 429,
    "internal_error": 500,
}
TYPE_OF_STATUS = {status: kind for kind, status in STATUS.items()}
PREFIX = "/api/v1"


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str


@dataclass
class ApiError(Exception):
    """An answer other than success; `type` is one of `STATUS`."""

    type: str
    message: str
    fields: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> int:
        return STATUS[self.type]


def not_found(what: str = "No such resource in this shop.") -> ApiError:
    return ApiError("not_found", what)


def error_body(error: ApiError) -> dict:
    body: dict = {"type": error.type, "message": error.message}
    if error.fields:
        body["fields"] = [{"path": f.path, "message": f.message} for f in error.fields]
    return {"error": body}


def error_response(error: ApiError) -> Response:
    response = current_app.json.response(error_body(error))
    response.status_code = error.status
    response.headers.update(error.headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def is_api_request() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def http_error(error: HTTPException) -> ApiError:
    """A Werkzeug error (404 routing, 405, 413 from the body cap) as an `ApiError`."""
    code = error.code or 500
    kind = TYPE_OF_STATUS.get(code, "invalid_request" if code < 500 else "internal_error")
    message = {
        404: "No such resource in this shop.",
        405: f"{request.method} is not allowed here.",
        413: "The request body is too large.",
    }.get(code, error.description or error.name)
    headers = {}
    if code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    return ApiError(kind, message, headers=headers)


def unexpected(error: Exception) -> ApiError:
    log.exception("API request failed: %s %s", request.method, request.path, exc_info=error)
    return ApiError("internal_error", "Something went wrong on our side; try again.")


def register(bp: Blueprint) -> None:
    """Answer every error of the blueprint's requests as an error object. Routing errors
    (an unknown URL or method under `/api/v1`) happen before a blueprint is chosen: the
    app's handler asks `is_api_request` and answers them with `http_error` too."""
    bp.register_error_handler(ApiError, error_response)
    bp.register_error_handler(HTTPException, lambda e: error_response(http_error(e)))
    bp.register_error_handler(Exception, lambda e: error_response(unexpected(e)))
