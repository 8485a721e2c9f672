"""`Idempotency-Key` on every POST: a repeat gets the first answer, never a second effect.

1. The key is claimed in its own short transaction (insert-or-ignore on (shop, key),
   committed before the view runs), so a concurrent repeat finds the claim and gets 409
   instead of running the request a second time.
2. The view's effects and the stored answer are committed in ONE transaction (`finish`,
   called by the guard before its commit), and only by the claim's owner: a request whose
   claim was taken over (it ran past `LEASE` and its process looked dead) is rolled back.
3. A request that failed unexpectedly (5xx) releases its claim (`release`) so that a retry
   runs; any other answer (2xx, 4xx from the view) is the answer for `KEEP` (24 hours).

A repeat must carry the same method, path and body (JSON compared by content, so
whitespace and key order do not matter); anything else with the same key is 409.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import Request, Response
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shopify_app.db import insert_ignore
from shopify_app.models import IdempotentRequest, Shop, utcnow

from .errors import ApiError

KEEP = timedelta(hours=24)
LEASE = timedelta(seconds=60)
HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")
REPLAYED = "Idempotent-Replayed"
KEPT_HEADERS = ("Location",)


@dataclass(frozen=True)
class Claim:
    id: int
    owner: str


def request_digest(request: Request, api_key_id: int) -> str:
    """The request as the key's first use remembers it: the API key that sent it, the method,
    the path and the body (as JSON, key order aside). Another key of the same shop reusing an
    Idempotency-Key is a different request (409), never handed the first key's answer."""
    body = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    parts = (str(api_key_id).encode(), request.method.encode(), request.path.encode(), canonical)
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _replay(row: IdempotentRequest) -> Response:
    response = Response(
        row.response_body or b"", status=row.response_status, mimetype=row.response_type
    )
    for name, value in json.loads(row.response_headers or "{}").items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


def claim(session: Session, shop: Shop, key: str, digest: str) -> Claim | Response:
    """Claim `key` for this request (committed), or the first answer to replay. Raises
    409 for another request with the key, or one still running."""
    now = utcnow()
    session.execute(
        delete(IdempotentRequest).where(
            IdempotentRequest.shop_id == shop.id,
            IdempotentRequest.key == key,
            IdempotentRequest.expires_at <= now,
        )
    )
    owner = secrets.token_hex(16)
    new_id = insert_ignore(
        session,
        IdempotentRequest,
        {
            "shop_id": shop.id,
            "key": key,
            "request_digest": digest,
            "state": "running",
            "owner": owner,
            "lease_until": now + LEASE,
            "created_at": now,
            "expires_at": now + KEEP,
        },
        ["shop_id", "key"],
    )
    session.commit()
    if new_id is not None:
        return Claim(new_id, owner)
    row = session.scalar(
        select(IdempotentRequest)
        .where(IdempotentRequest.shop_id == shop.id, IdempotentRequest.key == key)
        .execution_options(populate_existing=True)  # finish() writes past the ORM
    )
    if row is None:  # expired and deleted in between: a fresh claim
        return claim(session, shop, key, digest)
    if not secrets.compare_digest(row.request_digest, digest):
        raise ApiError("conflict", "This Idempotency-Key was already used with another request.")
    if row.state == "done":
        return _replay(row)
    if row.lease_until < now:  # its process died: take it over
        taken = session.execute(
            update(IdempotentRequest)
            .where(
                IdempotentRequest.id == row.id,
                IdempotentRequest.state == "running",
                IdempotentRequest.owner == row.owner,
            )
            .values(owner=owner, lease_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return Claim(row.id, owner)
    raise ApiError(
        "conflict",
        "A request with this Idempotency-Key is still running; retry in a moment.",
        headers={"Retry-After": "1"},
    )


def finish(session: Session, held: Claim, response: Response) -> None:
    """Store the answer with the claim, in the view's transaction (the caller commits).
    Raises 409 if the claim was taken over meanwhile: the caller rolls back."""
    headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
    done = session.execute(
        update(IdempotentRequest)
        .where(
            IdempotentRequest.id == held.id,
            IdempotentRequest.owner == held.owner,
            IdempotentRequest.state == "running",
        )
        .values(
            state="done",
            response_status=response.status_code,
            response_type=response.mimetype,
            response_headers=json.dumps(headers),
            response_body=response.get_data(),
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(
            "conflict", "This request took too long and was taken over by a repeat; retry."
        )


def release(session: Session, held: Claim) -> None:
    """Give the claim up after an unexpected failure (the caller rolled back), so a retry
    runs the request."""
    session.execute(
        delete(IdempotentRequest).where(
            IdempotentRequest.id == held.id, IdempotentRequest.owner == held.owner
        )
    )
    session.commit()


def purge_expired(session: Session, *, batch: int = 5000) -> int:
    """Delete kept answers older than `KEEP` (the periodic job); how many went."""
    ids = list(
        session.scalars(
            select(IdempotentRequest.id)
            .where(IdempotentRequest.expires_at <= utcnow())
            .limit(batch)
        )
    )
    if ids:
        session.execute(delete(IdempotentRequest).where(IdempotentRequest.id.in_(ids)))
    session.commit()
    return len(ids)
