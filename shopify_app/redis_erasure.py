"""Erasure in Redis, once the compliance erasure commits: RQ keeps each job's arguments,
return value and, when it fails for good, the traceback, for as long as the job's TTLs say
(a failure for a year by default). A traceback can quote a person (an SMTP relay's refusal
names the address). After an erasure, `forget` deletes every RQ job whose records mention
it, with its results, and any key whose name does."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import zlib

from rq.exceptions import NoSuchJobError
from rq.job import Job

from shopify_app.jobs import redis_connection
from shopify_app.scrub import mentions_text

log = logging.getLogger(__name__)

JOB_PREFIX = "rq:job:"
RESULTS_PREFIX = "rq:results:"


def _readable(blob: bytes) -> str:
    """The text in a stored value as RQ writes it: plain, zlib (job data, a pickle),
    base64 (return values) or base64 of zlib (failure tracebacks)."""
    forms = [blob]
    with contextlib.suppress(binascii.Error, ValueError):
        forms.append(base64.b64decode(blob, validate=True))
    for form in list(forms):
        with contextlib.suppress(zlib.error):
            forms.append(zlib.decompress(form))
    return "\n".join(f.decode("utf-8", "replace") for f in forms)


def _values(conn, key: bytes) -> list[bytes]:
    kind = conn.type(key)
    if kind == b"hash":
        return list(conn.hgetall(key).values())
    if kind == b"stream":
        return [v for _id, fields in conn.xrange(key) for v in fields.values()]
    if kind == b"string":
        return [conn.get(key) or b""]
    return []


def forget(needles: set[str]) -> int:
    """Delete the RQ jobs (and their results) and the keys that mention any of `needles`
    (lower-cased). Returns how many keys went."""
    conn = redis_connection()
    lowered = {n.lower() for n in needles if n}
    doomed_jobs: set[str] = set()
    doomed_keys: set[bytes] = set()
    for key in conn.scan_iter(count=1000):
        name = key.decode("utf-8", "replace")
        if mentions_text(name, lowered):
            doomed_keys.add(key)
            continue
        for prefix in (JOB_PREFIX, RESULTS_PREFIX):
            if name.startswith(prefix) and any(
                mentions_text(_readable(v), lowered) for v in _values(conn, key)
            ):
                doomed_jobs.add(name[len(prefix) :])
    for job_id in doomed_jobs:
        with contextlib.suppress(NoSuchJobError):
            Job.fetch(job_id, connection=conn).delete(remove_from_queue=True)
        doomed_keys.update({f"{JOB_PREFIX}{job_id}".encode(), f"{RESULTS_PREFIX}{job_id}".encode()})
    if doomed_keys:
        conn.delete(*doomed_keys)
    if doomed_jobs or doomed_keys:
        log.info("erasure: %s RQ job(s) and %s key(s) deleted", len(doomed_jobs), len(doomed_keys))
    return len(doomed_keys)
