"""`referrals webhooks ...`: inspect the inbox and replay deliveries."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from shopify_app.db import get_session
from shopify_app.models import Shop, WebhookDelivery

from .inbox import list_deliveries, replay

webhooks_cli = AppGroup("webhooks", help="Inspect the webhook inbox and replay deliveries.")

STATUSES = ("pending", "processing", "done", "failed", "dead", "ignored", "skipped", "rejected")


@webhooks_cli.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status (e.g. dead).")
@click.option("--shop", "shop_domain", help="Only this shop (x.myshopify.com).")
@click.option("--limit", default=50, show_default=True)
def list_command(status: str | None, shop_domain: str | None, limit: int) -> None:
    """Newest deliveries first."""
    rows = list_deliveries(get_session(), status=status, shop_domain=shop_domain, limit=limit)
    if not rows:
        click.echo("no deliveries")
        return
    for row, domain in rows:
        error = f"  {row.last_error[:80]}" if row.last_error else ""
        click.echo(
            f"{row.id:>8}  {row.status:<10} {row.attempts:>2}x  {row.topic:<24} {domain:<32}"
            f" {row.received_at:%Y-%m-%d %H:%M:%S}{error}"
        )


@webhooks_cli.command("show")
@click.argument("delivery_id", type=int)
def show_command(delivery_id: int) -> None:
    """One delivery with its headers, error and body."""
    session = get_session()
    row = session.get(WebhookDelivery, delivery_id)
    if row is None:
        raise click.ClickException(f"no delivery {delivery_id}")
    shop = session.get(Shop, row.shop_id)
    click.echo(f"id:           {row.id}\nshop:         {shop.domain if shop else row.shop_id}")
    click.echo(f"topic:        {row.topic}\nwebhook id:   {row.webhook_id}")
    click.echo(f"event id:     {row.event_id}\napi version:  {row.api_version}")
    click.echo(f"triggered at: {row.triggered_at}\nreceived at:  {row.received_at}")
    click.echo(f"status:       {row.status} after {row.attempts} attempt(s)")
    click.echo(f"error:        {row.last_error or '-'}\nbody:")
    try:
        click.echo(json.dumps(json.loads(row.body), indent=2, ensure_ascii=False))
    except ValueError:
        click.echo(row.body.decode("utf-8", "replace"))


@webhooks_cli.command("replay")
@click.argument("delivery_ids", type=int, nargs=-1)
@click.option(
    "--status",
    type=click.Choice(("dead", "failed", "skipped", "ignored", "rejected")),
    help="Replay every delivery with this status.",
)
def replay_command(delivery_ids: tuple[int, ...], status: str | None) -> None:
    """Process deliveries again (handlers are idempotent; a body is checked again first)."""
    session = get_session()
    ids = list(delivery_ids)
    if status:
        ids += [row.id for row, _ in list_deliveries(session, status=status, limit=100_000)]
    if not ids:
        raise click.UsageError("give delivery ids or --status")
    done = replay(session, ids)
    click.echo(
        f"replayed {len(done)} deliver{'y' if len(done) == 1 else 'ies'}: "
        + ", ".join(map(str, done))
    )
