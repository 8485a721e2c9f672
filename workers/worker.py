"""Workers that run each job inside the Flask app context.

`referrals worker` runs `AppWorker`: RQ's worker, except that its jobs run one after another
in a resident work horse instead of a horse forked for each job. RQ's per-job fork cost 20-30
ms of set-up per job (the fork, a new Redis and database connection, and on PostgreSQL the
dialect's first-connect queries and no reused prepared statements), which on a steady trickle
of small jobs was most of the worker's time (docs/architecture.md, "Worker model"). The horse
keeps what a fork gives:

- a crashing job takes down the horse, not the worker: RQ fails the job as it does for a
  horse it forked, and the worker forks a new horse;
- a hung job is killed: inside the horse RQ's death penalty (SIGALRM) fails it at its timeout,
  and the worker kills the horse 60 s past it, as RQ does;
- a leaking job cannot grow the worker: the horse retires after `WORKER_HORSE_MAX_JOBS` jobs,
  when its peak memory passes `WORKER_HORSE_MAX_MEMORY_MB`, and after any failed job (whose
  state is not trusted), and the worker forks a fresh one;
- no database connection crosses a fork: the worker itself never opens one.

The worker also rides out Redis outages (`workers.outage`): it waits, logs once, and resumes;
the horse waits out a database outage before it says it is ready for a job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from flask import Flask
from rq import SimpleWorker, Worker, worker_registration
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.scheduler import RQScheduler
from rq.utils import now
from rq.worker.base import WorkerStatus
from rq.worker.base import logger as rq_logger

from shopify_app.db import database
from shopify_app.jobs import QUEUE_NAMES, get_queue

from .horse import CLOSED, TIMEOUT, Channel, channel_pair, peak_rss_mb
from .outage import DATABASE_ERRORS, REDIS_ERRORS, Outage, database_outage, redis_outage

T = TypeVar("T")
log = logging.getLogger(__name__)

HORSE_STOP_SECONDS = 10
PUBSUB_WAKE_SECONDS = 1.0


class AppContextMixin:
    app: Flask

    def perform_job(self, job, queue, execution) -> bool:  # type: ignore[override]
        with self.app.app_context():
            return super().perform_job(job, queue, execution)  # type: ignore[misc]

    def subscribe(self) -> None:
        """RQ's, with the command listener waking every second, not every minute: RQ's
        teardown unsubscribes and then joins it, which could take that minute (a worker
        asked to stop took 60 s; a platform that waits 30 s kills it)."""
        self.pubsub = self.connection.pubsub()  # type: ignore[attr-defined]
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})  # type: ignore[attr-defined]
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_WAKE_SECONDS,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,  # type: ignore[attr-defined]
        )


@dataclass
class _Horse:
    pid: int
    channel: Channel
    ready: bool = False


class AppWorker(AppContextMixin, Worker):
    """RQ's worker with a resident work horse and Redis outages ridden out (module docstring)."""

    horse_max_jobs = 1000
    horse_max_memory_mb = 1024
    _horse: _Horse | None = None
    _redis_outage: Outage | None = None

    # --- the resident horse, worker side ---------------------------------------------------

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        self._ready_horse()  # before taking a job: none waits in a horse that cannot run it
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def fork_work_horse(self, job, queue) -> None:
        """Hand the job to the resident horse (where RQ would fork one)."""
        message = {"job": job.id, "queue": queue.name, "execution": self.execution.id}
        for attempt in (1, 2):
            self._ready_horse()
            horse = self._horse
            assert horse is not None
            try:
                horse.channel.send(message)
                break
            except OSError:  # it died while idle; a fresh one takes the job
                self._reap_idle_horse()
                if attempt == 2:
                    raise
        horse.ready = False
        self._horse_pid = horse.pid
        self.procline(f"Job {job.id} in horse {horse.pid} since {time.time()}")

    def monitor_work_horse(self, job, queue, execution) -> None:
        """Wait for the horse to report the job done, keeping the heartbeats RQ keeps. If it
        dies instead (or is killed 60 s past the job's timeout), RQ's own monitor reaps it
        and fails the job exactly as for a horse it forked."""
        horse = self._horse
        assert horse is not None
        job.started_at = now()
        while True:
            message = horse.channel.receive(self.job_monitoring_interval)
            if message is CLOSED:
                break
            if message is TIMEOUT:
                working = (now() - job.started_at).total_seconds()
                if job.timeout != -1 and working > (job.timeout or 0) + 60:
                    self.kill_horse()
                    break
                self.maintain_heartbeats(job, execution)
                continue
            if isinstance(message, dict) and message.get("done") == job.id:
                self._horse_pid = 0
                self.executions.pop(execution.id, None)
                return
            log.error("work horse %s sent %r during job %s; killing it", horse.pid, message, job.id)
            self.kill_horse()
            break
        try:
            super().monitor_work_horse(job, queue, execution)
        finally:
            self._forget_horse()

    def _ready_horse(self) -> None:
        """Have a resident horse ready for a job: fork one if there is none, then wait for
        its word (it first waits out a database outage). Heartbeats go on meanwhile."""
        while True:
            if self._horse is None:
                self._horse = self._fork_resident_horse()
            if self._horse.ready:
                return
            message = self._horse.channel.receive(self.job_monitoring_interval)
            if message is TIMEOUT:
                self.heartbeat()
            elif message is CLOSED:
                self._reap_idle_horse()
            elif isinstance(message, dict) and message.get("ready"):
                self._horse.ready = True

    def _fork_resident_horse(self) -> _Horse:
        ours, theirs = channel_pair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            self._resident_horse_main(theirs)
        theirs.close()
        return _Horse(pid, ours)

    def _reap_idle_horse(self) -> None:
        horse = self._horse
        if horse is None:
            return
        status = _wait(horse.pid, block=True)
        if status:  # 0: it retired (job count, memory, a failed job) as designed
            log.warning(
                "idle work horse %s ended (wait status %s); forking another", horse.pid, status
            )
        self._forget_horse()

    def _forget_horse(self) -> None:
        if self._horse is not None:
            self._horse.channel.close()
            self._horse = None
        self._horse_pid = 0

    def _stop_horse(self) -> None:
        """Close the horse's pipe, which tells an idle horse to exit; kill it if it has not
        within HORSE_STOP_SECONDS."""
        horse = self._horse
        if horse is None:
            return
        horse.channel.close()
        deadline = time.monotonic() + HORSE_STOP_SECONDS
        while _wait(horse.pid, block=False) is None:
            if time.monotonic() > deadline:
                with contextlib.suppress(OSError):
                    os.killpg(horse.pid, signal.SIGKILL)  # with anything the job started
                with contextlib.suppress(OSError):
                    os.kill(horse.pid, signal.SIGKILL)  # not yet in its own group
                _wait(horse.pid, block=True)
                break
            time.sleep(0.05)
        self._horse = None
        self._horse_pid = 0

    # --- the resident horse, horse side ----------------------------------------------------

    def _resident_horse_main(self, channel: Channel) -> NoReturn:
        os.setpgrp()  # as RQ's horse: a Ctrl-C for the worker is not the job's
        random.seed()
        self.setup_work_horse_signals()
        self._is_horse = True
        self._horse = None
        self.log = rq_logger
        code = 1
        try:
            self._serve_jobs(channel)
            code = 0
        except REDIS_ERRORS:
            pass  # the worker sees the same outage and logs it once
        except BrokenPipeError:
            pass  # the worker has gone (stopped while this horse waited for the database)
        except BaseException:  # noqa: BLE001 - the worker fails the job and forks another
            log.exception("work horse %s stopped on an error", os.getpid())
        finally:
            os._exit(code)

    def _serve_jobs(self, channel: Channel) -> None:
        """Run jobs as the worker hands them over, until it closes the pipe, it is gone, or
        this horse retires."""
        worker_pid = os.getppid()

        def worker_gone() -> bool:
            return os.getppid() != worker_pid or channel.closed()

        with self.app.app_context():
            outage = database_outage(database().engine, log, stopping=worker_gone)
            try:
                outage.call(outage.probe)  # also opens the connection the first job will use
            except DATABASE_ERRORS:
                if worker_gone():
                    return
                raise
        channel.send({"ready": True})
        served = 0
        while True:
            message = channel.receive(5.0)
            if message is TIMEOUT:
                if worker_gone():
                    return  # orphaned: the worker was killed
                continue
            if message is CLOSED or not isinstance(message, dict):
                return
            job = self.job_class.fetch(
                message["job"], connection=self.connection, serializer=self.serializer
            )
            queue = self.queue_class(
                message["queue"],
                connection=self.connection,
                job_class=self.job_class,
                serializer=self.serializer,
                death_penalty_class=self.death_penalty_class,
            )
            execution = Execution.fetch(message["execution"], job.id, connection=self.connection)
            execution._job = job
            self.executions = {execution.id: execution}
            succeeded = self.perform_job(job, queue, execution)
            served += 1
            channel.send({"done": job.id})
            if (
                not succeeded
                or served >= self.horse_max_jobs
                or peak_rss_mb() >= self.horse_max_memory_mb
            ):
                return
            self.procline(f"Resident horse of {self.name}, {served} jobs done")
            channel.send({"ready": True})

    # --- Redis outages (the worker process) -------------------------------------------------

    @property
    def redis_outage(self) -> Outage:
        if self._redis_outage is None:
            self._redis_outage = redis_outage(
                self.connection,
                log,
                stopping=lambda: self._stop_requested,
                on_recovery=self._after_redis_outage,
            )
        return self._redis_outage

    def _after_redis_outage(self) -> None:
        """Redis may have restarted empty: register again (RQ's `register_birth` refuses a
        name whose key the heartbeat has already re-created) and restart RQ's scheduler
        process, which exits on a Redis error."""
        if self._is_horse or self.birth_date is None:
            return
        with self.connection.pipeline() as pipeline:
            pipeline.hset(self.key, mapping=self.serialize())
            worker_registration.register(self, pipeline)
            pipeline.expire(self.key, self.worker_ttl + 60)
            pipeline.execute()
        scheduler = self.scheduler
        if scheduler is not None and not (scheduler._process and scheduler._process.is_alive()):
            scheduler.acquire_locks(auto_start=True)

    def _start_scheduler(
        self, burst: bool = False, logging_level: str | None = "INFO", *args: Any, **kwargs: Any
    ) -> None:
        """RQ's, with a scheduler process that rides out Redis outages (RQ's exits)."""
        self.scheduler = RetryScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            serializer=self.serializer,
        )
        self._through_outage(self.scheduler.acquire_locks)
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()

    def _through_outage(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._is_horse:
            return fn(*args, **kwargs)
        try:
            return self.redis_outage.call(fn, *args, **kwargs)
        except REDIS_ERRORS:
            if self._stop_requested:
                raise StopRequested from None
            raise

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        self._retry_notices = _FoldIntoOutage(self.redis_outage)
        rq_logger.addFilter(self._retry_notices)

    def register_birth(self) -> None:
        self._through_outage(super().register_birth)

    def subscribe(self) -> None:
        self._through_outage(super().subscribe)

    def check_for_suspension(self, burst: bool) -> None:
        self._through_outage(super().check_for_suspension, burst)

    def run_maintenance_tasks(self) -> None:
        self._through_outage(super().run_maintenance_tasks)

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        self._through_outage(super().heartbeat, timeout)

    def set_state(self, state: str, pipeline=None) -> None:
        if pipeline is not None:
            return super().set_state(state, pipeline)
        self._through_outage(super().set_state, state)

    def maintain_heartbeats(self, job, execution) -> None:
        """Best effort: the horse keeps working through an outage."""
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_ERRORS as exc:
            self.redis_outage.begin(exc)

    def execute_job(self, job, queue) -> None:
        """As RQ's, except that Redis going away around the job does not end the worker: it
        waits for Redis and goes on. The job's RQ record may be lost with it (Redis restarted
        empty); its work is not, since the sweepers redo whatever the rows say is unfinished."""
        try:
            super().execute_job(job, queue)
        except REDIS_ERRORS as exc:
            self.redis_outage.begin(exc)
            if self._horse is not None and not self._horse.ready:
                self._stop_horse()  # mid-job or unknown: start clean
            self.executions.clear()
            self._horse_pid = 0
            self.set_state(WorkerStatus.IDLE)

    def _pubsub_exception_handler(self, exc, pubsub, pubsub_thread) -> None:
        if isinstance(exc, REDIS_ERRORS):
            self.redis_outage.begin(exc)
            time.sleep(2.0)
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def teardown(self) -> None:
        if not self._is_horse:
            self._stop_horse()
            filt = getattr(self, "_retry_notices", None)
            if filt is not None:
                rq_logger.removeFilter(filt)
        try:
            super().teardown()
        except REDIS_ERRORS:
            log.warning("worker %s stopped without unregistering: Redis unreachable", self.name)


class RetryScheduler(RQScheduler):
    """The process a worker runs beside it (`with_scheduler`) to put jobs whose retry delay
    has passed back on their queue; RQ's exits on the first Redis error."""

    def work(self) -> None:
        self._install_signal_handlers()
        outage = redis_outage(
            self.connection,
            logging.getLogger(f"{__name__}.retry_scheduler"),
            stopping=lambda: self._stop_requested,
        )
        try:
            outage.call(self.register_birth)
            while not self._stop_requested:
                outage.call(self._tick)
                time.sleep(self.interval)
            self.stop()
        except REDIS_ERRORS:
            if not self._stop_requested:
                raise

    def _tick(self) -> None:
        if self.should_reacquire_locks:
            self.acquire_locks()
        self.heartbeat()
        self.enqueue_scheduled_jobs()


class _FoldIntoOutage(logging.Filter):
    """RQ logs each failed dequeue while Redis is down (`could not connect to Redis
    instance`); the worker's outage logs it once instead."""

    def __init__(self, outage: Outage):
        super().__init__()
        self._outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "could not connect to Redis instance" in record.msg:
            args = record.args if isinstance(record.args, tuple) else ()
            error = next((a for a in args if isinstance(a, BaseException)), None)
            self._outage.begin(error or ConnectionError(record.getMessage()))
            return False
        return True


def _wait(pid: int, *, block: bool) -> int | None:
    """The child's wait status once it has exited (0 if someone else reaped it), else None."""
    try:
        reaped, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return 0
    return status if reaped else None


class AppSimpleWorker(AppContextMixin, SimpleWorker):
    """Runs jobs in-process (tests, `--burst` debugging)."""


def build_worker(app: Flask, *, simple: bool = False) -> Worker:
    with app.app_context():
        queues = [get_queue(name) for name in QUEUE_NAMES]
        connection = queues[0].connection
        if simple:
            worker: Worker = AppSimpleWorker(queues, connection=connection)
        else:
            # RQ's constructor names its Redis connection: wait for Redis if it is down.
            worker = redis_outage(connection, log).call(AppWorker, queues, connection=connection)
            worker.horse_max_jobs = app.config["WORKER_HORSE_MAX_JOBS"]
            worker.horse_max_memory_mb = app.config["WORKER_HORSE_MAX_MEMORY_MB"]
    worker.app = app  # type: ignore[attr-defined]
    return worker
