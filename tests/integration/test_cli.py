"""The `referrals` command line, including `dev` (what `make dev` runs) as a real process tree."""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from shopify_app.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_db_upgrade_creates_the_schema(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    assert {"shops", "webhook_deliveries"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_commands_refuse_production_without_secrets(monkeypatch):
    for name in ("APP_ENV", "SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "missing: SHOPIFY_API_KEY, SHOPIFY_API_SECRET" in result.output
    assert "APP_ENV is unset" in result.output


def test_dev_serves_the_app_in_the_admin_frame_and_stops_cleanly(tmp_path):
    app_port, devstore_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "APP_ENV")
    }
    env |= {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SHOPIFY_APP_URL": f"http://127.0.0.1:{app_port}",
        "DEVSTORE_URL": f"http://127.0.0.1:{devstore_port}",
    }
    log_path = tmp_path / "dev.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shopify_app.cli", "dev"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        admin_url = wait_for_banner(log_path, proc)
        assert (
            admin_url
            == f"http://127.0.0.1:{devstore_port}/store/demo-shop/apps/devstore-referrals-app"
        )
        with httpx.Client(timeout=10) as http:
            frame = http.get(admin_url)
            assert frame.status_code == 200
            src = html.unescape(re.search(r'id="app-frame"[^>]*src="([^"]+)"', frame.text).group(1))
            assert src.startswith(f"http://127.0.0.1:{app_port}/?")
            home = http.get(src)
            assert home.status_code == 200
            assert "Demo Shop" in home.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0, log_path.read_text()[-2000:]
    assert not process_group_alive(proc.pid), "dev left web/worker/scheduler/devstore running"


def process_group_alive(pgid: int, grace: float = 5.0) -> bool:
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


def wait_for_banner(log_path: Path, proc: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text()
        match = re.search(r"Referrals is running.*?\n\s*\n\s*(\S+)", text, re.S)
        if match:
            return match.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"dev exited early:\n{text[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"no banner after {timeout}s:\n{log_path.read_text()[-3000:]}")
