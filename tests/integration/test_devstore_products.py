"""The devstore's products, publications and discount-code reads (issue 20, F5) through its
GraphQL Admin API, as the app reads them, and the admin's Products page publish switch."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from devstore import commerce
from devstore.cost import query_cost
from devstore.schema import schema
from devstore.store import now
from shopify_app.db import get_session
from shopify_app.models import Shop
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.services import shopify
from tests.conftest import SHOP_A

from .webhook_support import install

PRODUCTS = """
query($q: String, $pub: ID!) {
  products(first: 10, query: $q) {
    nodes {
      id handle title status onlineStoreUrl featuredImage { url }
      priceRangeV2 { minVariantPrice { amount currencyCode } }
      publishedOnPublication(publicationId: $pub)
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
ONLINE = "gid://shopify/Publication/90001"


def run(live, query, **variables):
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        return admin_api(session, shop, shopify()).execute(query, variables)


def titles(live, q):
    nodes = run(live, PRODUCTS, q=q, pub=ONLINE)["products"]["nodes"]
    return [n["title"] for n in nodes]


def test_publications_name_the_online_store_and_point_of_sale(live):
    install(live, SHOP_A)
    data = run(live, "{ publications(first: 5) { nodes { id name catalog { title } } } }")
    assert data["publications"]["nodes"] == [
        {"id": ONLINE, "name": "Online Store", "catalog": {"title": "Online Store"}},
        {
            "id": "gid://shopify/Publication/90002",
            "name": "Point of Sale",
            "catalog": {"title": "Point of Sale"},
        },
    ]


def test_shop_primary_domain_is_the_storefront_root(live):
    install(live, SHOP_A)
    domain = run(live, "{ shop { primaryDomain { url host } } }")["shop"]["primaryDomain"]
    assert domain["url"] == f"{live.devstore_url}/shops/{SHOP_A}"


def test_product_fields_and_online_store_url_only_when_active_and_published(live):
    install(live, SHOP_A)
    nodes = {n["id"]: n for n in run(live, PRODUCTS, q=None, pub=ONLINE)["products"]["nodes"]}
    teapot = nodes["gid://shopify/Product/7002"]
    assert teapot == {
        "id": "gid://shopify/Product/7002",
        "handle": "teapot",
        "title": "Teapot",
        "status": "ACTIVE",
        "onlineStoreUrl": f"{live.devstore_url}/shops/{SHOP_A}/products/teapot",
        "featuredImage": None,
        "priceRangeV2": {"minVariantPrice": {"amount": "49.00", "currencyCode": "EUR"}},
        "publishedOnPublication": True,
    }
    mug, draft = nodes["gid://shopify/Product/7005"], nodes["gid://shopify/Product/7006"]
    assert (mug["publishedOnPublication"], mug["onlineStoreUrl"]) == (False, None)
    assert (draft["status"], draft["publishedOnPublication"], draft["onlineStoreUrl"]) == (
        "DRAFT",
        True,
        None,
    )
    one = run(
        live,
        "query($id: ID!) { product(id: $id) { title publishedOnPublication(publicationId: "
        '"gid://shopify/Publication/90002") } }',
        id="gid://shopify/Product/7005",
    )
    assert one["product"] == {"title": "Shop mug", "publishedOnPublication": True}
    assert run(live, 'query { product(id: "gid://shopify/Product/1") { id } }') == {"product": None}


def test_product_search_filters(live):
    install(live, SHOP_A)
    everything = titles(live, None)
    assert len(everything) == 6
    on_store = "status:active publication_ids:90001 published_status:published"
    assert titles(live, on_store) == [
        "Green tea 100 g",
        "Teapot",
        "Oolong 50 g",
        "First flush Darjeeling gift set with two cups",
    ]
    assert titles(live, "status:draft") == ["Winter blend (coming soon)"]
    assert titles(live, "publication_ids:90002 status:active") == [
        "Green tea 100 g",
        "Teapot",
        "Oolong 50 g",
        "First flush Darjeeling gift set with two cups",
        "Shop mug",
    ]
    assert titles(live, "published_status:unpublished") == [
        "Shop mug",
        "Winter blend (coming soon)",
    ]
    assert titles(live, f"{on_store} title:*TEA*") == ["Green tea 100 g", "Teapot"]
    assert titles(live, "mug") == ["Shop mug"]
    assert titles(live, f"{on_store} mug") == []


def test_products_page_through_cursors_and_cost_counts_the_page(live):
    install(live, SHOP_A)
    query = (
        "query($after: String) { products(first: 4, after: $after) "
        "{ nodes { id } pageInfo { hasNextPage endCursor } } }"
    )
    first = run(live, query)["products"]
    assert len(first["nodes"]) == 4 and first["pageInfo"]["hasNextPage"] is True
    second = run(live, query, after=first["pageInfo"]["endCursor"])["products"]
    assert [n["id"] for n in second["nodes"]] == [
        "gid://shopify/Product/7005",
        "gid://shopify/Product/7006",
    ]
    assert second["pageInfo"]["hasNextPage"] is False
    assert query_cost(schema(), PRODUCTS, {"pub": ONLINE}) > query_cost(
        schema(), '{ product(id: "x") { id } }'
    )


def test_discount_code_lookup_has_the_summary_and_active_codes_list(live):
    install(live, SHOP_A)
    shop = commerce.data(live.state, SHOP_A)
    moment = now()
    for ident, code, start, end, amount in (
        (900001, "WELCOME10", moment - timedelta(days=1), None, None),
        (900002, "OLD5", moment - timedelta(days=9), moment - timedelta(days=2), None),
        (900003, "SOON", moment + timedelta(days=3), None, None),
        (900004, "FIVER", moment - timedelta(days=1), None, 5),
    ):
        shop.discounts[ident] = commerce.DevDiscount(
            id=ident,
            title=code,
            code=code,
            starts_at=start,
            ends_at=end,
            percentage=None if amount else 0.1,
            amount=amount,
        )
    by_code = run(
        live,
        "query($c: String!) { codeDiscountNodeByCode(code: $c) { id codeDiscount { ... on "
        "DiscountCodeBasic { title status summary endsAt codes(first: 1) { nodes { code } } } "
        "} } }",
        c="welcome10",
    )["codeDiscountNodeByCode"]
    assert by_code["codeDiscount"]["summary"] == "10% off entire order"
    assert by_code["codeDiscount"]["codes"]["nodes"] == [{"code": "WELCOME10"}]
    listed = run(
        live,
        '{ codeDiscountNodes(first: 10, query: "status:active") { nodes { codeDiscount { '
        "... on DiscountCodeBasic { status summary codes(first: 1) { nodes { code } } } } } } }",
    )["codeDiscountNodes"]["nodes"]
    offered = [
        (n["codeDiscount"]["codes"]["nodes"][0]["code"], n["codeDiscount"]["summary"])
        for n in listed
    ]
    assert offered == [
        ("WELCOME10", "10% off entire order"),
        ("FIVER", "5.00 EUR off entire order"),
    ]


def test_the_products_page_lists_channels_and_switches_the_online_store(live):
    install(live, SHOP_A)
    handle = live.state.shop(SHOP_A).handle
    page = live.http.get(f"{live.devstore_url}/store/{handle}/products")
    assert page.status_code == 200
    assert "Teapot" in page.text and "Point of Sale" in page.text
    row = page.text[page.text.index('id="product-7005"') :]
    assert "Publish" in row[: row.index("</tr>")]
    done = live.http.post(
        f"{live.devstore_url}/store/{handle}/products/7002/online-store", data={"publish": "0"}
    )
    assert done.status_code == 302
    assert commerce.data(live.state, SHOP_A).products[7002].publication_ids == [90002]
    assert "Teapot" not in titles(live, "publication_ids:90001")
    live.http.post(
        f"{live.devstore_url}/store/{handle}/products/7002/online-store", data={"publish": "1"}
    )
    assert commerce.data(live.state, SHOP_A).products[7002].on_online_store
    missing = live.http.post(f"{live.devstore_url}/store/{handle}/products/1/online-store")
    assert missing.status_code == 404
