"""`referrals seed`: generate customers and program data for a shop (demo, benchmarks)."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import Shop

from .seed import seed_shop


@click.command("seed")
@click.option("--shop", "shop_domain", required=True, help="The shop (x.myshopify.com).")
@click.option("--customers", type=click.IntRange(1, 10_000_000), required=True)
@click.option("--seed", "seed_value", type=int, default=1, help="Random seed (repeatable data).")
@with_appcontext
def seed_command(shop_domain: str, customers: int, seed_value: int) -> None:
    """Add CUSTOMERS realistic customers, with advocates, referrals, orders and rewards."""
    session = get_session()
    shop = session.scalar(select(Shop).where(Shop.domain == shop_domain))
    if shop is None:
        raise click.ClickException(f"no shop {shop_domain} (install the app on it first)")
    started = time.perf_counter()

    def progress(done: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        click.echo(f"  {done:,}/{customers:,} customers ({rate:,.0f}/s)")

    result = seed_shop(session, shop, customers, seed=seed_value, progress=progress)
    click.echo(
        f"{shop.domain}: {result.customers:,} customers, {result.advocates:,} advocates, "
        f"{result.referrals:,} referrals, {result.rewards:,} rewards, {result.orders:,} orders "
        f"in {time.perf_counter() - started:.1f} s"
    )
