"""`referrals timeline add-event`: post a third party's event on a customer's timeline, the
way the public API will (issue "public API"), so third-party events can be made and seen now."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from shopify_app.db import get_session
from shopify_app.models import Customer, Shop

from . import third_party

timeline_cli = AppGroup("timeline", help="The customer timeline (E3).")


def _customer(session, shop: Shop, ref: str) -> Customer | None:
    """A customer by the app's id (as in the page's URL) or by email."""
    if "@" in ref:
        query = select(Customer).where(
            Customer.shop_id == shop.id, func.lower(Customer.email) == ref.strip().lower()
        )
        return session.scalars(query.order_by(Customer.id).limit(1)).first()
    if not ref.isdigit():
        return None
    return session.scalar(
        select(Customer).where(Customer.shop_id == shop.id, Customer.id == int(ref))
    )


@timeline_cli.command("add-event")
@click.option("--shop", "shop_domain", required=True, help="The shop (x.myshopify.com).")
@click.option("--customer", "customer_ref", required=True, help="The customer's id or email.")
@click.option("--type", "event_type", required=True, help="e.g. review.submitted")
@click.option("--source-name", required=True, help="The third party's name, e.g. Judge.me")
@click.option("--properties", default="{}", help="A JSON object of names and values.")
@click.option("--occurred-at", help="ISO 8601 with a time zone (default: now).")
@click.option("--idempotency-key", help="The same key from the same source makes one event.")
def add_event_command(
    shop_domain: str,
    customer_ref: str,
    event_type: str,
    source_name: str,
    properties: str,
    occurred_at: str | None,
    idempotency_key: str | None,
) -> None:
    """Add a third party's event to a customer's timeline; prints the event's id."""
    session = get_session()
    shop = session.scalar(select(Shop).where(Shop.domain == shop_domain))
    if shop is None:
        raise click.ClickException(f"no shop {shop_domain}")
    customer = _customer(session, shop, customer_ref)
    if customer is None:
        raise click.ClickException(f"no customer {customer_ref} in {shop_domain}")
    try:
        parsed = json.loads(properties)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--properties is not JSON: {exc.msg}.") from None
    when = None
    if occurred_at:
        try:
            when = datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
        except ValueError:
            raise click.ClickException("--occurred-at is not an ISO 8601 time.") from None
    try:
        event = third_party.add_event(
            session,
            shop,
            customer,
            event_type=event_type,
            source_name=source_name,
            properties=parsed,
            occurred_at=when,
            idempotency_key=idempotency_key,
        )
    except third_party.InvalidEvent as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"event {event.id}: {event.kind} from {event.source_name} on customer {customer.id}")
