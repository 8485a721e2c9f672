"""Export every customer of a shop, as the export job does (into the database's file
storage, then published), in a process of its own; print rows, seconds, the process's peak
RSS (MB), its CPU seconds, the file's size (MB) and the seconds a download takes to read it
back: `python -m tests.bench.export_child DATABASE_URL SHOP_ID`. The file is deleted
afterwards. Imports only what a worker running the job imports."""

from __future__ import annotations

import resource
import sys
import time

from sqlalchemy.orm import Session

from shopify_app.customers.bulk import publish_export, write_export
from shopify_app.db import make_engine
from shopify_app.models import BulkJob, Shop
from shopify_app.storage import DatabaseStorage


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux's VmHWM starts afresh at exec; `ru_maxrss` does not,
    and would report the (large) benchmark process this one was forked from."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    url, shop_id = sys.argv[1], int(sys.argv[2])
    engine = make_engine(url)
    store = DatabaseStorage(engine)
    with Session(engine) as session:
        shop = session.get(Shop, shop_id)
        job = BulkJob(id=0, shop_id=shop_id, kind="export", params={})
        start, cpu = time.perf_counter(), time.process_time()
        file, rows = write_export(session, shop, job, store)
        session.rollback()
        assert publish_export(session, shop, store, file)
        session.commit()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        peak_mb = peak_rss_mb()
        start = time.perf_counter()
        read = sum(len(chunk) for chunk in store.read(file))
        read_s = time.perf_counter() - start
        assert read == file.size
        store.delete(session, file)
        session.commit()
    print(f"{rows} {elapsed:.2f} {peak_mb:.0f} {cpu:.2f} {file.size / 1e6:.0f} {read_s:.2f}")


if __name__ == "__main__":
    main()
