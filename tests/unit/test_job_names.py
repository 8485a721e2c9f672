"""Every job the domain enqueues by name resolves to a function a worker can run."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from shopify_app import jobs


@pytest.mark.parametrize("name", sorted(jobs.JOB_NAMES))
def test_job_name_resolves_to_a_function(name: str) -> None:
    module_name, _, attribute = name.rpartition(".")
    func = getattr(importlib.import_module(module_name), attribute)
    assert callable(func)
    assert func.__module__ == module_name


def test_an_unknown_job_name_is_refused_before_anything_is_queued() -> None:
    with Session(create_engine("sqlite://")) as session:
        with pytest.raises(ValueError, match="unknown job name"):
            jobs.enqueue_after_commit(session, "workers.referral_jobs.no_such_job", 1)
        assert "after_commit" not in session.info
