"""Files every process can read: export output and chat images (conversations/images.py).

Web and worker run on different hosts (the Procfile's processes), so a file one writes must
not live on its local disk. The one backend is the app's own database: a file is a
`stored_files` row and its bytes are `stored_file_chunks` of `CHUNK_BYTES`, streamed in and
out a chunk at a time (constant memory at any size), on SQLite and PostgreSQL alike, with
nothing to set up. Every file belongs to a shop and has a key unique within it; it may carry
an expiry, after which `expire` (a periodic job) deletes it.

Writing goes through its own short transactions, never the caller's: an export writes while
its session streams rows, and on SQLite a long write transaction would block every other
writer. A file becomes visible only when `publish` marks it complete, which also replaces an
earlier file under the same key; a write that dies leaves an incomplete row that `expire`
removes. Reading, too, uses its own short transactions, one per chunk, so a slow download
holds nothing open between chunks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shopify_app.db import database
from shopify_app.models import StoredFile, StoredFileChunk, utcnow

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class FileInfo:
    id: int
    shop_id: int
    key: str
    content_type: str
    size: int
    chunks: int
    created_at: datetime
    expires_at: datetime | None


class FileGone(LookupError):
    """The file was deleted (expired or erased) while it was being read."""


def _info(row: StoredFile) -> FileInfo:
    return FileInfo(
        id=row.id,
        shop_id=row.shop_id,
        key=row.key,
        content_type=row.content_type,
        size=row.size,
        chunks=row.chunks,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


class DatabaseStorage:
    """Files as rows of chunks in the app's database."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def write(
        self,
        shop_id: int,
        key: str,
        chunks: Iterable[bytes],
        *,
        content_type: str,
        expires_at: datetime | None = None,
    ) -> FileInfo:
        """Store the bytes `chunks` yields under a new, unpublished file, committing a chunk
        at a time; `publish` makes it the key's file. On an error the partial file is
        deleted and the error raised."""
        with Session(self.engine) as session:
            row = StoredFile(
                shop_id=shop_id,
                key=key,
                content_type=content_type,
                size=0,
                chunks=0,
                created_at=utcnow(),
                expires_at=expires_at,
            )
            session.add(row)
            session.commit()
            file_id, seq, size = row.id, 0, 0
            buffer = bytearray()
            add_chunk = insert(StoredFileChunk.__table__)
            try:
                for piece in chunks:
                    buffer += piece
                    while len(buffer) >= CHUNK_BYTES:
                        session.execute(
                            add_chunk,
                            {"file_id": file_id, "seq": seq, "data": bytes(buffer[:CHUNK_BYTES])},
                        )
                        session.commit()
                        del buffer[:CHUNK_BYTES]
                        seq, size = seq + 1, size + CHUNK_BYTES
                if buffer or seq == 0:
                    session.execute(
                        add_chunk, {"file_id": file_id, "seq": seq, "data": bytes(buffer)}
                    )
                    seq, size = seq + 1, size + len(buffer)
                session.execute(
                    update(StoredFile)
                    .where(StoredFile.id == file_id)
                    .values(size=size, chunks=seq)
                    .execution_options(synchronize_session=False)
                )
                session.commit()
            except BaseException:
                session.rollback()
                try:
                    self._delete_ids(session, [file_id])
                    session.commit()
                except SQLAlchemyError:  # the database is gone too: `expire` removes it later
                    log.warning("could not delete the partial file %s", file_id, exc_info=True)
                raise
            session.refresh(row)
            return _info(row)

    def publish(self, session: Session, file: FileInfo, *, keep: bool = False) -> None:
        """Make `file` the one its key names, in the caller's transaction; an earlier file
        under the key is deleted with it. Its first statement writes (on SQLite a
        transaction that read first could not write after another had committed).
        `keep`: the file loses the expiry it was written with (one that must outlive an
        abandoned write's cleanup only once it is published, e.g. a chat image)."""
        values: dict[str, object] = {"completed_at": utcnow()}
        if keep:
            values["expires_at"] = None
        session.execute(
            update(StoredFile)
            .where(StoredFile.id == file.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        earlier = session.scalars(
            select(StoredFile.id).where(
                StoredFile.shop_id == file.shop_id,
                StoredFile.key == file.key,
                StoredFile.id != file.id,
                StoredFile.completed_at.is_not(None),
            )
        ).all()
        self._delete_ids(session, list(earlier))

    def put_stream(
        self,
        shop_id: int,
        key: str,
        chunks: Iterable[bytes],
        *,
        content_type: str,
        expires_at: datetime | None = None,
    ) -> FileInfo:
        """`write` and `publish` in one: the file is readable when this returns."""
        file = self.write(shop_id, key, chunks, content_type=content_type, expires_at=expires_at)
        with Session(self.engine) as session:
            self.publish(session, file)
            session.commit()
        return file

    def find(self, session: Session, shop_id: int, key: str) -> FileInfo | None:
        """The shop's published, unexpired file under `key`, or None."""
        now = utcnow()
        row = session.scalar(
            select(StoredFile)
            .where(
                StoredFile.shop_id == shop_id,
                StoredFile.key == key,
                StoredFile.completed_at.is_not(None),
                (StoredFile.expires_at.is_(None)) | (StoredFile.expires_at > now),
            )
            .order_by(StoredFile.id.desc())
            .limit(1)
        )
        return _info(row) if row is not None else None

    def get(self, session: Session, shop_id: int, file_id: int, prefix: str) -> FileInfo | None:
        """The shop's published, unexpired file with this id whose key starts with
        `prefix`, or None."""
        row = session.scalar(
            select(StoredFile).where(
                StoredFile.id == file_id,
                StoredFile.shop_id == shop_id,
                StoredFile.key.startswith(prefix, autoescape=True),
                StoredFile.completed_at.is_not(None),
                (StoredFile.expires_at.is_(None)) | (StoredFile.expires_at > utcnow()),
            )
        )
        return _info(row) if row is not None else None

    def files(self, session: Session, shop_id: int, prefix: str = "") -> list[FileInfo]:
        """The shop's published files whose key starts with `prefix`, oldest first."""
        rows = session.scalars(
            select(StoredFile)
            .where(
                StoredFile.shop_id == shop_id,
                StoredFile.key.startswith(prefix, autoescape=True),
                StoredFile.completed_at.is_not(None),
            )
            .order_by(StoredFile.id)
        )
        return [_info(row) for row in rows]

    def read(self, file: FileInfo) -> Iterator[bytes]:
        """The file's bytes, a chunk at a time, each read in a transaction of its own.
        Raises FileGone if the file is deleted part-way."""
        with Session(self.engine) as session:
            for seq in range(file.chunks):
                data = session.scalar(
                    select(StoredFileChunk.data).where(
                        StoredFileChunk.file_id == file.id, StoredFileChunk.seq == seq
                    )
                )
                session.commit()
                if data is None:
                    raise FileGone(file.key)
                yield bytes(data)

    def delete(self, session: Session, file: FileInfo) -> None:
        """Delete the file in the caller's transaction."""
        self._delete_ids(session, [file.id])

    def delete_prefix(self, session: Session, shop_id: int, prefix: str) -> int:
        """Delete every file of the shop whose key starts with `prefix`, written or being
        written, in the caller's transaction; returns how many."""
        ids = list(
            session.scalars(
                select(StoredFile.id).where(
                    StoredFile.shop_id == shop_id,
                    StoredFile.key.startswith(prefix, autoescape=True),
                )
            )
        )
        self._delete_ids(session, ids)
        return len(ids)

    def delete_shop(self, session: Session, shop_id: int) -> int:
        """Delete every file of the shop, written or being written; returns how many."""
        ids = list(session.scalars(select(StoredFile.id).where(StoredFile.shop_id == shop_id)))
        self._delete_ids(session, ids)
        return len(ids)

    def expire(self, session: Session, now: datetime | None = None) -> int:
        """Delete every file past its expiry, complete or abandoned; returns how many."""
        ids = list(
            session.scalars(select(StoredFile.id).where(StoredFile.expires_at <= (now or utcnow())))
        )
        self._delete_ids(session, ids)
        return len(ids)

    @staticmethod
    def _delete_ids(session: Session, ids: list[int]) -> None:
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            session.execute(delete(StoredFileChunk).where(StoredFileChunk.file_id.in_(batch)))
            session.execute(delete(StoredFile).where(StoredFile.id.in_(batch)))


def storage() -> DatabaseStorage:
    """The app's file storage (the database it already has: nothing to set up)."""
    found = current_app.extensions.get("storage")
    if found is None:
        found = current_app.extensions["storage"] = DatabaseStorage(database().engine)
    return found
