"""Advocate codes are unique across every shop, in the database (the `/r/<code>` link names
no shop), and drawing one tries again when another shop holds the draw."""

from __future__ import annotations

import os
import uuid
from itertools import chain

import pytest
from sqlalchemy import column, create_engine, insert, inspect, table, text
from sqlalchemy.exc import IntegrityError

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.migrations import upgrade
from shopify_app.models import Advocate, Base, Customer, Shop
from shopify_app.referrals import advocates
from tests.conftest import SHOP_A, SHOP_B

from .webhook_support import install, run_jobs


@pytest.fixture
def two_shops(live):
    """One customer in each of two installed shops: {domain: Shopify customer id}."""
    ids = {}
    for shop in (SHOP_A, SHOP_B):
        install(live, shop)
        ids[shop] = commerce.create_customer(live.state, shop, email=f"ada@{shop}").id
    for _ in range(3):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)
    return live, ids


def _shop_and_customer(session, domain: str, shopify_id: int) -> tuple[Shop, Customer]:
    shop = session.query(Shop).filter_by(domain=domain).one()
    return shop, session.query(Customer).filter_by(shopify_id=shopify_id).one()


def test_two_shops_cannot_hold_the_same_code_in_the_database(two_shops):
    live, ids = two_shops
    with live.app.app_context():
        session = get_session()
        for domain in (SHOP_A, SHOP_B):
            shop, customer = _shop_and_customer(session, domain, ids[domain])
            session.add(
                Advocate(
                    shop_id=shop.id, customer_id=customer.id, code="ADA-23456789", joined_via="api"
                )
            )
            if domain == SHOP_A:
                session.commit()
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()


def test_joining_draws_again_when_another_shop_took_the_code_meanwhile(two_shops, monkeypatch):
    """The check before the insert saw the code free (another shop's join committed after it):
    the unique index refuses the insert and the join draws again."""
    live, ids = two_shops
    with live.app.app_context():
        session = get_session()
        shop_a, ada_a = _shop_and_customer(session, SHOP_A, ids[SHOP_A])
        first, _ = advocates.join(session, shop_a, ada_a, via="staff", actor="staff:501")
        session.commit()
        taken = first.code
        draws = chain([taken], iter(lambda: "ADA-FRESHONE", None))
        monkeypatch.setattr(advocates, "advocate_code", lambda _name: next(draws))
        monkeypatch.setattr(advocates, "_code_in_use", lambda _session, _code: False)
        shop_b, ada_b = _shop_and_customer(session, SHOP_B, ids[SHOP_B])
        second, created = advocates.join(session, shop_b, ada_b, via="staff", actor="staff:601")
        session.commit()
        assert created and second.code == "ADA-FRESHONE"
        assert advocates.advocate_by_code_any_shop(session, taken).shop_id == shop_a.id


def test_a_redrawn_code_skips_one_another_shop_holds(two_shops, monkeypatch):
    """The friend-code job redraws a code Shopify refused; the new one must be free everywhere."""
    live, ids = two_shops
    with live.app.app_context():
        session = get_session()
        shop_a, ada_a = _shop_and_customer(session, SHOP_A, ids[SHOP_A])
        shop_b, ada_b = _shop_and_customer(session, SHOP_B, ids[SHOP_B])
        held, _ = advocates.join(session, shop_a, ada_a, via="staff", actor="staff:501")
        mine, _ = advocates.join(session, shop_b, ada_b, via="staff", actor="staff:601")
        session.commit()
        draws = iter([held.code, "FRIEND-FRESHONE"])
        monkeypatch.setattr(advocates, "advocate_code", lambda _name: next(draws))
        assert advocates.redraw_code(session, mine) == "FRIEND-FRESHONE"
        session.commit()
        assert {a.code for a in session.query(Advocate)} == {held.code, "FRIEND-FRESHONE"}


def _scratch_postgres(base_url: str):
    """A new empty database on the suite's PostgreSQL server: (its URL, how to drop it)."""
    name = f"codes_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    server = create_engine(
        base_url.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0]
        + "/postgres",
        isolation_level="AUTOCOMMIT",
    )
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()

    return base_url.rsplit("/", 1)[0] + f"/{name}", drop


def insert_old_row(conn, name: str, **values) -> None:
    """Insert into a table as an older revision has it: the model's Python-side defaults
    for the columns that exist then, none for columns added since."""
    existing = {c["name"] for c in inspect(conn).get_columns(name)}
    row = dict(values)
    for col in Base.metadata.tables[name].columns:
        default = col.default
        if col.name in row or col.name not in existing or default is None:
            continue
        if getattr(default, "is_scalar", False):
            row[col.name] = default.arg
        elif getattr(default, "is_callable", False):
            row[col.name] = default.arg(None)
    conn.execute(insert(table(name, *(column(key) for key in row))).values(row))


def test_the_migration_gives_a_code_two_shops_hold_to_the_first_advocate(database_url, tmp_path):
    """Data from before 0008 with one code in two shops (a race of two joins): the first
    advocate keeps it, the later one gets a new code whose discount the sweep recreates."""
    if database_url.startswith("postgresql"):
        url, drop = _scratch_postgres(database_url)
    else:
        url, drop = f"sqlite:///{tmp_path / 'codes.sqlite3'}", lambda: None
    try:
        upgrade(url, "0007_search_covering")
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            for n, domain in enumerate((SHOP_A, SHOP_B, "third-shop.myshopify.com"), 1):
                insert_old_row(conn, "shops", id=n, domain=domain)
                insert_old_row(conn, "customers", id=n, shop_id=n, shopify_id=n)
                insert_old_row(
                    conn,
                    "advocates",
                    id=n,
                    shop_id=n,
                    customer_id=n,
                    code="ADA-23456789" if n < 3 else "BEN-23456789",
                    joined_via="staff",
                    friend_discount_status="active",
                    friend_discount_gid=f"gid://shopify/DiscountCodeNode/{n}",
                    friend_discount_version=1,
                )
        upgrade(url)
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT id, code, friend_discount_status, friend_discount_gid "
                    "FROM advocates ORDER BY id"
                )
            ).all()
        engine.dispose()
        assert found[0] == (1, "ADA-23456789", "active", "gid://shopify/DiscountCodeNode/1")
        assert found[2] == (3, "BEN-23456789", "active", "gid://shopify/DiscountCodeNode/3")
        renamed = found[1]
        assert renamed[1].startswith("ADA-") and renamed[1] != "ADA-23456789"
        assert renamed[2:] == ("pending", None)
    finally:
        drop()
