"""Files every process can read (issue 15, item 12): exports live in storage, not on the
worker's disk; web and worker on different hosts both reach them; they expire."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shopify_app.db import get_session
from shopify_app.models import BulkJob, Customer, Shop, utcnow
from tests.conftest import SHOP_A, SHOP_B
from tests.support import app_like
from workers import bulk_jobs

from .test_program_pages import get, post
from .webhook_support import install, one, run_jobs


def worker_app(live, instance_path):
    """The app as a worker on another host builds it: same database, Redis and secrets, its
    own instance directory."""
    return app_like(live.app, INSTANCE_PATH=str(instance_path))


def add_customers(app, domain, names):
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        for number, name in enumerate(names, start=7001):
            session.add(
                Customer(
                    shop_id=shop.id,
                    shopify_id=number,
                    first_name=name,
                    email=f"{name.lower()}@example.com",
                    account_state="enabled",
                )
            )
        session.commit()


def files_under(path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_an_export_written_by_a_worker_on_another_host_downloads_from_the_web(live, tmp_path):
    """Web and worker each have their own instance directory (their own disks, as the
    Procfile's processes on two hosts). The worker's directory is gone by the time the
    merchant downloads: the file must not have been there."""
    install(live, SHOP_A)
    add_customers(live.app, SHOP_A, ["Aino", "Eino", "Oona"])
    started = post(live, "/customers/export", {"request_key": "two-hosts"})
    assert started.status_code == 200
    worker_dir = tmp_path / "worker-host"
    worker_dir.mkdir()
    run_jobs(worker_app(live, worker_dir))
    job = one(live.app, BulkJob)
    assert job.status == "completed" and job.processed == 3
    assert files_under(worker_dir) == []
    shutil.rmtree(worker_dir)  # that host is out of reach from the web

    download = get(live, f"/customers/jobs/{job.id}/download")
    assert download.status_code == 200, download.text[:300]
    assert download.headers["content-disposition"].startswith("attachment;")
    assert int(download.headers["content-length"]) == len(download.content)
    table = list(csv.reader(io.StringIO(download.content.decode("utf-8"))))
    assert sorted(row[1] for row in table[1:]) == [
        "aino@example.com",
        "eino@example.com",
        "oona@example.com",
    ]
    assert not any("export" in name for name in files_under(Path(live.app.instance_path)))
    assert get(live, f"/customers/jobs/{job.id}/download", shop=SHOP_B).status_code == 404


def test_exports_expire_after_the_retention_and_abandoned_writes_go_too(live):
    from shopify_app.models import StoredFile, StoredFileChunk
    from shopify_app.storage import DatabaseStorage

    install(live, SHOP_A)
    add_customers(live.app, SHOP_A, ["Aino"])
    assert post(live, "/customers/export", {"request_key": "expiring"}).status_code == 200
    run_jobs(live.app)
    job = one(live.app, BulkJob)
    assert get(live, f"/customers/jobs/{job.id}/download").status_code == 200
    with live.app.app_context():
        session = get_session()
        (stored,) = session.scalars(select(StoredFile)).all()
        hours = live.app.config["EXPORT_RETENTION_HOURS"]
        assert stored.expires_at - stored.created_at == pytest.approx(
            timedelta(hours=hours), abs=timedelta(minutes=1)
        )
        # A write a killed worker left behind: never published, already past its expiry.
        store = DatabaseStorage(session.get_bind())
        abandoned = store.write(
            stored.shop_id, "exports/customers-999.csv", [b"x"], content_type="text/csv"
        )
        session.execute(
            StoredFile.__table__.update()
            .where(StoredFile.id == abandoned.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        # The export's own expiry comes.
        session.execute(
            StoredFile.__table__.update()
            .where(StoredFile.id == stored.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    gone = get(live, f"/customers/jobs/{job.id}/download")
    assert gone.status_code == 410 and "Export again" in gone.text
    with live.app.app_context():
        assert bulk_jobs.expire_files() == 2
        session = get_session()
        assert session.scalar(select(func.count()).select_from(StoredFile)) == 0
        assert session.scalar(select(func.count()).select_from(StoredFileChunk)) == 0


def test_storage_streams_in_chunks_scoped_by_shop(live, monkeypatch):
    """Bytes go in and come out a chunk at a time, exactly; a file is found only under its
    own shop and key, only once published; a newer file under a key replaces the older."""
    from shopify_app import storage
    from shopify_app.models import StoredFile

    install(live, SHOP_A)
    install(live, SHOP_B)
    monkeypatch.setattr(storage, "CHUNK_BYTES", 10)
    pieces = [b"0123", b"456789abcdefg", b"", b"hij", bytes(range(256))]
    with live.app.app_context():
        session = get_session()
        a, b = (session.scalar(select(Shop.id).where(Shop.domain == d)) for d in (SHOP_A, SHOP_B))
        session.commit()
        store = storage.storage()
        written = store.write(a, "exports/x.csv", iter(pieces), content_type="text/csv")
        assert store.find(session, a, "exports/x.csv") is None  # not published yet
        session.commit()
        store.publish(session, written)
        session.commit()
        found = store.find(session, a, "exports/x.csv")
        assert found is not None and found.size == sum(map(len, pieces))
        assert found.chunks == -(-found.size // 10)
        got = list(store.read(found))
        assert all(len(c) == 10 for c in got[:-1]) and b"".join(got) == b"".join(pieces)
        assert store.find(session, b, "exports/x.csv") is None
        newer = store.put_stream(a, "exports/x.csv", [b"new"], content_type="text/csv")
        assert store.find(session, a, "exports/x.csv") == newer
        assert b"".join(store.read(newer)) == b"new"
        assert session.scalar(select(func.count()).select_from(StoredFile)) == 1
        empty = store.put_stream(a, "empty", [], content_type="text/plain")
        assert list(store.read(empty)) == [b""]


def test_an_export_written_while_a_customer_in_it_is_erased_is_not_published(live):
    """The export read the customers before the erasure committed and writes her row with
    her data; publishing checks the erasures since the writing began, finds her, and
    deletes the file instead (the job then writes it again). Rows of customers erased
    earlier are anonymous and do not stop an export."""
    from shopify_app.customers import bulk
    from shopify_app.models import StoredFile
    from shopify_app.storage import storage
    from tests import payloads

    from .webhook_support import deliver

    install(live, SHOP_A)
    add_customers(live.app, SHOP_A, ["Aino", "Eino", "Oona"])  # Shopify ids 7001..7003
    erase = payloads.customers_redact(SHOP_A, cid=7003, orders=())
    deliver(live, SHOP_A, "customers/redact", erase)  # Oona, long before
    run_jobs(live.app)

    def write(request_key):
        with live.app.app_context():
            session = get_session()
            shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
            job = BulkJob(shop_id=shop.id, kind="export", request_key=request_key, actor="staff:1")
            session.add(job)
            session.commit()
            file, rows = bulk.write_export(session, shop, job, storage())
            session.rollback()
            return job.id, file, rows

    def publish(file):
        with live.app.app_context():
            session = get_session()
            shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
            published = bulk.publish_export(session, shop, storage(), file)
            session.commit()
            found = storage().find(session, shop.id, file.key)
            return published, found

    _job, racing, rows = write("racing")
    assert rows == 3
    deliver(
        live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A, cid=7001, orders=())
    )
    run_jobs(live.app)  # Aino is erased while that export was being written
    published, found = publish(racing)
    assert (published, found) == (False, None)
    with live.app.app_context():
        assert get_session().get(StoredFile, racing.id) is None

    _job, again, rows = write("again")
    published, found = publish(again)  # Aino's and Oona's rows are anonymous now
    assert published and found == again and rows == 3
    with live.app.app_context():
        text = b"".join(storage().read(again)).decode()
    assert "aino" not in text.lower() and "eino@example.com" in text
