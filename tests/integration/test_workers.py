"""Queue plumbing: enqueue after commit, jobs run in the app context, periodic jobs."""

from __future__ import annotations

from datetime import timedelta

from rq import Queue
from sqlalchemy import func, select

from shopify_app.db import get_session
from shopify_app.models import OAuthState, Shop, utcnow
from tests.conftest import SHOP_A
from tests.helpers import id_token
from workers import maintenance
from workers.queues import enqueue_after_commit, get_queue
from workers.schedule import PERIODIC_JOBS, build_scheduler
from workers.worker import build_worker


def queued(app) -> int:
    with app.app_context():
        return get_queue().count


def test_enqueue_waits_for_commit_and_rollback_drops_the_job(app):
    with app.app_context():
        session = get_session()
        enqueue_after_commit(session, maintenance.purge_expired_oauth_states)
        assert get_queue().count == 0
        session.rollback()
        session.commit()
        assert get_queue().count == 0
        enqueue_after_commit(session, maintenance.purge_expired_oauth_states)
        session.commit()
        assert get_queue().count == 1


def oauth_state(nonce: str, expires_in_minutes: int) -> OAuthState:
    now = utcnow()
    return OAuthState(
        nonce=nonce,
        shop_domain=SHOP_A,
        created_at=now,
        expires_at=now + timedelta(minutes=expires_in_minutes),
    )


def enqueue_purge_with_states(app, *states: OAuthState) -> None:
    with app.app_context():
        session = get_session()
        session.add_all(states)
        enqueue_after_commit(session, maintenance.purge_expired_oauth_states)
        session.commit()


def test_jobs_run_inside_the_app_context(app):
    enqueue_purge_with_states(app, oauth_state("old", -50), oauth_state("new", 10))
    build_worker(app, simple=True).work(burst=True)
    with app.app_context():
        assert get_session().scalars(select(OAuthState.nonce)).all() == ["new"]


def test_periodic_refresh_renews_tokens_about_to_expire(live):
    live.http.get(
        f"{live.app_url}/", params={"shop": SHOP_A, "embedded": "1", "id_token": id_token(SHOP_A)}
    )
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        shop.access_token_expires_at = utcnow() + timedelta(minutes=10)
        session.commit()
        assert maintenance.refresh_expiring_tokens() == {
            "refreshed": 1,
            "reauth_required": 0,
            "failed": 0,
        }
        session.refresh(shop)
        assert shop.access_token_expires_at - utcnow() > timedelta(minutes=55)
        assert maintenance.refresh_expiring_tokens() == {
            "refreshed": 0,
            "reauth_required": 0,
            "failed": 0,
        }


def test_scheduler_registers_every_periodic_job_and_enqueues_them(app):
    scheduler = build_scheduler(app)
    names = {job.func_name for job in scheduler.get_jobs()}
    assert names == {f"{j.func.__module__}.{j.func.__name__}" for j in PERIODIC_JOBS}
    scheduler.enqueue_jobs()
    with app.app_context():
        assert Queue("default", connection=get_queue().connection).count == len(PERIODIC_JOBS)
    build_worker(app, simple=True).work(burst=True)
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(OAuthState)) == 0


def test_forking_worker_runs_jobs_in_a_work_horse(app):
    """The production worker forks per job; the child must get its own DB connections."""
    enqueue_purge_with_states(app, oauth_state("stale", -50))
    build_worker(app).work(burst=True)
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(OAuthState)) == 0
