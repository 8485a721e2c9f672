"""Database errors never carry row values (issue 15, item 5): not in the exception's text,
not in the traceback a log or RQ's failure record prints, not in stored error columns."""

from __future__ import annotations

import logging
import traceback

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from shopify_app.db import make_engine
from shopify_app.models import WebhookDelivery
from tests import payloads
from tests.conftest import SHOP_A

from .webhook_support import deliver, install, one, run_jobs

SECRET = "zenobia.quillfeather@example.org"


def _everything_printed(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def test_a_constraint_violation_says_which_constraint_but_not_the_row(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TEMPORARY TABLE scratch (email TEXT UNIQUE, n INTEGER)"))
            conn.execute(text("INSERT INTO scratch VALUES (:e, 1)"), {"e": SECRET})
            with pytest.raises(IntegrityError) as caught:
                conn.execute(text("INSERT INTO scratch VALUES (:e, 2)"), {"e": SECRET})
            printed = _everything_printed(caught.value)
            assert "zenobia" not in printed.lower(), printed
            assert "scratch" in printed  # still says where it went wrong
            conn.rollback()
            if engine.dialect.name == "postgresql":
                # A data exception quotes the value it could not take: only its class stays.
                with pytest.raises(DBAPIError) as bad_value:
                    conn.execute(text("SELECT CAST(:e AS INTEGER)"), {"e": SECRET})
                printed = _everything_printed(bad_value.value)
                assert "zenobia" not in printed.lower(), printed
                assert "22P02" in printed
    finally:
        engine.dispose()


def test_a_delivery_failing_on_a_database_error_stores_no_row_values(live, caplog):
    """A real constraint violation while applying a webhook (a unique index the data breaks):
    `last_error` and the log say what failed, never the customer's email."""
    install(live, SHOP_A)
    with live.app.app_context():
        from shopify_app.db import database

        with database().engine.begin() as conn:
            conn.execute(
                text("CREATE UNIQUE INDEX test_unique_customer_email ON customers (email)")
            )
    try:
        deliver(live, SHOP_A, "customers/create", payloads.customer(cid=1, email=SECRET))
        deliver(live, SHOP_A, "customers/create", payloads.customer(cid=2, email=SECRET))
        with caplog.at_level(logging.INFO):
            run_jobs(live.app)
        failed = one(live.app, WebhookDelivery, WebhookDelivery.status == "failed")
        assert "IntegrityError" in failed.last_error
        assert "test_unique_customer_email" in failed.last_error or "customers" in failed.last_error
        assert "zenobia" not in failed.last_error.lower()
        assert "zenobia" not in caplog.text.lower()
    finally:
        with live.app.app_context():
            from shopify_app.db import database

            with database().engine.begin() as conn:
                conn.execute(text("DROP INDEX test_unique_customer_email"))
