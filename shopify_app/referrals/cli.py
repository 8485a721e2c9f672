"""`referrals revenue recompute`: recompute referral stats from scratch and report drift."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import Shop

from .revenue import Stats, recompute_shop

revenue_cli = AppGroup("revenue", help="Referral revenue metrics (B9).")


@revenue_cli.command("recompute")
@click.option("--shop", "shop_domain", help="Only this shop (x.myshopify.com).")
@click.option("--repair", is_flag=True, help="Write the recomputed numbers where they differ.")
def recompute_command(shop_domain: str | None, repair: bool) -> None:
    """Compare the stored stats with a recomputation; exit 1 if any differ (unrepaired)."""
    session = get_session()
    query = select(Shop).order_by(Shop.id)
    if shop_domain:
        query = query.where(Shop.domain == shop_domain)
    shops = session.scalars(query).all()
    if not shops:
        raise click.ClickException(f"no shop {shop_domain}" if shop_domain else "no shops")
    total = 0
    for shop in shops:
        drift = recompute_shop(session, shop, repair=repair)
        total += len(drift)
        for d in drift[:20]:
            changes = ", ".join(
                f"{f} {getattr(d.stored, f)} -> {getattr(d.computed, f)}"
                for f in Stats.FIELDS
                if getattr(d.stored, f) != getattr(d.computed, f)
            )
            click.echo(f"{shop.domain}  customer {d.customer_id}: {changes}")
        click.echo(
            f"{shop.domain}: {len(drift)} customer(s) differ"
            + (" (repaired)" if repair and drift else "")
        )
    session.commit()
    if total and not repair:
        raise SystemExit(1)
