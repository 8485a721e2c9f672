"""Outage: wait out a dependency's outage with capped backoff, logging once when it starts and
once when it ends."""

from __future__ import annotations

import logging

import pytest
import redis

from workers.outage import REDIS_ERRORS, Backoff, Outage

log = logging.getLogger("test.outage")


class Flaky:
    """Fails `failures` times with a Redis connection error, then answers."""

    def __init__(self, failures: int):
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise redis.exceptions.ConnectionError("Connection refused")
        return "ok"


class Clock:
    """A fake sleep; `waits` are the pauses between probes."""

    def __init__(self):
        self.now = 0.0
        self.probed_at: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    @property
    def waits(self) -> list[float]:
        times = [0.0, *self.probed_at]
        return [b - a for a, b in zip(times, times[1:], strict=False)]


def outage(probe, **kwargs) -> tuple[Outage, Clock]:
    clock = Clock()

    def probed() -> object:
        clock.probed_at.append(clock.now)
        return probe()

    kwargs.setdefault("backoff", Backoff(first=1.0, cap=8.0))
    return Outage("Redis", probed, REDIS_ERRORS, log=log, sleep=clock.sleep, **kwargs), clock


def test_a_call_waits_out_the_outage_and_logs_it_once(caplog):
    server = Flaky(failures=7)
    guard, clock = outage(server)
    caplog.set_level(logging.INFO, logger="test.outage")
    assert guard.call(server) == "ok"
    # the call failed, then six probes failed and the seventh answered, then the call ran
    assert server.calls == 9
    expected = [1, 2, 4, 8, 8, 8, 8]  # doubling up to the cap, each jittered by a tenth
    assert len(clock.waits) == len(expected)
    assert all(0.9 * e <= w <= 1.1 * e for w, e in zip(clock.waits, expected, strict=True))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("Redis unreachable (ConnectionError: Connection refused)")
    assert messages[1].startswith("Redis reachable again after")
    assert not guard.down


def test_two_outages_log_twice_and_a_healthy_call_logs_nothing(caplog):
    guard, _clock = outage(lambda: None)
    caplog.set_level(logging.INFO, logger="test.outage")
    assert guard.call(lambda: 1) == 1
    assert caplog.records == []
    for _ in range(2):
        assert guard.call(Flaky(failures=1)) == "ok"
    assert sum("unreachable" in r.getMessage() for r in caplog.records) == 2
    assert sum("reachable again" in r.getMessage() for r in caplog.records) == 2


def test_failures_noticed_elsewhere_start_one_outage_ended_by_the_next_success(caplog):
    guard, _clock = outage(lambda: None)
    caplog.set_level(logging.INFO, logger="test.outage")
    for _ in range(5):  # a listener thread, a library's own retry loop
        guard.begin(redis.exceptions.ConnectionError("reset"))
    assert guard.down
    guard.call(lambda: None)
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]


def test_recovery_runs_once_after_each_outage():
    recovered = []
    server = Flaky(failures=2)
    guard, _clock = outage(server, on_recovery=lambda: recovered.append(True))
    guard.call(server)
    guard.call(server)
    assert recovered == [True]


def test_a_process_stopping_during_the_outage_gets_the_error_back():
    stopping = []
    server = Flaky(failures=100)

    def sleep(_seconds: float) -> None:
        stopping.append(True)

    guard = Outage(
        "Redis", server, REDIS_ERRORS, log=log, sleep=sleep, stopping=lambda: bool(stopping)
    )
    with pytest.raises(redis.exceptions.ConnectionError):
        guard.call(server)
    assert guard.down


def test_a_stop_request_is_noticed_within_a_second_of_a_long_wait():
    server = Flaky(failures=100)
    clock = Clock()
    guard = Outage(
        "Redis",
        server,
        REDIS_ERRORS,
        log=log,
        backoff=Backoff(first=30.0, cap=30.0),
        sleep=clock.sleep,
        stopping=lambda: clock.now >= 2.5,  # a signal handler set the flag 2.5 s in
    )
    with pytest.raises(redis.exceptions.ConnectionError):
        guard.call(server)
    assert clock.now <= 3.0


def test_other_errors_are_not_an_outage():
    guard, clock = outage(lambda: None)

    def broken() -> None:
        raise redis.exceptions.ResponseError("WRONGTYPE")

    with pytest.raises(redis.exceptions.ResponseError):
        guard.call(broken)
    assert clock.now == 0 and not guard.down
