"""The devstore's Admin API schema, built once from `schema.graphql`; the endpoint and the
bulk operations' resolvers run queries against it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from graphql import GraphQLSchema, build_schema


@cache
def schema() -> GraphQLSchema:
    return build_schema((Path(__file__).parent / "schema.graphql").read_text())
