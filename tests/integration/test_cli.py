"""The `referrals` command line, including `dev` (what `make dev` runs) as a real process tree."""

from __future__ import annotations

import html
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from shopify_app.cli import main
from tests.support import free_port, wait_until

DEFAULT_PORTS = (8025, 8080, 8081, 8091)  # what `make dev` uses: SMTP, app, devstore, realtime


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


@contextmanager
def holding(ports: tuple[int, ...]) -> Iterator[None]:
    """Listen on `ports` (as another `make dev` would); a port already taken is held anyway."""
    held = []
    try:
        for port in ports:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
                sock.listen()
                held.append(sock)
            except OSError:
                sock.close()  # in use: someone else holds it, which is the point
        yield
    finally:
        for sock in held:
            sock.close()


def dev_env(instance: Path) -> dict[str, str]:
    """`referrals dev`'s environment on ports chosen free: the app, the devstore, its SMTP."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "APP_ENV")
    }
    return env | {
        "INSTANCE_PATH": str(instance),
        "SHOPIFY_APP_URL": f"http://127.0.0.1:{free_port()}",
        "DEVSTORE_URL": f"http://127.0.0.1:{free_port()}",
        "SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "REALTIME_PORT": str(free_port()),
    }


def start_dev(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "shopify_app.cli", "dev"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_dev(proc: subprocess.Popen, log_path: Path) -> None:
    """Ctrl-C, as a terminal sends it to the whole process group; dev stops everything."""
    with suppress(ProcessLookupError):  # dev (and all it started) may be gone already
        os.killpg(proc.pid, signal.SIGINT)
    code = proc.wait(timeout=30)
    alive = process_group_alive(proc.pid)
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    assert code == 0, log_path.read_text()[-2000:]
    assert not alive, "dev left web/worker/scheduler/devstore running"


def test_dev_serves_the_app_in_the_admin_frame_and_stops_cleanly(tmp_path):
    """Also while another `make dev` holds the default ports: every port here is chosen free."""
    env = dev_env(tmp_path / "instance")
    app_port = env["SHOPIFY_APP_URL"].rsplit(":", 1)[1]
    devstore_port = env["DEVSTORE_URL"].rsplit(":", 1)[1]
    log_path = tmp_path / "dev.log"
    with holding(DEFAULT_PORTS):
        proc = start_dev(env, log_path)
        try:
            serves_the_app_in_the_admin_frame(log_path, proc, app_port, devstore_port)
            # the worker's routine logs go to a file the banner names, not to the terminal
            worker_log = tmp_path / "instance" / "logs" / "worker.log"
            assert f"{worker_log.parent}/worker.log" in log_path.read_text()
            wait_until(
                lambda: worker_log.exists() and "rq.worker" in worker_log.read_text(),
                30,
                "the worker's log file",
            )
            assert "rq.worker" not in log_path.read_text()
            # the realtime process runs beside them, on the embedded Redis
            health = httpx.get(f"http://127.0.0.1:{env['REALTIME_PORT']}/health", timeout=10)
            assert health.json()["redis"] is True
        finally:
            stop_dev(proc, log_path)


def serves_the_app_in_the_admin_frame(log_path, proc, app_port, devstore_port) -> None:
    admin_url = wait_for_banner(log_path, proc)
    assert (
        admin_url == f"http://127.0.0.1:{devstore_port}/store/demo-shop/apps/devstore-referrals-app"
    )
    with httpx.Client(timeout=10) as http:
        frame = http.get(admin_url)
        assert frame.status_code == 200
        src = html.unescape(re.search(r'id="app-frame"[^>]*src="([^"]+)"', frame.text).group(1))
        assert src.startswith(f"http://127.0.0.1:{app_port}/?")
        home = http.get(src)
        assert home.status_code == 200
        assert "Demo Shop" in home.text


def process_group_alive(pgid: int, grace: float = 5.0) -> bool:
    """Whether the group still has a process after waiting up to `grace` s for it to end."""

    def gone() -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        wait_until(gone, grace, "the process group to end", interval=0.1)
    except AssertionError:
        return True
    return False


def wait_for_banner(log_path: Path, proc: subprocess.Popen, timeout: float = 60) -> str:
    def banner() -> str | None:
        text = log_path.read_text()
        match = re.search(r"Referrals is running.*?\n\s*\n\s*(\S+)", text, re.S)
        if match:
            return match.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"dev exited early:\n{text[-3000:]}")
        return None

    try:
        return wait_until(banner, timeout, "the banner", interval=0.2)
    except AssertionError as exc:
        if "dev exited early" in str(exc):
            raise
        raise AssertionError(
            f"no banner after {timeout}s:\n{log_path.read_text()[-3000:]}"
        ) from None


def devstore_env(instance: Path) -> dict[str, str]:
    env = dev_env(instance)
    env["SHOPIFY_APP_URL"] = f"http://127.0.0.1:{free_port()}"  # the app is down: nobody there
    return env


def run_devstore(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with log_path.open("a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shopify_app.cli", "devstore"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    host, port = env["DEVSTORE_URL"].removeprefix("http://").split(":")

    def listening() -> bool:
        assert proc.poll() is None, log_path.read_text()[-3000:]
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
            return True
        except OSError:
            return False

    wait_until(listening, 60, "the devstore to start", interval=0.1)
    return proc


def test_the_devstore_command_keeps_its_state_across_restarts(tmp_path):
    """Stopped as `dev` stops it (SIGTERM) or as a terminal does (Ctrl-C), it writes its
    state, and the next start continues: the orders, their numbers, the mailbox."""
    env = devstore_env(tmp_path / "instance")
    url, log_path = env["DEVSTORE_URL"], tmp_path / "devstore.log"
    checkout = {"email": "fran@example.com"}
    store = f"{url}/shops/demo-shop.myshopify.com"
    teapot = {"id": "8002", "quantity": "1"}
    with httpx.Client(timeout=10) as http:
        proc = run_devstore(env, log_path)
        assert http.post(f"{store}/cart/add.js", data=teapot).status_code == 200
        placed = http.post(f"{store}/checkout", data=checkout)
        assert "#1010" in placed.text
        with smtplib.SMTP("127.0.0.1", int(env["SMTP_URL"].rsplit(":", 1)[1])) as smtp:
            smtp.sendmail("app@example.com", ["ada@example.com"], b"Subject: Kept\r\n\r\nhi\r\n")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log_path.read_text()[-2000:]

        proc = run_devstore(env, log_path)
        assert http.post(f"{store}/cart/add.js", data=teapot).status_code == 200
        placed = http.post(f"{store}/checkout", data=checkout)
        assert "#1011" in placed.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, log_path.read_text()[-2000:]

        proc = run_devstore(env, log_path)
        try:
            orders = http.get(f"{url}/store/demo-shop/orders").text
            assert "#1010" in orders and "#1011" in orders
            assert "Kept" in http.get(f"{url}/mailbox").text
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


def instance_with_state(instance: Path) -> None:
    (instance / "devstore").mkdir(parents=True)
    (instance / "devstore" / "state.json").write_text("{}")
    (instance / "encryption.key").write_text("key")
    (instance / "referrals.sqlite3").write_bytes(b"")
    (instance / "exports").mkdir()


def test_reset_deletes_the_local_state_of_the_app_and_the_devstore(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance_with_state(instance)
    monkeypatch.setenv("INSTANCE_PATH", str(instance))
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["reset"])
    assert result.exit_code == 0, result.output
    assert not instance.exists()
    assert "starts the app and the devstore afresh" in result.output
    again = CliRunner().invoke(main, ["reset"])
    assert again.exit_code == 0 and "nothing to reset" in again.output


def test_reset_refuses_while_a_devstore_runs_or_for_a_folder_that_is_not_an_instance(
    tmp_path, monkeypatch
):
    from devstore.persistence import StateStore

    instance = tmp_path / "instance"
    instance_with_state(instance)
    monkeypatch.setenv("INSTANCE_PATH", str(instance))
    running = StateStore(instance / "devstore")
    try:
        refused = CliRunner().invoke(main, ["reset"])
    finally:
        running.close()
    assert refused.exit_code != 0 and "stop it first" in refused.output
    assert (instance / "encryption.key").exists()

    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    monkeypatch.setenv("INSTANCE_PATH", str(home))
    refused = CliRunner().invoke(main, ["reset"])
    assert refused.exit_code != 0
    assert "does not look like the app's instance folder" in refused.output
    assert (home / "notes").exists()
