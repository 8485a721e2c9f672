"""How a request's session ends: COMMIT when it only read (so psycopg keeps its prepared
statements and PostgreSQL its plans), ROLLBACK for anything else."""

from __future__ import annotations

import threading
from contextlib import nullcontext

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import OperationalError

from shopify_app.db import database, get_session
from shopify_app.models import Customer, Shop
from tests.conftest import SHOP_A

from .test_program_pages import get
from .webhook_support import install


@pytest.fixture
def endings(app):
    """How transactions ended, as (thread id, "commit" | "rollback")."""
    seen: list[tuple[int, str]] = []
    with app.app_context():
        engine = database().engine

    def commit(_conn):
        seen.append((threading.get_ident(), "commit"))

    def rollback(_conn):
        seen.append((threading.get_ident(), "rollback"))

    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    yield seen
    event.remove(engine, "commit", commit)
    event.remove(engine, "rollback", rollback)


def here(endings) -> list[str]:
    return [kind for thread, kind in endings if thread == threading.get_ident()]


def shop_name(app) -> str | None:
    with app.app_context():
        return get_session().scalar(select(Shop.name).where(Shop.domain == SHOP_A))


def test_a_request_that_only_read_commits(live, endings):
    install(live, SHOP_A)
    get(live, "/customers")  # the first view also records the staff member: a write
    endings.clear()
    assert get(live, "/customers").status_code == 200
    assert get(live, "/customers", q="ada").status_code == 200
    assert [kind for _thread, kind in endings] == ["commit", "commit"]
    endings.clear()
    with live.app.app_context():
        get_session().execute(text("SELECT 1"))
        get_session().scalar(select(Shop).where(Shop.domain == SHOP_A).with_for_update())
    assert here(endings) == ["commit"]


@pytest.mark.parametrize("how", ["core update", "orm change", "unknown sql", "error"])
def test_anything_else_is_rolled_back_and_kept_out(live, endings, how):
    install(live, SHOP_A)
    before = shop_name(live.app)
    endings.clear()
    failing = pytest.raises(RuntimeError) if how == "error" else nullcontext()
    with failing, live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        if how == "core update":
            session.execute(update(Shop).where(Shop.id == shop.id).values(name="changed"))
        elif how == "orm change":
            shop.name = "changed"
        elif how == "unknown sql":
            session.execute(text("UPDATE shops SET name = 'changed'"))
        else:
            raise RuntimeError("the view failed")
    assert here(endings) == ["rollback"]
    assert shop_name(live.app) == before


def test_a_failing_commit_at_the_end_of_a_read_is_logged_not_raised(live, endings, caplog):
    install(live, SHOP_A)
    endings.clear()
    with live.app.app_context():
        session = get_session()
        session.scalar(select(Shop.id).where(Shop.domain == SHOP_A))

        def commit():
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

        session.commit = commit
    assert here(endings) == ["rollback"]
    assert "could not end a read-only request transaction" in caplog.text


def test_postgresql_reuses_the_plans_of_a_pages_statements(live):
    install(live, SHOP_A)
    with live.app.app_context():
        if database().engine.dialect.name != "postgresql":
            pytest.skip("prepared statements are PostgreSQL's")
        # a customer, so the list has an occupied segment and the search a statement to run
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        session.add(
            Customer(shop_id=shop.id, shopify_id=1, email="ada@example.com", first_name="Ada")
        )
        session.commit()
    for _ in range(12):  # psycopg prepares a statement on its fifth run on a connection
        assert get(live, "/customers").status_code == 200
        assert get(live, "/customers", q="ada").status_code == 200
    with live.app.app_context():
        plans = get_session().execute(
            text("SELECT statement, generic_plans FROM pg_prepared_statements")
        )
        reused = [(statement, n) for statement, n in plans]

    def generic_plans(marker: str) -> int:
        return max((n for statement, n in reused if marker in statement), default=0)

    # Planned once and reused, not planned again on every request:
    assert generic_plans("FROM shops") > 0  # every request's shop lookup
    assert generic_plans("customer_counts") > 0  # the list
    assert generic_plans("WITH hits") > 0  # the search (its reusable plan is forced)
