"""Schemathesis against the live app: every operation of the published OpenAPI document,
called with a real key, with generated valid and invalid input; every answer must keep to
the document (status, content type, headers, body) and no input may break the server.
The server validates with the same document (openapi-core), so this also proves the two
readings of it agree."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from limits import parse_many
from schemathesis import GenerationMode

from tests.conftest import SHOP_A

from .api_support import api_for

EXAMPLES = 30


@pytest.fixture
def api_key(live) -> str:
    api = api_for(live, SHOP_A)
    for i in range(3):  # something for the reads to find
        api.post("/customers", {"email": f"c{i}@example.com", "custom_attributes": {"n": i}})
    # thousands of calls in a minute: the limits are tested on their own
    limiter = live.app.extensions["rate_limits"]
    saved = dict(limiter.limits)
    limiter.limits.update(
        {"api-key": parse_many("100000 per minute"), "api-shop": parse_many("100000 per minute")}
    )
    yield api.secret
    limiter.limits.clear()
    limiter.limits.update(saved)


@pytest.fixture
def api_schema(live, api_key):
    config = schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {api_key}"},
            "checks": {
                # Input the schema allows may still break a rule it cannot state (an email
                # that is not an address once normalised, a phone number no country has, an
                # event time in the future, a customer id of nobody): 404/409/422 with the
                # reason, which the document lists for each operation; and a cursor is opaque:
                # any string fits the schema, one the API did not give is 400 (the rule).
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422", "429"]
                },
            },
        }
    )
    return schemathesis.openapi.from_url(f"{live.app_url}/api/v1/openapi.json", config=config)


def test_every_operation_keeps_to_the_published_spec(live, api_schema, api_key):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    document = live.http.get(f"{live.app_url}/api/v1/openapi.json").json()
    published = {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }
    assert {f"{o.method.upper()} {o.path}" for o in operations} == published
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def call(case):
                case.call_and_validate(headers={"Authorization": f"Bearer {api_key}"})

            try:
                call()
            except Exception as failure:  # every operation runs; all failures are reported
                failures.append(
                    f"{operation.method.upper()} {operation.path} ({mode.value}):\n{failure}"
                )
    assert not failures, "\n\n".join(failures)
