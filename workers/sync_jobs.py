"""Job entry points for the initial import and reconciliation (`shopify_app.sync`); each
takes ids and reloads its rows."""

from __future__ import annotations

from shopify_app.db import get_session
from shopify_app.models import Shop, SyncRun
from shopify_app.shopify.services import shopify
from shopify_app.sync import importer, reconcile


def start_import(shop_id: int) -> int:
    session = get_session()
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.is_installed:
        return 0
    return importer.begin(session, shop, shopify()).id


def advance_import(run_id: int) -> str:
    session = get_session()
    run = session.get(SyncRun, run_id)
    if run is None:
        raise LookupError(f"sync run {run_id} does not exist")
    return importer.advance(session, run, shopify())


def poll_imports() -> int:
    """Periodic: advance every running import (a `bulk_operations/finish` may be lost)."""
    return importer.poll_running(get_session())


def reconcile_shop(shop_id: int) -> dict[str, int]:
    return reconcile.reconcile_shop(get_session(), shop_id, shopify())


def reconcile_all() -> int:
    """Periodic: enqueue a reconciliation of every installed shop."""
    return reconcile.schedule_all(get_session())
