"""Queue plumbing: enqueue after commit, jobs run in the app context, periodic jobs."""

from __future__ import annotations

import os
from datetime import timedelta

from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from shopify_app.db import get_session
from shopify_app.jobs import enqueue_after_commit, get_queue
from shopify_app.models import OAuthState, Shop, utcnow
from tests.conftest import SHOP_A
from tests.helpers import id_token
from workers import maintenance
from workers.schedule import PERIODIC_JOBS, build_scheduler
from workers.worker import build_worker

from . import worker_jobs


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


def run_forking_worker(app, *jobs: tuple) -> tuple[list[int], Queue]:
    """Enqueue `(func, options)` pairs, run the production worker in burst mode; returns
    the processes that ran them, in order, and the queue."""
    with app.app_context():
        queue = get_queue()
        for func, options in jobs:
            queue.enqueue(func, **options)
    build_worker(app).work(burst=True)
    with app.app_context():
        return worker_jobs.ran(), queue


def failed_ids(queue: Queue) -> list[str]:
    return FailedJobRegistry(queue=queue).get_job_ids()


def test_the_worker_runs_job_after_job_in_one_resident_work_horse(app):
    """Forking a horse per job cost 20-30 ms of set-up a job (issue 22); one horse runs them
    all, apart from the worker process, on one database connection."""
    pids, queue = run_forking_worker(app, *[(worker_jobs.note_process, {})] * 4)
    assert len(pids) == 4
    assert len(set(pids)) == 1
    assert pids[0] != os.getpid()
    assert failed_ids(queue) == []


def test_a_crashing_job_fails_alone_and_a_new_horse_runs_the_next(app):
    pids, queue = run_forking_worker(
        app,
        (worker_jobs.note_process, {}),
        (worker_jobs.crash, {"job_id": "crashes"}),
        (worker_jobs.note_process, {}),
    )
    assert pids[0] == pids[1] != pids[2]
    assert failed_ids(queue) == ["crashes"]
    with app.app_context():
        job = Job.fetch("crashes", connection=queue.connection)
        assert "Work-horse terminated unexpectedly" in job.latest_result().exc_string


def test_a_job_past_its_timeout_is_failed_and_the_next_job_runs(app):
    pids, queue = run_forking_worker(
        app,
        (worker_jobs.hang, {"args": (60,), "job_timeout": 1, "job_id": "hangs"}),
        (worker_jobs.note_process, {}),
    )
    assert len(pids) == 2
    assert failed_ids(queue) == ["hangs"]
    with app.app_context():
        job = Job.fetch("hangs", connection=queue.connection)
        assert "JobTimeoutException" in job.latest_result().exc_string


def test_a_failed_job_retires_its_horse(app):
    pids, queue = run_forking_worker(
        app,
        (worker_jobs.note_process, {}),
        (worker_jobs.fail, {"job_id": "fails"}),
        (worker_jobs.note_process, {}),
    )
    assert pids[0] == pids[1] != pids[2]
    assert failed_ids(queue) == ["fails"]


def test_the_horse_retires_after_its_job_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "WORKER_HORSE_MAX_JOBS", 2)
    pids, _queue = run_forking_worker(app, *[(worker_jobs.note_process, {})] * 5)
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


def test_the_horse_retires_once_its_memory_passes_the_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "WORKER_HORSE_MAX_MEMORY_MB", 64)  # below any horse
    pids, _queue = run_forking_worker(app, *[(worker_jobs.note_process, {})] * 3)
    assert len(set(pids)) == 3
