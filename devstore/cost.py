"""Shopify's GraphQL cost model and leaky bucket, as documented for the Admin API.

Cost: scalars and enums 0, objects 1, connections their `first`/`last` (plus their nodes'
cost times that size), mutations 10. The bucket refills at `restore_rate` points a second;
a query whose requested cost exceeds what is available is refused with THROTTLED (HTTP 200).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from graphql.language import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
)

MUTATION_COST = 10


def _unwrap(type_):
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _arg_int(field: FieldNode, names: tuple[str, ...], variables: dict) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value in names:
            node = arg.value
            if node.kind == "variable":
                value = variables.get(node.name.value)
                return int(value) if isinstance(value, int) else None
            if node.kind == "int_value":
                return int(node.value)
    return None


def _selection_cost(selections, parent: GraphQLObjectType, schema, fragments, variables) -> int:
    total = 0
    for sel in selections:
        if isinstance(sel, InlineFragmentNode):
            cond = schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            total += _selection_cost(
                sel.selection_set.selections, cond, schema, fragments, variables
            )
            continue
        if isinstance(sel, FragmentSpreadNode):
            frag = fragments.get(sel.name.value)
            if frag is not None:
                cond = schema.get_type(frag.type_condition.name.value)
                total += _selection_cost(
                    frag.selection_set.selections, cond, schema, fragments, variables
                )
            continue
        field_def = parent.fields.get(sel.name.value) if hasattr(parent, "fields") else None
        if field_def is None:
            continue
        target = _unwrap(field_def.type)
        if not hasattr(target, "fields") or sel.selection_set is None:
            continue  # scalar or enum
        inner = _selection_cost(sel.selection_set.selections, target, schema, fragments, variables)
        size = _arg_int(sel, ("first", "last"), variables)
        if target.name.endswith("Connection") and size is not None:
            total += 2 + size * max(inner - 1, 1)  # connection + page of nodes
        else:
            total += 1 + inner
    return total


def query_cost(
    schema: GraphQLSchema,
    query: str | DocumentNode,
    variables: dict | None = None,
    operation_name: str | None = None,
) -> int:
    document = parse(query) if isinstance(query, str) else query
    variables = variables or {}
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if not operations:
        return 1
    op = operations[0]
    if op.operation == OperationType.MUTATION:
        return MUTATION_COST
    return max(
        1,
        _selection_cost(
            op.selection_set.selections, schema.query_type, schema, fragments, variables
        ),
    )


@dataclass
class BucketStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float


class LeakyBucket:
    """One bucket per (app, shop)."""

    def __init__(self, maximum: float = 2000.0, restore_rate: float = 100.0):
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._available = maximum
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now

    def take(self, cost: float) -> bool:
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, amount: float) -> None:
        with self._lock:
            self._available = min(self.maximum, self._available + amount)

    def drain(self) -> None:
        with self._lock:
            self._refill()
            self._available = 0.0

    def status(self) -> BucketStatus:
        with self._lock:
            self._refill()
            return BucketStatus(self.maximum, self._available, self.restore_rate)
