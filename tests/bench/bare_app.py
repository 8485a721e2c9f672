"""The baseline the app's webhook intake is measured against: HMAC check, one SQLite insert,
one RQ enqueue, 200. Nothing else (no shop lookup, no header validation, no ORM)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sqlite3

import redis
from flask import Flask, request
from rq import Queue

SECRET = os.environ["SHOPIFY_API_SECRET"].encode()
DB = os.environ["BARE_DB"]

app = Flask(__name__)
_queue: Queue | None = None
_db: sqlite3.Connection | None = None


def db() -> sqlite3.Connection:
    global _db
    if _db is None:
        _db = sqlite3.connect(DB, timeout=30, isolation_level=None)
        _db.execute("PRAGMA journal_mode=WAL")
        _db.execute("PRAGMA synchronous=NORMAL")
        _db.execute("CREATE TABLE IF NOT EXISTS inbox (webhook_id TEXT PRIMARY KEY, body BLOB)")
    return _db


def queue() -> Queue:
    global _queue
    if _queue is None:
        _queue = Queue("bare", connection=redis.Redis.from_url(os.environ["REDIS_URL"]))
    return _queue


@app.post("/bare")
def bare():
    body = request.get_data()
    digest = base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(digest, request.headers.get("X-Shopify-Hmac-Sha256", "")):
        return "invalid hmac", 401
    cur = db().execute(
        "INSERT OR IGNORE INTO inbox VALUES (?, ?)", (request.headers["X-Shopify-Webhook-Id"], body)
    )
    if cur.rowcount:
        queue().enqueue("os.getpid")
    return "ok"
