"""`referrals`: the app's command line, on Flask's CLI.

referrals db upgrade     apply migrations
referrals seed           generate customers and program data for a shop
referrals web            the web app (Flask's server; production uses gunicorn, see Procfile)
referrals worker         an RQ worker
referrals scheduler      the periodic-job scheduler (run exactly one)
referrals realtime       the realtime process: chat streams (Server-Sent Events) over Redis
referrals devstore       the local Shopify stand-in (its state kept in INSTANCE_PATH/devstore)
referrals dev            all of the above on embedded defaults, printing the admin URL
referrals reset          delete the local state of `dev`: the next one starts afresh
referrals webhooks …     inspect the inbox, replay deliveries
referrals revenue recompute   recompute referral revenue, report (and --repair) drift
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import FlaskGroup

from webhooks.cli import webhooks_cli

from . import create_app
from .config import (
    DEFAULT_APP_URL,
    DEFAULT_DEVSTORE_URL,
    DEFAULT_SMTP_URL,
    ConfigError,
    default_instance_path,
)
from .customers.cli import seed_command
from .jobs import embedded_redis
from .referrals.cli import revenue_cli
from .timeline.cli import timeline_cli


def _create_app():
    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


class ReferralsGroup(FlaskGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        """List our own commands without building the app (which may refuse to start)."""
        return sorted(click.Group.list_commands(self, ctx))


@click.group(
    cls=ReferralsGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
def main() -> None:
    """Referrals: a Shopify embedded app (referral program and customer hub).

    Commands other than `dev` and `devstore` build the app from the environment and refuse
    unsafe production settings; set APP_ENV=development for local defaults.
    """


@main.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    from .migrations import upgrade  # Alembic loads only for the db commands (CLI start-up)

    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    from .migrations import downgrade  # Alembic loads only for the db commands

    downgrade(current_app.config["DATABASE_URL"], revision)


@db.command("current")
def db_current() -> None:
    from .migrations import current  # Alembic loads only for the db commands

    current(current_app.config["DATABASE_URL"])


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


@main.command()
def web() -> None:
    """Serve the app with Flask's threaded server (development)."""
    # The development server loads only in the process that serves with it.
    from werkzeug.serving import run_simple

    from .access_log import DevRequestHandler

    host, port = _host_port(current_app.config["SHOPIFY_APP_URL"], 8080)
    app = current_app._get_current_object()
    run_simple(
        host, port, app, threaded=True, use_reloader=False, request_handler=DevRequestHandler
    )


@main.command()
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker (jobs run in a resident work horse; see workers/worker.py)."""
    from workers.worker import build_worker  # the worker's machinery, only in its process

    # with_scheduler: jobs retried with a delay (RQ's Retry intervals) are put back on the
    # queue by the workers themselves (RQ elects one at a time); the sweepers cover the rest.
    build_worker(current_app._get_current_object()).work(burst=burst, with_scheduler=not burst)


@main.command()
def scheduler() -> None:
    """Run the periodic-job scheduler; run exactly one per deployment."""
    from workers.schedule import build_scheduler  # only in the scheduler's process

    build_scheduler(current_app._get_current_object()).start()


@main.command(with_appcontext=False)
@click.option("--host", default=None, help="Default: 127.0.0.1 locally, 0.0.0.0 in production.")
@click.option("--port", type=int, default=None, help="Default: REALTIME_PORT (8091).")
def realtime(host: str | None, port: int | None) -> None:
    """Serve the realtime streams (widget and inbox) from an asyncio process; run one or more
    behind REALTIME_URL. It needs no database: the same secret and Redis as the app."""
    from .config import load_config, validate_config
    from .realtime.server import serve  # aiohttp loads only in the realtime process

    config = load_config()
    try:
        validate_config(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    redis_url, embedded = config["REDIS_URL"], None
    if not redis_url:  # local runs: the embedded Redis the app and the workers share
        embedded = embedded_redis(config["INSTANCE_PATH"])  # kept: it owns the server
        redis_url = f"unix://{embedded.socket_file}"
    local = config["APP_ENV"] in ("development", "test")
    serve(
        config,
        host=host or ("127.0.0.1" if local else "0.0.0.0"),  # noqa: S104 - behind the platform
        port=port or int(config["REALTIME_PORT"]),
        redis_url=redis_url,
    )


@main.command(with_appcontext=False)
@click.option("--port", type=int, default=None)
def devstore(port: int | None) -> None:
    """Serve the devstore (the local Shopify stand-in). It keeps its state in
    INSTANCE_PATH/devstore, so a restart continues where it stopped (`referrals reset`)."""
    # The devstore is a development tool: it loads only in the process that serves it.
    from werkzeug.serving import run_simple

    from devstore import create_devstore
    from devstore.mailbox import start_smtp
    from devstore.persistence import StateError

    host, default_port = _host_port(os.environ.get("DEVSTORE_URL", DEFAULT_DEVSTORE_URL), 8081)
    try:
        app = create_devstore(state_dir=default_instance_path(os.environ) / "devstore")
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    saved = app.extensions["devstore_persistence"]
    smtp = None
    signal.signal(signal.SIGTERM, _interrupt)  # `dev` stops its children with SIGTERM
    try:
        smtp_host, smtp_port = _host_port(os.environ.get("SMTP_URL", DEFAULT_SMTP_URL), 8025)
        smtp = start_smtp(app.extensions["devstore_mailbox"], smtp_host, smtp_port)
        run_simple(host, port or default_port, app, threaded=True, use_reloader=False)
    finally:
        # A second signal (Ctrl-C, then dev's SIGTERM) must not cut the last save short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if smtp is not None:
            smtp.stop()
        saved.close()


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


INSTANCE_MARKERS = ("encryption.key", "referrals.sqlite3", "redis.rdb", "devstore")


@main.command(with_appcontext=False)
def reset() -> None:
    """Delete the local state of `dev` in INSTANCE_PATH (the app's SQLite database, embedded
    Redis, encryption key and files, the devstore's shops, orders, codes and mailbox): the
    next `dev` starts both afresh. Servers named by DATABASE_URL or REDIS_URL are not touched."""
    from devstore.persistence import in_use  # a development tool: loaded only here

    instance = default_instance_path(os.environ).resolve()
    if not instance.exists():
        click.echo(f"nothing to reset: {instance} does not exist")
        return
    if not any((instance / name).exists() for name in INSTANCE_MARKERS):
        raise click.ClickException(
            f"{instance} does not look like the app's instance folder (none of "
            f"{', '.join(INSTANCE_MARKERS)} is in it); not deleting it"
        )
    if in_use(instance / "devstore"):
        raise click.ClickException("`make dev` is running on this instance folder: stop it first")
    shutil.rmtree(instance)
    click.echo(f"deleted {instance}: the next `make dev` starts the app and the devstore afresh")
    for name in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.get(name):
            click.echo(f"{name} is set: that server was not touched", err=True)


QUIET_IN_DEV = ("worker", "scheduler", "realtime")


@main.command(with_appcontext=False)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Show the worker's, the scheduler's and the realtime process's routine logs here "
    "too (they go to files).",
)
def dev(verbose: bool) -> None:
    """Migrate, then run web + worker + scheduler + realtime + devstore on embedded defaults.

    The worker and the scheduler log every job at INFO (a sweep runs every 30 s): by default
    their output (and the realtime process's) goes to `instance/logs/<name>.log`, so the
    terminal keeps the admin URL, the requests and anything that goes wrong in the web app or
    the devstore."""
    env = dict(os.environ)
    env.setdefault("APP_ENV", "development")
    env.setdefault("SHOPIFY_APP_URL", DEFAULT_APP_URL)
    env.setdefault("DEVSTORE_URL", DEFAULT_DEVSTORE_URL)
    os.environ.update(env)
    try:
        app = create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    from .migrations import upgrade  # Alembic loads only where it migrates

    upgrade(app.config["DATABASE_URL"])
    redis_server = None
    if not app.config["REDIS_URL"]:
        redis_server = embedded_redis(app.config["INSTANCE_PATH"])
        env["REDIS_URL"] = f"unix://{redis_server.socket_file}"
    exe = [sys.executable, "-m", "shopify_app.cli"]
    logs = Path(app.config["INSTANCE_PATH"]) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    outputs = {
        name: None if verbose else open(logs / f"{name}.log", "a")  # noqa: SIM115 - kept open
        for name in QUIET_IN_DEV
    }
    procs = {
        name: subprocess.Popen(
            exe + [name],
            env=env,
            stdout=outputs.get(name),
            stderr=subprocess.STDOUT if outputs.get(name) else None,
        )
        for name in ("devstore", "web", "worker", "scheduler", "realtime")
    }
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    # Explicit handlers: a backgrounded `make dev` inherits SIGINT as ignored.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    admin = env["DEVSTORE_URL"].rstrip("/")
    ready = _wait_until_listening(
        [env["SHOPIFY_APP_URL"], admin, app.config["REALTIME_URL"]], procs, timeout=60
    )
    if ready:
        click.secho(
            "\n  Referrals is running. Open the app inside the local Shopify admin:\n\n"
            f"    {admin}/store/demo-shop/apps/{app.config['SHOPIFY_API_KEY']}\n\n"
            f"  Other stores: {admin}/   ·   Stop with Ctrl-C\n"
            + (
                ""
                if verbose
                else f"  Worker, scheduler and realtime logs: {logs}/worker.log, "
                "scheduler.log, realtime.log (`make dev VERBOSE=1` shows them here)\n"
            ),
            fg="green",
        )
    try:
        while ready and not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    click.secho(f"{name} exited with {proc.returncode}; stopping", fg="red")
                    stopping = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if redis_server is not None:
            redis_server.shutdown()
        for output in outputs.values():
            if output is not None:
                output.close()
    if not ready:
        raise SystemExit(1)


def _wait_until_listening(urls: list[str], procs: dict, timeout: float) -> bool:
    """Poll until every URL accepts TCP connections; False if a process died or time ran out."""
    deadline = time.monotonic() + timeout
    pending = [_host_port(u, 80) for u in urls]
    while pending and time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                click.secho(f"{name} exited with {proc.returncode} while starting", fg="red")
                return False
        host, port = pending[0]
        try:
            with socket.create_connection((host, port), timeout=0.5):
                pending.pop(0)
        except OSError:
            time.sleep(0.2)
    if pending:
        click.secho(f"not listening after {timeout:.0f}s: {pending}", fg="red")
    return not pending


main.add_command(webhooks_cli)
main.add_command(revenue_cli)
main.add_command(seed_command)
main.add_command(timeline_cli)

if __name__ == "__main__":
    main()
