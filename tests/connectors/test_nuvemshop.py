from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from atende.assistant.dialogue.replies import order_text
from atende.assistant.tools.core import _order_view
from atende.connectors.demo import business_today
from atende.connectors.demo.seed import (
    AVAILABLE_SKU,
    MARIA_CPF,
    MARIA_DELIVERED_ORDER,
    MARIA_OLD_ORDER,
    MARIA_PHONE,
    MARIA_PROCESSING_ORDER,
    MARIA_SHIPPED_ORDER,
    NOVA_ERA_CNPJ,
    OUT_OF_STOCK_SKU,
    PADARIA_CNPJ,
    PADARIA_ORDER,
    PADARIA_PHONE,
    SHIPPED_CARRIER,
    SHIPPED_TRACKING_CODE,
)
from atende.connectors.nuvemshop import (
    MAX_PAGES,
    NO_BOLETOS,
    NO_ORDERS_HERE,
    UNTRACKED_STOCK,
    NuvemshopConnector,
    to_cents,
)
from atende.connectors.port import (
    ConnectorError,
    ConnectorUnavailable,
    InvalidRequest,
    NotFound,
    OrderRequest,
    OrderRequestItem,
    Refused,
)
from tests.connectors.contract import UNKNOWN_VALID_CPF
from tests.connectors.fake_nuvemshop import (
    MULTI_VARIANT_SKUS,
    ODD_PRICE_SKU,
    STORE_ID,
    UNTRACKED_SKU,
    FakeNuvemshop,
    nuvemshop_order_id,
)

TODAY = business_today()
TOKEN = "nuvemshop-access-token"
USER_AGENT = "Atende (suporte@atende.example.com)"

SHIPPED_ID = nuvemshop_order_id(MARIA_SHIPPED_ORDER)


@pytest.fixture
async def fake() -> AsyncIterator[FakeNuvemshop]:
    server = FakeNuvemshop(TODAY, token=TOKEN)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def store(fake: FakeNuvemshop) -> AsyncIterator[NuvemshopConnector]:
    connector = NuvemshopConnector(STORE_ID, TOKEN, user_agent=USER_AGENT, base_url=fake.base_url)
    yield connector
    await connector.aclose()


# -- customers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("document", ["529.982.247-25", "52998224725", " 529 982 247 25 "])
async def test_finds_a_customer_by_cpf_written_any_way(
    store: NuvemshopConnector, document: str
) -> None:
    customer = await store.find_customer(document)

    assert customer.document == MARIA_CPF
    assert customer.kind == "cpf"
    assert customer.name == "Maria Aparecida Souza"
    assert customer.phone == MARIA_PHONE
    assert customer.email == "maria.souza@example.com"
    assert customer.cep == "01310100"


async def test_finds_a_company_by_cnpj_and_reads_a_national_phone_as_e164(
    store: NuvemshopConnector,
) -> None:
    customer = await store.find_customer("11.222.333/0001-81")

    assert customer.document == PADARIA_CNPJ
    assert customer.kind == "cnpj"
    assert customer.phone == PADARIA_PHONE


async def test_finds_a_company_by_alphanumeric_cnpj(store: NuvemshopConnector) -> None:
    customer = await store.find_customer("12.abc.345/01de-35")

    assert customer.document == NOVA_ERA_CNPJ


async def test_a_customer_stored_with_a_formatted_document_is_found_by_the_second_search(
    store: NuvemshopConnector, fake: FakeNuvemshop
) -> None:
    await store.find_customer(MARIA_CPF)

    assert [call.query["q"] for call in fake.calls("customers")] == [
        MARIA_CPF,
        "529.982.247-25",
    ]


async def test_unknown_valid_cpf_is_not_found(store: NuvemshopConnector) -> None:
    with pytest.raises(NotFound):
        await store.find_customer(UNKNOWN_VALID_CPF)


@pytest.mark.parametrize("document", ["123", "529.982.247-26", ""])
async def test_malformed_document_is_invalid_without_asking_the_store(
    store: NuvemshopConnector, fake: FakeNuvemshop, document: str
) -> None:
    with pytest.raises(InvalidRequest):
        await store.find_customer(document)

    assert fake.requests == []


async def test_requests_carry_nuvemshops_authentication_header_and_the_apps_user_agent(
    store: NuvemshopConnector, fake: FakeNuvemshop
) -> None:
    await store.find_customer("529.982.247-25")

    headers = fake.requests[0].headers
    assert headers["Authentication"] == f"bearer {TOKEN}"
    assert "Authorization" not in headers
    assert headers["User-Agent"] == USER_AGENT


# -- billing is not a Nuvemshop feature ---------------------------------------------------------


async def test_open_titulos_are_empty_for_a_known_customer_and_not_found_for_an_unknown(
    store: NuvemshopConnector,
) -> None:
    assert await store.open_titulos(MARIA_CPF) == []
    with pytest.raises(NotFound):
        await store.open_titulos(UNKNOWN_VALID_CPF)


async def test_second_copy_is_refused_with_a_pt_br_reason(store: NuvemshopConnector) -> None:
    with pytest.raises(Refused) as refused:
        await store.second_copy(MARIA_CPF, "TIT-1001")

    assert refused.value.reason == NO_BOLETOS


async def test_placing_an_order_is_refused_with_a_pt_br_reason(
    store: NuvemshopConnector, fake: FakeNuvemshop
) -> None:
    request = OrderRequest(
        document=MARIA_CPF, items=[OrderRequestItem(sku=AVAILABLE_SKU, quantity=1)]
    )

    with pytest.raises(Refused) as refused:
        await store.place_order(request, "pedido-whatsapp-0001")

    assert refused.value.reason == NO_ORDERS_HERE
    assert fake.requests == []


# -- orders -------------------------------------------------------------------------------------


async def test_recent_orders_map_statuses_tracking_and_money(store: NuvemshopConnector) -> None:
    orders = await store.recent_orders("529.982.247-25")

    assert [order.id for order in orders] == [
        nuvemshop_order_id(MARIA_PROCESSING_ORDER),
        SHIPPED_ID,
        nuvemshop_order_id(MARIA_DELIVERED_ORDER),
    ]
    by_status = {order.status: order for order in orders}
    assert set(by_status) == {"processing", "shipped", "delivered"}
    shipped = by_status["shipped"]
    assert shipped.carrier == SHIPPED_CARRIER
    assert shipped.tracking_code == SHIPPED_TRACKING_CODE
    assert shipped.tracking_url is not None
    assert SHIPPED_TRACKING_CODE in shipped.tracking_url
    assert by_status["delivered"].delivered_at is not None
    assert by_status["processing"].tracking_code is None
    assert by_status["processing"].carrier is None
    for order in orders:
        assert order.items
        assert order.total_cents == sum(
            item.quantity * item.unit_price_cents for item in order.items
        )
        assert order.created_at.tzinfo is not None


async def test_recent_orders_honour_the_window(store: NuvemshopConnector) -> None:
    last_three_days = await store.recent_orders(MARIA_CPF, days=3)
    last_year = await store.recent_orders(MARIA_CPF, days=365)

    assert [order.id for order in last_three_days] == [nuvemshop_order_id(MARIA_PROCESSING_ORDER)]
    assert nuvemshop_order_id(MARIA_OLD_ORDER) in {order.id for order in last_year}


async def test_recent_orders_follow_the_link_header_across_pages(
    store: NuvemshopConnector, fake: FakeNuvemshop
) -> None:
    fake.max_per_page = 1

    orders = await store.recent_orders(MARIA_CPF, days=365)

    assert len(orders) == 4
    assert [call.query["page"] for call in fake.calls("orders")] == ["1", "2", "3", "4"]


async def test_pagination_stops_after_a_few_pages(
    store: NuvemshopConnector, fake: FakeNuvemshop
) -> None:
    fake.max_per_page = 1
    fake.data["orders"] += [
        {**fake.data["orders"][0], "id": 1_900_000_000 + number} for number in range(10)
    ]

    orders = await store.recent_orders(MARIA_CPF, days=365)

    assert len(fake.calls("orders")) == MAX_PAGES
    assert len(orders) == MAX_PAGES


async def test_a_customer_without_orders_gets_an_empty_list_from_nuvemshops_404(
    store: NuvemshopConnector, fake: FakeNuvemshop
) -> None:
    fake.data["orders"] = []

    assert await store.recent_orders(MARIA_CPF) == []


async def test_get_order_returns_the_customers_own_order(store: NuvemshopConnector) -> None:
    order = await store.get_order(MARIA_CPF, f"#{SHIPPED_ID}")

    assert order.id == SHIPPED_ID
    assert order.status == "shipped"


@pytest.mark.parametrize("written", ["#5002", "5002", "nº 5002", "PED-5002"])
async def test_get_order_takes_the_number_customers_see(
    store: NuvemshopConnector, written: str
) -> None:
    # The store's e-mails show the order number, never the id.
    assert MARIA_SHIPPED_ORDER == "PED-5002"

    order = await store.get_order(MARIA_CPF, written)

    assert order.id == SHIPPED_ID


async def test_an_order_carries_the_number_its_customer_was_shown(
    store: NuvemshopConnector,
) -> None:
    order = await store.get_order(MARIA_CPF, "5002")

    assert order.number == "#5002"
    assert order.shown_number == "#5002"
    assert order_text(_order_view(order)).startswith("Pedido *#5002*:")
    assert SHIPPED_ID not in order_text(_order_view(order))


@pytest.mark.parametrize(
    "order_id", [nuvemshop_order_id(PADARIA_ORDER), "999", "../products", "#5101", "5101"]
)
async def test_another_customers_or_an_unknown_order_is_not_found(
    store: NuvemshopConnector, order_id: str
) -> None:
    with pytest.raises(NotFound):
        await store.get_order(MARIA_CPF, order_id)


async def test_a_cancelled_order_is_cancelled_whatever_its_shipping_status(
    store: NuvemshopConnector, fake: FakeNuvemshop
) -> None:
    for order in fake.data["orders"]:
        if str(order["id"]) == SHIPPED_ID:
            order["status"] = "cancelled"

    assert (await store.get_order(MARIA_CPF, SHIPPED_ID)).status == "cancelled"


# -- catalogue ----------------------------------------------------------------------------------


async def test_product_by_sku_has_price_and_stock(store: NuvemshopConnector) -> None:
    product = await store.get_product(AVAILABLE_SKU.lower())

    assert product.sku == AVAILABLE_SKU
    assert product.name == "Camiseta Básica Algodão Branca P"
    assert product.price_cents == 4990
    assert product.stock == 25
    assert product.available is True


async def test_out_of_stock_product_is_unavailable(store: NuvemshopConnector) -> None:
    product = await store.get_product(OUT_OF_STOCK_SKU)

    assert product.available is False
    assert product.stock == 0


async def test_unknown_sku_is_not_found(store: NuvemshopConnector) -> None:
    with pytest.raises(NotFound):
        await store.get_product("NAO-EXISTE")


async def test_a_promotional_decimal_price_becomes_exact_cents(store: NuvemshopConnector) -> None:
    product = await store.get_product(ODD_PRICE_SKU)

    assert product.price_cents == 18485


async def test_untracked_stock_is_available(store: NuvemshopConnector) -> None:
    product = await store.get_product(UNTRACKED_SKU)

    assert product.available is True
    assert product.stock == UNTRACKED_STOCK


async def test_each_variant_is_a_product_named_with_its_option(store: NuvemshopConnector) -> None:
    small, large = MULTI_VARIANT_SKUS

    product = await store.get_product(large)

    assert product.sku == large
    assert product.name == "Meia Esportiva Cano Alto (G)"
    assert (await store.get_product(small)).available is False


async def test_search_finds_products_by_name_ignoring_case_and_accents(
    store: NuvemshopConnector,
) -> None:
    shirts = await store.search_products("CAMISETA")
    coffee = await store.search_products("cafe")

    assert AVAILABLE_SKU in {product.sku for product in shirts}
    assert all("camiseta" in product.name.lower() for product in shirts)
    assert [product.available for product in shirts][-1] is False
    assert coffee
    assert all("café" in product.name.lower() for product in coffee)


async def test_search_honours_the_limit_and_an_empty_result_is_empty(
    store: NuvemshopConnector,
) -> None:
    assert len(await store.search_products("camiseta", limit=2)) == 2
    assert await store.search_products("helicóptero") == []


# -- failures -----------------------------------------------------------------------------------


async def test_missing_user_agent_is_a_400_and_a_connector_error(fake: FakeNuvemshop) -> None:
    connector = NuvemshopConnector(STORE_ID, TOKEN, user_agent="", base_url=fake.base_url)
    try:
        with pytest.raises(ConnectorError) as raised:
            await connector.get_product(AVAILABLE_SKU)
    finally:
        await connector.aclose()

    assert type(raised.value) is ConnectorError
    assert "400" in str(raised.value)
    assert "User-Agent" not in fake.requests[0].headers


async def test_wrong_token_is_unauthorized(fake: FakeNuvemshop) -> None:
    connector = NuvemshopConnector(STORE_ID, "wrong", user_agent=USER_AGENT, base_url=fake.base_url)
    try:
        with pytest.raises(ConnectorError, match="unauthorized"):
            await connector.get_product(AVAILABLE_SKU)
    finally:
        await connector.aclose()


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_throttling_and_server_errors_are_unavailable(
    store: NuvemshopConnector, fake: FakeNuvemshop, status: int
) -> None:
    fake.fail_next(status)

    with pytest.raises(ConnectorUnavailable):
        await store.get_product(AVAILABLE_SKU)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("184.85", 18485), ("0.10", 10), ("49.9", 4990), ("1000", 100000), ("0.005", 1)],
)
def test_decimal_strings_become_exact_cents(text: str, expected: int) -> None:
    assert to_cents(text) == expected


@pytest.mark.parametrize("text", ["abc", "-1.00", "NaN"])
def test_a_malformed_amount_is_a_connector_error(text: str) -> None:
    with pytest.raises(ConnectorError):
        to_cents(text)
