"""Access logs never carry the admin's `id_token` or other query secrets: the production web
process exactly as the Procfile starts it, and the development server. And what must not be
cached (downloads, the storefront page) says so."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shopify_app.db import get_session
from shopify_app.models import BulkJob, DataRequest, Shop
from tests.conftest import SHOP_A
from tests.helpers import id_token, proxy_query
from tests.support import free_port, process_env, wait_until

from .test_program_pages import get, post
from .webhook_support import install, one, run_jobs

ROOT = Path(__file__).resolve().parents[2]


def stack_env(live, **extra: str) -> dict[str, str]:
    """The environment a process needs to be the suite's app (same database, Redis, keys), this
    interpreter's scripts first on its PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return process_env(live.app, **{"PATH": path, **extra})


def serve(command: list[str], env: dict[str, str], port: int, log_path: Path):
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(log_path.read_text()[-3000:]) from None
            return False

    try:
        wait_until(listening, 60, f"the server to listen on port {port}", interval=0.2)
    except AssertionError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        raise AssertionError(log_path.read_text()[-3000:]) from None
    return proc


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def load_admin(port: int) -> str:
    """An admin page load as Shopify makes it; returns the id_token it carried."""
    token = id_token(SHOP_A)
    query = {
        "embedded": "1",
        "shop": SHOP_A,
        "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWxwaGEtc2hvcA",
        "id_token": token,
        "hmac": "f" * 64,
        "session": "e" * 64,
        "timestamp": str(int(time.time())),
    }
    url = f"http://127.0.0.1:{port}/"
    with httpx.Client(timeout=10) as http:
        home = http.get(url, params=query)
        assert home.status_code == 200
        # a subresource of that page: the Referer is the page's URL, token and all
        referer = str(home.request.url)
        assert http.get(f"{url}static/app.css", headers={"Referer": referer}).status_code == 200
    return token


def web_command(port: int) -> list[str]:
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    command = line.split(":", 1)[1].strip()
    command = command.replace("${PORT:-8080}", str(port)).replace("${WEB_CONCURRENCY:-2}", "1")
    return shlex.split(command.replace("0.0.0.0:", "127.0.0.1:"))


def test_the_procfile_web_process_logs_no_id_token(live, tmp_path):
    install(live, SHOP_A)
    port = free_port()
    log_path = tmp_path / "web.log"
    proc = serve(web_command(port), stack_env(live), port, log_path)
    try:
        token = load_admin(port)
    finally:
        stop(proc)
    log = log_path.read_text()
    assert '"GET /?embedded=1&shop=alpha-shop.myshopify.com' in log  # it does log requests
    assert "id_token=[filtered]" in log and "hmac=[filtered]" in log
    for secret in (token, token.split(".")[2], "f" * 64, "e" * 64):
        assert secret not in log


def test_the_development_server_logs_no_id_token(live, tmp_path):
    install(live, SHOP_A)
    port = free_port()
    log_path = tmp_path / "dev-web.log"
    env = stack_env(live, SHOPIFY_APP_URL=f"http://127.0.0.1:{port}")
    proc = serve([sys.executable, "-m", "shopify_app.cli", "web"], env, port, log_path)
    try:
        token = load_admin(port)
    finally:
        stop(proc)
    log = log_path.read_text()
    assert re.search(r'"GET /\?embedded=1&shop=alpha-shop\.myshopify\.com\S* HTTP/1\.1" 200', log)
    assert "id_token=[filtered]" in log
    for secret in (token, token.split(".")[2], "f" * 64, "e" * 64):
        assert secret not in log


# --- caching -------------------------------------------------------------------------


def test_the_storefront_page_and_downloads_are_never_stored_by_caches(live):
    install(live, SHOP_A)
    page = live.http.get(f"{live.app_url}/proxy", params=proxy_query(SHOP_A))
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    refused = live.http.get(f"{live.app_url}/proxy", params={"shop": SHOP_A})
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"

    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        request = DataRequest(shop_id=shop.id, customer_shopify_id=1, content={"orders": []})
        session.add(request)
        session.commit()
        request_id = request.id
    data = get(live, f"/privacy/data-requests/{request_id}")
    assert data.status_code == 200 and data.headers["Cache-Control"] == "no-store"

    assert post(live, "/customers/export", {"request_key": "k1"}).status_code == 200
    run_jobs(live.app)
    job = one(live.app, BulkJob)
    export = get(live, f"/customers/jobs/{job.id}/download")
    assert export.status_code == 200 and export.headers["Cache-Control"] == "no-store"

    home = get(live, "/")
    assert home.status_code == 200 and "no-store" not in home.headers.get("Cache-Control", "")
