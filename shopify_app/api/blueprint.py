"""The `/api/v1` blueprint, its error handling, and the published document: the OpenAPI
JSON and the reference page rendered from it (no script, nothing from a CDN)."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, current_app, render_template
from markupsafe import Markup, escape

from . import errors, spec

bp = Blueprint("api", __name__, url_prefix=errors.PREFIX)
errors.register(bp)

METHODS = ("get", "post", "put", "patch", "delete")


@bp.get("/openapi.json")
def openapi_json():
    response = current_app.json.response(spec.served_document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _resolve(document: dict[str, Any], node: Any) -> Any:
    """`node` with a top-level `$ref` followed (for the reference page)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 10:
        target: Any = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node, seen = target, seen + 1
    return node


def _schema_name(node: Any) -> str | None:
    if isinstance(node, dict) and "$ref" in node:
        return node["$ref"].rsplit("/", 1)[-1]
    return None


@bp.get("/docs")
def reference():
    document = spec.served_document()
    operations = []
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {})
            responses = []
            for status, answer in op.get("responses", {}).items():
                resolved = _resolve(document, answer)
                schema = resolved.get("content", {}).get("application/json", {}).get("schema")
                responses.append(
                    {
                        "status": status,
                        "description": resolved.get("description", ""),
                        "schema": _schema_name(schema),
                        "inline": None if _schema_name(schema) else schema,
                    }
                )
            operations.append(
                {
                    "id": op.get("operationId"),
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "tag": (op.get("tags") or ["Other"])[0],
                    "scope": "read" if method == "get" else "write",
                    "parameters": [_resolve(document, p) for p in op.get("parameters", [])],
                    "body": _schema_name(body.get("schema")),
                    "body_inline": None if _schema_name(body.get("schema")) else body.get("schema"),
                    "responses": responses,
                }
            )
    schemas = document["components"]["schemas"]
    return render_template(
        "api/reference.html",
        info=document["info"],
        operations=operations,
        schemas=schemas,
        pretty=lambda value: json.dumps(value, indent=2, sort_keys=False),
        prose=prose,
    )


def prose(text: str) -> Markup:
    """The spec's descriptions (a little Markdown: paragraphs, **bold**, `code`) as HTML."""
    paragraphs = []
    for block in (text or "").strip().split("\n\n"):
        html = str(escape(" ".join(block.split())))
        html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
        html = re.sub(r"(?<![*\w])\*([^*\s][^*]*?)\*(?![*\w])", r"<em>\1</em>", html)
        html = re.sub(r"`(.+?)`", r'<code class="code">\1</code>', html)
        paragraphs.append(f"<p>{html}</p>")
    return Markup("\n".join(paragraphs))  # noqa: S704 - built from escaped text
