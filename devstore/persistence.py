"""The devstore's state on disk, so `make dev` continues after a restart where it stopped.

One JSON snapshot, `<dir>/state.json`, of what Shopify would remember: shops and installs,
issued tokens (the app's stored offline tokens keep working), customers, orders, discount
codes with their usage, the order numbers and the id counters (never repeated), bulk
operation results, the mailbox, and webhook deliveries not yet made (sent after the
restart, at least once, as Shopify retries them).

Written whole and atomically (a temporary file, fsync, rename) by one writer thread, a
moment after a change: every devstore request ends with `touch()`, and so do a mail
received, a bulk operation finishing and a webhook attempt. A snapshot identical to the
last one written is not written. Changes run on request threads without one common lock,
so a snapshot taken while a request is half done may be torn; that request's own
`touch()` when it ends brings a later, whole one. `close()` writes the last one at
shutdown. A second devstore on the same directory is refused (an exclusive lock on
`<dir>/lock`), and a file that cannot be read stops the start with the reason instead of
being overwritten.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from . import bulk, commerce, products
from .bulk import DevBulkOperation
from .commerce import DevCustomer, DevDiscount, DevOrder, ShopData
from .mailbox import Mailbox, ReceivedMail
from .products import DevProduct
from .store import DevShop, DevStoreState, IssuedRefreshToken, IssuedToken, Sequence
from .webhooks import Delivery, WebhookDispatcher

log = logging.getLogger(__name__)

FORMAT = 1
STATE_FILE = "state.json"
LOCK_FILE = "lock"


class StateError(RuntimeError):
    """The state directory cannot be used; the message says why and what to do."""


@dataclass
class SavedShopData:
    next_order_number: int
    customers: list[DevCustomer] = field(default_factory=list)
    orders: list[DevOrder] = field(default_factory=list)
    discounts: list[DevDiscount] = field(default_factory=list)
    # None in a snapshot from before products existed: the demo catalogue.
    products: list[DevProduct] | None = None


@dataclass
class SavedDelivery:
    delivery: Delivery
    due_at: datetime


@dataclass
class Snapshot:
    format: int = FORMAT
    next_id: int = 0
    next_bulk_id: int = 0
    shops: list[DevShop] = field(default_factory=list)
    access_tokens: dict[str, IssuedToken] = field(default_factory=dict)
    refresh_tokens: dict[str, IssuedRefreshToken] = field(default_factory=dict)
    shop_data: dict[str, SavedShopData] = field(default_factory=dict)
    bulk_operations: dict[str, list[DevBulkOperation]] = field(default_factory=dict)
    mailbox: list[ReceivedMail] = field(default_factory=list)
    webhooks: list[SavedDelivery] = field(default_factory=list)


@cache
def _adapter() -> TypeAdapter[Snapshot]:
    return TypeAdapter(Snapshot)


def take(state: DevStoreState, mailbox: Mailbox, dispatcher: WebhookDispatcher) -> Snapshot:
    """The state as it is now. Counters are read after the objects are copied, so every
    copied object's id and order number is below the counter saved with it."""
    moment = datetime.now(UTC)
    with state.lock:
        shops = list(state.shops.values())
        access = {
            token: issued
            for token, issued in state.access_tokens.items()
            if not issued.revoked and issued.expires_at > moment
        }
        refresh = {
            token: issued
            for token, issued in state.refresh_tokens.items()
            if not issued.revoked and issued.expires_at > moment
        }
        shop_data = dict(state.shop_data)
        operations = {domain: list(ops) for domain, ops in state.bulk_operations.items()}
    saved: dict[str, SavedShopData] = {}
    for domain, data in shop_data.items():
        customers = list(data.customers.values())
        orders = list(data.orders.values())
        discounts = list(data.discounts.values())
        catalogue = list(data.products.values())
        saved[domain] = SavedShopData(
            data.order_numbers.peek(), customers, orders, discounts, catalogue
        )
    with mailbox.lock:
        messages = list(mailbox.messages)
    deliveries = [
        SavedDelivery(delivery, moment + timedelta(seconds=delay))
        for delivery, delay in dispatcher.pending()
    ]
    return Snapshot(
        next_id=commerce._ids.peek(),
        next_bulk_id=bulk._ids.peek(),
        shops=shops,
        access_tokens=access,
        refresh_tokens=refresh,
        shop_data=saved,
        bulk_operations=operations,
        mailbox=messages,
        webhooks=deliveries,
    )


def restore(
    snapshot: Snapshot, state: DevStoreState, mailbox: Mailbox
) -> list[tuple[Delivery, float]]:
    """Load `snapshot` into an empty state and mailbox; returns the deliveries still to be
    made, with seconds until each is due, for the dispatcher."""
    commerce._ids.resume_at(snapshot.next_id)
    bulk._ids.resume_at(snapshot.next_bulk_id)
    for shop in snapshot.shops:
        state.add_shop(shop)
    state.access_tokens.update(snapshot.access_tokens)
    state.refresh_tokens.update(snapshot.refresh_tokens)
    for domain, saved in snapshot.shop_data.items():
        state.shop_data[domain] = ShopData(
            customers={c.id: c for c in saved.customers},
            orders={o.id: o for o in saved.orders},
            discounts={d.id: d for d in saved.discounts},
            products=(
                {p.id: p for p in saved.products}
                if saved.products is not None
                else products.default_products()
            ),
            order_numbers=Sequence(saved.next_order_number),
        )
    state.bulk_operations.update(snapshot.bulk_operations)
    mailbox.messages[:] = snapshot.mailbox
    moment = datetime.now(UTC)
    return [
        (saved.delivery, max(0.0, (saved.due_at - moment).total_seconds()))
        for saved in snapshot.webhooks
    ]


class StateStore:
    """`<directory>/state.json`, kept up to date by a writer thread once `attach`ed."""

    def __init__(self, directory: Path, *, delay: float = 0.2):
        self.directory = Path(directory)
        self.path = self.directory / STATE_FILE
        self.delay = delay
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = _lock(self.directory / LOCK_FILE)
        self._cond = threading.Condition()
        self._dirty = False
        self._closed = False
        self._write_lock = threading.Lock()
        self._written: bytes | None = None
        self._sources: tuple[DevStoreState, Mailbox, WebhookDispatcher] | None = None
        self._thread: threading.Thread | None = None

    def load(self) -> Snapshot | None:
        """The saved snapshot, or None when there is none yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            snapshot = _adapter().validate_json(raw)
        except ValidationError as exc:
            self.release()
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the file"
            raise StateError(
                f"the devstore's state {self.path} cannot be read ({where}: {first['msg']}); "
                "move it away, or run `make reset` to start the app and the devstore afresh"
            ) from exc
        if snapshot.format > FORMAT:
            self.release()
            raise StateError(
                f"the devstore's state {self.path} was written by a newer devstore "
                f"(format {snapshot.format}); run `make reset` to start afresh"
            )
        self._written = raw
        return snapshot

    def attach(self, state: DevStoreState, mailbox: Mailbox, dispatcher: WebhookDispatcher) -> None:
        """Save these from now on: now, then after every change they report."""
        self._sources = (state, mailbox, dispatcher)
        state.on_change = mailbox.on_change = dispatcher.on_change = self.touch
        self.flush()
        self._thread = threading.Thread(target=self._run, name="devstore-state", daemon=True)
        self._thread.start()

    def touch(self) -> None:
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def flush(self) -> bool:
        """Write the state now if it changed; True when it wrote."""
        if self._sources is None:
            return False
        with self._write_lock:
            with self._cond:
                self._dirty = False
            data = _adapter().dump_json(take(*self._sources), indent=1)
            if data == self._written:
                return False
            temporary = self.path.with_name(STATE_FILE + ".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:  # it holds the tokens the devstore issued
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temporary, self.path)
            self._written = data
            return True

    def close(self) -> None:
        """Write the last snapshot, stop the writer and let another devstore use the folder."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.flush()
        finally:
            self.release()

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._closed:
                    self._cond.wait()
                deadline = time.monotonic() + self.delay  # one write for a burst of changes
                while not self._closed and (remaining := deadline - time.monotonic()) > 0:
                    self._cond.wait(remaining)
                if self._closed:
                    return  # close() writes the last snapshot
            try:
                self.flush()
            except Exception:
                log.exception("saving the devstore's state to %s failed", self.path)


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateError(
            f"another devstore is using {path.parent} (is `make dev` running?)"
        ) from None
    return fd


def in_use(directory: Path) -> bool:
    """Whether a running devstore keeps its state in `directory`."""
    if not (directory / LOCK_FILE).exists():
        return False
    try:
        os.close(_lock(directory / LOCK_FILE))
    except StateError:
        return True
    return False
