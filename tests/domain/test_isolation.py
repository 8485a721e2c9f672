"""The domain fixture itself: commits inside a test stay inside it, and jobs enqueue on
commit only."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shopify_app import jobs
from shopify_app.models import Shop

from .. import factories

pytestmark = pytest.mark.xdist_group("isolation")  # part 2 must follow part 1 on one worker


def test_a_commit_releases_a_savepoint_and_a_rollback_returns_to_it(session):
    kept = factories.shop(session)
    session.commit()
    dropped = factories.shop(session)
    session.rollback()
    domains = set(session.scalars(select(Shop.domain)))
    assert kept.domain in domains
    assert dropped.domain not in domains


def test_rows_of_one_test_are_gone_in_the_next_part_1(session):
    factories.shop(session, domain="isolation-check.myshopify.com")
    session.commit()


def test_rows_of_one_test_are_gone_in_the_next_part_2(session):
    count = session.scalar(
        select(func.count()).where(Shop.domain == "isolation-check.myshopify.com")
    )
    assert count == 0


def test_jobs_are_enqueued_on_commit_and_dropped_on_rollback(session, enqueued):
    jobs.enqueue_after_commit(session, jobs.SYNC_FRIEND_CODE, 1)
    assert enqueued.jobs == []
    session.rollback()
    jobs.enqueue_after_commit(session, jobs.SYNC_FRIEND_CODE, 2)
    session.commit()
    assert enqueued.calls(jobs.SYNC_FRIEND_CODE) == [(2,)]
