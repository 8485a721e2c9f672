"""Prove an erasure: look for a person's (or a shop's) identifying strings everywhere the
app keeps data.

- every text, JSON and binary column of every table the models declare (`Base.metadata`),
  read with plain Core selects, row by row;
- every file under the given directories (the instance path of each process);
- every Redis key of the app's database, by name and by value (strings, hashes, lists, sets,
  sorted sets, streams), each value also decoded as RQ encodes job data, return values and
  failure tracebacks (zlib, base64, both); a pickled string is plain text inside.

Matching ignores case. `scan` returns where each needle was found; the tests assert that
list is empty (allowing only places the caller names, like the bare shop row).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import subprocess
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import JSON, LargeBinary, String, Text, select
from sqlalchemy.types import TypeDecorator

from shopify_app.db import database
from shopify_app.models import Base


@dataclass(frozen=True)
class Finding:
    where: str  # "table.column", "file", "redis"
    locator: str  # the row's primary key, the path, the key
    needle: str

    def __str__(self) -> str:
        return f"{self.needle!r} in {self.where} {self.locator}"


def _is_texty(column) -> bool:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return isinstance(kind, String | Text | JSON | LargeBinary)


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _variants(blob: bytes) -> list[bytes]:
    """The blob, and what it holds if it is base64, zlib data, or base64 of zlib data (RQ
    keeps return values as base64 pickles, job data as zlib pickles, failures as base64 of
    zlib text)."""
    decoded = _b64(blob)
    found = [blob] + ([decoded] if decoded is not None else [])
    for candidate in list(found):
        with contextlib.suppress(zlib.error):
            found.append(zlib.decompress(candidate))
    return found


def _b64(blob: bytes) -> bytes | None:
    try:
        return base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None


def _hits(text: str, needles: list[str]) -> list[str]:
    lowered = text.lower()
    return [n for n in needles if n in lowered]


def scan_database(app, needles: list[str]) -> list[Finding]:
    findings = []
    with app.app_context():
        engine = database().engine
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                columns = [c for c in table.columns if _is_texty(c)]
                if not columns:
                    continue
                keys = list(table.primary_key.columns)
                for row in conn.execute(select(*keys, *columns)):
                    locator = ",".join(str(v) for v in row[: len(keys)])
                    for column, value in zip(columns, row[len(keys) :], strict=True):
                        for needle in _hits(_as_text(value), needles):
                            findings.append(Finding(f"{table.name}.{column.name}", locator, needle))
    return findings


def _read_elsewhere(path: Path) -> bytes:
    """The file's bytes, read by another process. Closing a descriptor of a SQLite file in
    this process would drop every POSIX lock the process holds on it (SQLite's connections
    here included): another process would then take the shared-memory file for unused,
    reset it under our mapping, and this one would die of SIGBUS."""
    return subprocess.run(["cat", str(path)], capture_output=True, check=True).stdout


def scan_files(directories: Iterable[str | Path], needles: list[str]) -> list[Finding]:
    findings = []
    for directory in directories:
        for path in sorted(Path(directory).rglob("*")):
            if not path.is_file():
                continue
            for blob in _variants(_read_elsewhere(path)):
                for needle in _hits(blob.decode("utf-8", "replace"), needles):
                    findings.append(Finding("file", str(path), needle))
    return findings


def _redis_values(conn, key: bytes) -> list[bytes]:
    kind = conn.type(key).decode()
    if kind == "string":
        return [conn.get(key) or b""]
    if kind == "hash":
        return [b for pair in conn.hgetall(key).items() for b in pair]
    if kind == "list":
        return conn.lrange(key, 0, -1)
    if kind == "set":
        return list(conn.smembers(key))
    if kind == "zset":
        return conn.zrange(key, 0, -1)
    if kind == "stream":
        return [b for _id, fields in conn.xrange(key) for pair in fields.items() for b in pair]
    return []


def scan_redis(app, needles: list[str]) -> list[Finding]:
    findings = []
    conn = app.extensions["redis"].connection()
    for key in conn.scan_iter(count=1000):
        for blob in [key, *_redis_values(conn, key)]:
            for variant in _variants(blob):
                for needle in _hits(variant.decode("utf-8", "replace"), needles):
                    findings.append(Finding("redis", key.decode("utf-8", "replace"), needle))
    return findings


def scan(
    app,
    needles: Iterable[str],
    *,
    directories: Iterable[str | Path] = (),
    allowed: Callable[[Finding], bool] = lambda _f: False,
) -> list[Finding]:
    """Every place (not `allowed`) that holds one of the needles, ignoring case."""
    wanted = sorted({n.lower() for n in needles if n})
    everything = [
        *scan_database(app, wanted),
        *scan_files(directories, wanted),
        *scan_redis(app, wanted),
    ]
    return sorted({f for f in everything if not allowed(f)}, key=str)
