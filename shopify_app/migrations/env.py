from __future__ import annotations

from alembic import context

from shopify_app.db import make_engine
from shopify_app.models import Base
from shopify_app.models.base import UTCDateTime

config = context.config


def render_item(type_, obj, autogen_context):
    """Migrations are frozen history: write the app's UTCDateTime as a plain DateTime."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.attributes["database_url"]
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            render_item=render_item,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
