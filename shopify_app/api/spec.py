"""The OpenAPI 3.1 document, assembled from `spec/*.yaml`, and validation against it.

`common.yaml` holds the frame (info, servers, security) and what every resource shares;
each other file adds its own `paths` and `components`. A name defined twice is an error at
load, so two files can never silently disagree. The same document is served at
`/api/v1/openapi.json`, rendered at `/api/v1/docs`, and used by openapi-core to validate
every request before its view runs and every response before it leaves: the server cannot
drift from what it publishes.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from flask import Request, Response
from openapi_core import OpenAPI
from openapi_core.contrib.flask import FlaskOpenAPIRequest, FlaskOpenAPIResponse
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.validation.request.exceptions import (
    MissingRequestBodyError,
    ParameterValidationError,
    RequestBodyValidationError,
    SecurityValidationError,
)

from .errors import ApiError, FieldError

SPEC_DIR = Path(__file__).parent / "spec"
FRAME = "common.yaml"
_REQUIRED = re.compile(r"'(.+)' is a required property")
_UNEXPECTED = re.compile(r"\((.+) (?:was|were) unexpected\)")


class SpecError(RuntimeError):
    """The spec files contradict each other."""


def _merge(into: dict[str, Any], part: dict[str, Any], where: str, source: str) -> None:
    for name, value in part.items():
        if name in into:
            raise SpecError(f"{source}: {where}{name} is defined twice")
        into[name] = value


@functools.cache
def document() -> dict[str, Any]:
    """The whole document (cached; callers must not change it: `served_document` copies)."""
    frame = yaml.safe_load((SPEC_DIR / FRAME).read_text())
    frame.setdefault("paths", {})
    components = frame.setdefault("components", {})
    tags: list[str] = []
    for path in sorted(SPEC_DIR.glob("*.yaml")):
        if path.name == FRAME:
            continue
        part = yaml.safe_load(path.read_text()) or {}
        unknown = set(part) - {"paths", "components"}
        if unknown:
            raise SpecError(f"{path.name}: only paths and components, not {sorted(unknown)}")
        _merge(frame["paths"], part.get("paths") or {}, "paths ", path.name)
        for section, entries in (part.get("components") or {}).items():
            _merge(components.setdefault(section, {}), entries, f"{section} ", path.name)
        for item in (part.get("paths") or {}).values():
            for operation in item.values():
                for tag in operation.get("tags", []) if isinstance(operation, dict) else []:
                    if tag not in tags:
                        tags.append(tag)
    frame["tags"] = [{"name": t} for t in tags]
    return frame


def served_document() -> dict[str, Any]:
    return copy.deepcopy(document())


@functools.cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(served_document())


def _path(prefix: list[Any]) -> str:
    return ".".join(str(p) for p in prefix) or "body"


def _schema_fields(cause: BaseException | None, base: list[Any]) -> list[FieldError]:
    fields: list[FieldError] = []
    for error in getattr(cause, "schema_errors", None) or []:
        where = base + list(getattr(error, "absolute_path", None) or getattr(error, "path", []))
        message = getattr(error, "message", str(error))
        validator = getattr(error, "validator", None)
        if validator == "required" and (m := _REQUIRED.search(message)):
            fields.append(FieldError(_path(where + [m.group(1)]), "This field is required."))
        elif validator == "additionalProperties" and (m := _UNEXPECTED.search(message)):
            for name in re.findall(r"'([^']*)'", m.group(1)):
                fields.append(FieldError(_path(where + [name]), "Unknown field."))
        elif validator == "anyOf" and _only_required(getattr(error, "validator_value", None)):
            names = [n for option in error.validator_value for n in option["required"]]
            fields.append(FieldError(_path(where), f"Give at least one of: {', '.join(names)}."))
        else:
            fields.append(FieldError(_path(where), _without_value(error, message)))
    return fields


def _only_required(options: Any) -> bool:
    return isinstance(options, list) and all(
        isinstance(o, dict) and set(o) == {"required"} for o in options
    )


def _without_value(error: Any, message: str) -> str:
    """jsonschema's message without the value it quotes first (an input may be long, or
    personal): "'x' is too long" -> "The value is too long"."""
    quoted = repr(getattr(error, "instance", None))
    if message.startswith(quoted):
        message = "The value" + message[len(quoted) :]
    return message[:300]


def _request_error(error: Exception) -> ApiError:
    if isinstance(error, SecurityValidationError):
        return ApiError("unauthorized", "Send your API key as Authorization: Bearer <key>.")
    if isinstance(error, ParameterValidationError):
        fields = _schema_fields(error.__cause__, [error.name]) or [
            FieldError(error.name, str(error))
        ]
        return ApiError(
            "validation_failed",
            f"The {error.location} parameter {error.name} is not valid.",
            fields,
        )
    if isinstance(error, MissingRequestBodyError):
        return ApiError(
            "validation_failed", "A JSON body is required.", [FieldError("body", "Required.")]
        )
    if isinstance(error, RequestBodyValidationError):
        cause = error.__cause__
        if isinstance(cause, MediaTypeNotFound):
            return ApiError(
                "unsupported_media_type", "Send the body as JSON (Content-Type: application/json)."
            )
        fields = _schema_fields(cause, [])
        if fields:
            return ApiError("validation_failed", "The body is not valid.", fields)
        return ApiError("invalid_request", "The body is not valid JSON.")
    return ApiError("invalid_request", str(error)[:300])


class _HeadAsGet(FlaskOpenAPIRequest):
    """A HEAD request checked as the GET it stands for (Flask runs the GET view for it)."""

    @property
    def method(self) -> str:
        return "get"


def validate_request(request: Request) -> None:
    """Raise `ApiError` (400/415/422, every field at fault named) unless the request is one
    the document allows. A HEAD is checked as its GET: it runs the GET's view."""
    wrapped = _HeadAsGet(request) if request.method == "HEAD" else FlaskOpenAPIRequest(request)
    errors = list(openapi().iter_request_errors(wrapped))
    if not errors:
        return
    first = _request_error(errors[0])
    for more in errors[1:]:
        extra = _request_error(more)
        if extra.type == first.type:
            first.fields.extend(extra.fields)
    raise first


def response_errors(request: Request, response: Response) -> list[Exception]:
    """What is wrong with `response` by the document (nothing, normally)."""
    return list(
        openapi().iter_response_errors(FlaskOpenAPIRequest(request), FlaskOpenAPIResponse(response))
    )
