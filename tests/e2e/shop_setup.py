"""What the browser tests put in the devstore and the app before a page opens."""

from __future__ import annotations

from tests.integration.webhook_support import run_jobs

LINES = [{"title": "Green tea", "price": "40.00", "quantity": 1}]


def settle(live, rounds: int = 4) -> None:
    """Let the devstore deliver what it has sent and the worker apply it, `rounds` times (a job
    may send more)."""
    for _ in range(rounds):
        live.state.dispatcher.drain(10)
        run_jobs(live.app)
