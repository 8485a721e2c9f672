"""Jobs for the initial import and reconciliation; each takes ids and reloads its rows."""

from __future__ import annotations

import logging

from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.jobs import enqueue_after_commit
from shopify_app.models import Shop, SyncRun
from shopify_app.shopify.services import shopify
from shopify_app.sync import importer, reconcile

log = logging.getLogger(__name__)


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
    """Fallback for a lost `bulk_operations/finish`: advance every running import."""
    session = get_session()
    runs = session.execute(
        select(SyncRun.id, SyncRun.shop_id, SyncRun.bulk_operation_gid).where(
            SyncRun.kind == "import", SyncRun.status == "running"
        )
    ).all()
    for run_id, shop_id, gid in runs:
        if gid is None:  # its start job was lost
            enqueue_after_commit(session, start_import, shop_id)
        else:
            enqueue_after_commit(session, advance_import, run_id)
    session.commit()
    return len(runs)


def reconcile_shop(shop_id: int) -> dict[str, int]:
    session = get_session()
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.is_installed or shop.reauth_required_at is not None:
        return {}
    run = reconcile.reconcile(session, shop, shopify())
    return {
        "customers_recovered": run.customers_recovered,
        "orders_recovered": run.orders_recovered,
    }


def reconcile_all() -> int:
    session = get_session()
    ids = session.scalars(
        select(Shop.id).where(
            Shop.installed_at.is_not(None),
            Shop.uninstalled_at.is_(None),
            Shop.reauth_required_at.is_(None),
        )
    ).all()
    for shop_id in ids:
        enqueue_after_commit(session, reconcile_shop, shop_id)
    session.commit()
    return len(ids)
