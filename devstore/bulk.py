"""Bulk query operations: run the query over every object, write JSONL, send the webhook.

As on Shopify: at most one connection tree with nested connections flattened into lines
carrying `__parentId`, the operation goes CREATED -> RUNNING -> COMPLETED in the background,
and `bulk_operations/finish` is delivered when it is done.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphql import GraphQLError, OperationType, graphql_sync, parse
from graphql.language import OperationDefinitionNode

from .store import DevStoreState, Sequence, now

_ids = Sequence(4_000_001)


@dataclass
class DevBulkOperation:
    id: int
    shop: str
    query: str
    status: str = "CREATED"
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    content: bytes = b""
    created_at: datetime = field(default_factory=now)
    completed_at: datetime | None = None

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.id}"

    def node(self, base_url: str) -> dict[str, Any]:
        done = self.status == "COMPLETED"
        return {
            "id": self.gid,
            "status": self.status,
            "type": "QUERY",
            "errorCode": self.error_code,
            "objectCount": str(self.object_count),
            "rootObjectCount": str(self.root_object_count),
            "fileSize": str(len(self.content)) if done else None,
            "url": f"{base_url}/bulk/{self.shop}/{self.id}.jsonl"
            if done and self.content
            else None,
            "partialDataUrl": None,
            "query": self.query,
            "createdAt": self.created_at.isoformat(),
            "completedAt": self.completed_at.isoformat() if self.completed_at else None,
        }


def validate(query: str) -> str | None:
    try:
        document = parse(query)
    except GraphQLError as exc:
        return f"Invalid bulk query: {exc.message}"
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1 or ops[0].operation != OperationType.QUERY:
        return "Bulk queries must contain exactly one query operation"
    return None


def flatten(data: dict[str, Any]) -> tuple[list[dict], int]:
    """Connections in the result -> JSONL objects; children get `__parentId`."""
    lines: list[dict] = []
    roots = 0

    def nodes_of(conn: dict) -> list[dict]:
        if "nodes" in conn:
            return conn["nodes"]
        return [edge["node"] for edge in conn.get("edges", [])]

    def emit(node: dict, parent: str | None) -> None:
        own = {
            k: v
            for k, v in node.items()
            if not (isinstance(v, dict) and ("edges" in v or "nodes" in v))
        }
        if parent:
            own["__parentId"] = parent
        lines.append(own)
        for value in node.values():
            if isinstance(value, dict) and ("edges" in value or "nodes" in value):
                for child in nodes_of(value):
                    emit(child, node.get("id"))

    for value in data.values():
        if isinstance(value, dict) and ("edges" in value or "nodes" in value):
            for node in nodes_of(value):
                roots += 1
                emit(node, None)
    return lines, roots


def start(state: DevStoreState, domain: str, query: str, schema, root_factory) -> DevBulkOperation:
    op = DevBulkOperation(id=next(_ids), shop=domain, query=query)
    with state.lock:
        state.bulk_operations.setdefault(domain, []).append(op)
    run_in_background(state, op, schema, root_factory)
    return op


def run_in_background(state: DevStoreState, op: DevBulkOperation, schema, root_factory) -> None:
    """Run `op` on a thread (also an operation a restarted devstore found unfinished)."""
    threading.Thread(target=_run, args=(state, op, schema, root_factory), daemon=True).start()


def _run(state: DevStoreState, op: DevBulkOperation, schema, root_factory) -> None:
    op.status = "RUNNING"
    result = graphql_sync(schema, op.query, root_value=root_factory())
    if result.errors:
        op.status, op.error_code = "FAILED", "INTERNAL_SERVER_ERROR"
    else:
        lines, roots = flatten(result.data or {})
        op.content = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        op.object_count, op.root_object_count = len(lines), roots
        op.status = "COMPLETED"
    op.completed_at = now()
    state.changed()
    state.emit(
        op.shop,
        "bulk_operations/finish",
        {
            "admin_graphql_api_id": op.gid,
            "completed_at": op.completed_at.isoformat(),
            "created_at": op.created_at.isoformat(),
            "error_code": op.error_code,
            "status": op.status.lower(),
            "type": "query",
        },
    )


def current(state: DevStoreState, domain: str) -> DevBulkOperation | None:
    ops = state.bulk_operations.get(domain) or []
    return ops[-1] if ops else None


def find(state: DevStoreState, domain: str, gid: str) -> DevBulkOperation | None:
    return next((o for o in state.bulk_operations.get(domain) or [] if o.gid == gid), None)
