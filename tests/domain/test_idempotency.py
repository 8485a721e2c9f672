"""Idempotency-Key claims: one run per key, the first answer replayed, another request 409,
a request whose process died taken over after its lease, a failed one released, kept 24 h."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Response
from sqlalchemy import select

from shopify_app.api import idempotency
from shopify_app.api.errors import ApiError
from shopify_app.models import IdempotentRequest, utcnow


def row(session, claim):
    return session.scalar(select(IdempotentRequest).where(IdempotentRequest.id == claim.id))


def test_one_run_then_the_first_answer_and_another_request_is_409(session, shop):
    first = idempotency.claim(session, shop, "k1", "digest-a")
    assert isinstance(first, idempotency.Claim)
    with pytest.raises(ApiError) as running:
        idempotency.claim(session, shop, "k1", "digest-a")  # while it runs
    assert running.value.type == "conflict"
    answer = Response(b'{"id": 7}', status=201, mimetype="application/json")
    answer.headers["Location"] = "/api/v1/customers/7"
    idempotency.finish(session, first, answer)
    session.commit()
    replay = idempotency.claim(session, shop, "k1", "digest-a")
    assert isinstance(replay, Response)
    assert (replay.status_code, replay.get_data(), replay.headers["Location"]) == (
        201,
        b'{"id": 7}',
        "/api/v1/customers/7",
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(ApiError) as other:
        idempotency.claim(session, shop, "k1", "digest-b")
    assert other.value.type == "conflict"


def test_a_dead_request_is_taken_over_and_its_late_finish_refused(session, shop):
    dead = idempotency.claim(session, shop, "k2", "d")
    row(session, dead).lease_until = utcnow() - timedelta(seconds=1)
    session.commit()
    taker = idempotency.claim(session, shop, "k2", "d")
    assert isinstance(taker, idempotency.Claim) and taker.owner != dead.owner
    with pytest.raises(ApiError):
        idempotency.finish(session, dead, Response(b"{}", status=200))
    idempotency.finish(session, taker, Response(b"{}", status=200))
    assert row(session, taker).state == "done"


def test_a_failed_request_releases_its_key_and_old_answers_are_purged(session, shop):
    failed = idempotency.claim(session, shop, "k3", "d")
    idempotency.release(session, failed)
    again = idempotency.claim(session, shop, "k3", "d")
    assert isinstance(again, idempotency.Claim)
    row(session, again).expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert idempotency.purge_expired(session) >= 1
    assert row(session, again) is None
