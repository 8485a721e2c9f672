"""Workers that run each job inside the Flask app context."""

from __future__ import annotations

from flask import Flask
from rq import SimpleWorker, Worker

from .queues import QUEUE_NAMES, get_queue


class AppContextMixin:
    app: Flask

    def perform_job(self, job, queue, execution) -> bool:  # type: ignore[override]
        with self.app.app_context():
            return super().perform_job(job, queue, execution)  # type: ignore[misc]


class AppWorker(AppContextMixin, Worker):
    """Forks a work horse per job; the DB engine drops inherited connections at fork."""


class AppSimpleWorker(AppContextMixin, SimpleWorker):
    """Runs jobs in-process (tests, `--burst` debugging)."""


def build_worker(app: Flask, *, simple: bool = False) -> Worker:
    with app.app_context():
        queues = [get_queue(name) for name in QUEUE_NAMES]
        cls = AppSimpleWorker if simple else AppWorker
        worker = cls(queues, connection=queues[0].connection)
    worker.app = app
    return worker
