"""`/shops/<shop>/admin/api/<version>/graphql.json`, schema-first with graphql-core.

Token checking with Shopify's error shapes, the documented query cost and leaky bucket
(THROTTLED arrives with HTTP 200), and switchable faults for reliability tests.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, current_app, jsonify, request
from graphql import GraphQLError, graphql_sync, parse

from . import bulk
from .cost import LeakyBucket, query_cost
from .resolvers import Root
from .schema import schema
from .store import DevStoreState

bp = Blueprint("devstore_graphql", __name__)

VERSION_RE = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"
MAX_QUERY_COST = 1000


def _cost(requested: int, actual: int, bucket: LeakyBucket) -> dict:
    status = bucket.status()
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {
            "maximumAvailable": status.maximum_available,
            "currentlyAvailable": int(status.currently_available),
            "restoreRate": status.restore_rate,
        },
    }


@bp.post("/shops/<shop>/admin/api/<version>/graphql.json")
def graphql_endpoint(shop: str, version: str):
    state: DevStoreState = current_app.extensions["devstore_state"]
    dev_shop = state.shop(shop)
    if dev_shop is None or not VERSION_RE.match(version):
        return jsonify({"errors": "Not Found"}), 404
    if state.check_access_token(shop, request.headers.get("X-Shopify-Access-Token")) is None:
        return jsonify({"errors": INVALID_TOKEN}), 401
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return jsonify({"errors": {"query": "Required parameter missing or invalid"}}), 400
    variables = body.get("variables") if isinstance(body.get("variables"), dict) else None
    fault = state.graphql_faults.pop(0) if state.graphql_faults else None
    state.graphql_requests.append({"shop": shop, "fault": fault})
    if fault in ("429", "500", "502", "503"):
        return jsonify({"errors": "Service unavailable"}), int(fault)
    try:
        document = parse(body["query"])
    except GraphQLError as exc:
        return jsonify({"errors": [exc.formatted]})
    requested = query_cost(schema(), document, variables, body.get("operationName"))
    if requested > MAX_QUERY_COST:
        message = (
            f"Query cost is {requested}, which exceeds the single query max cost limit "
            f"({MAX_QUERY_COST})."
        )
        return jsonify(
            {
                "errors": [
                    {
                        "message": message,
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": requested,
                            "maxCost": MAX_QUERY_COST,
                        },
                    }
                ]
            }
        )
    bucket = state.bucket(shop)
    if fault == "throttled":
        bucket.drain()
    if not bucket.take(requested):
        return jsonify(
            {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS},
                    }
                ],
                "extensions": {"cost": _cost(requested, 0, bucket)},
            }
        )
    result = graphql_sync(
        schema(),
        body["query"],
        root_value=Root(dev_shop, state),
        variable_values=variables,
        operation_name=body.get("operationName"),
    )
    payload: dict = {}
    if result.errors:
        payload["errors"] = [err.formatted for err in result.errors]
    if result.data is not None:
        payload["data"] = result.data
    payload["extensions"] = {"cost": _cost(requested, requested, bucket)}
    return jsonify(payload)


@bp.get("/bulk/<shop>/<int:op_id>.jsonl")
def bulk_result(shop: str, op_id: int):
    """The JSONL result file (on Shopify, a signed storage URL valid for a week)."""
    state: DevStoreState = current_app.extensions["devstore_state"]
    op = bulk.find(state, shop, f"gid://shopify/BulkOperation/{op_id}")
    if op is None or op.status != "COMPLETED":
        abort(404)
    return Response(op.content, mimetype="application/jsonl")


def resume_bulk_operations(state: DevStoreState) -> None:
    """Run again the bulk operations a restarted devstore found unfinished, as Shopify
    finishes an operation whatever happens to the process that started it."""
    for domain, operations in list(state.bulk_operations.items()):
        shop = state.shop(domain)
        for op in operations:
            if shop is not None and op.status in ("CREATED", "RUNNING"):
                bulk.run_in_background(
                    state, op, schema(), lambda shop=shop: Root(shop, state, bulk=True)
                )
