"""The behaviour every :class:`ErpConnector` adapter owes the assistant, against the demo data.

Reuse it by subclassing :class:`ErpConnectorContract` in a ``Test…`` class that provides two
fixtures: ``connector``, an adapter serving the demo seed (``seed_demo_erp``) in a fresh state for
each test, and ``today``, the date the seed was built for and that the adapter treats as today.
Remote fakes serve the same seed, so the same expectations hold for them.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from atende.brazil.boleto import parse_linha_digitavel
from atende.connectors.demo.seed import (
    AVAILABLE_SKU,
    MARIA_CPF,
    MARIA_DELIVERED_ORDER,
    MARIA_OLD_ORDER,
    MARIA_OPEN_TITULO,
    MARIA_OVERDUE_TITULO,
    MARIA_PAID_TITULO,
    MARIA_PHONE,
    MARIA_PROCESSING_ORDER,
    MARIA_SHIPPED_ORDER,
    NOVA_ERA_CNPJ,
    NOVA_ERA_OPEN_TITULO,
    OUT_OF_STOCK_SKU,
    PADARIA_CNPJ,
    PADARIA_OPEN_TITULO,
    PADARIA_ORDER,
    PADARIA_PHONE,
    PADARIA_TOO_LATE_TITULO,
    SHIPPED_CARRIER,
)
from atende.connectors.port import (
    ErpConnector,
    InvalidRequest,
    NotFound,
    OrderRequest,
    OrderRequestItem,
    Refused,
    SecondCopy,
    Titulo,
)

UNKNOWN_VALID_CPF = "111.444.777-35"


def assert_codes_agree(copy: SecondCopy, today: date) -> None:
    """The linha digitável is the barcode rearranged, and both encode the amount and due date."""
    line, barcode = copy.linha_digitavel, copy.barcode
    assert len(line) == 47
    assert line.isdigit()
    assert len(barcode) == 44
    assert barcode.isdigit()
    rearranged = line[0:4] + line[32] + line[33:47] + line[4:9] + line[10:20] + line[21:31]
    assert rearranged == barcode
    # Parsing checks the three modulo-10 digits and the general modulo-11 digit.
    boleto = parse_linha_digitavel(line, reference=today)
    assert boleto.barcode == barcode
    assert boleto.amount_cents == copy.amount_cents
    assert boleto.due_date == copy.due_date


async def titulo(connector: ErpConnector, document: str, titulo_id: str) -> Titulo:
    found = {item.id: item for item in await connector.open_titulos(document)}
    return found[titulo_id]


class ErpConnectorContract:
    # -- customers ---------------------------------------------------------------------------

    @pytest.mark.parametrize("document", ["529.982.247-25", "52998224725", " 529 982 247 25 "])
    async def test_finds_a_person_by_cpf_formatted_or_bare(
        self, connector: ErpConnector, document: str
    ) -> None:
        customer = await connector.find_customer(document)

        assert customer.document == MARIA_CPF
        assert customer.kind == "cpf"
        assert customer.name == "Maria Aparecida Souza"
        assert customer.phone == MARIA_PHONE
        assert customer.birth_date is not None
        assert customer.cep is not None
        assert len(customer.cep) == 8

    async def test_finds_a_company_by_numeric_cnpj(self, connector: ErpConnector) -> None:
        customer = await connector.find_customer("11.222.333/0001-81")

        assert customer.document == PADARIA_CNPJ
        assert customer.kind == "cnpj"
        assert customer.phone == PADARIA_PHONE

    @pytest.mark.parametrize("document", ["12.ABC.345/01DE-35", "12abc34501de35"])
    async def test_finds_a_company_by_alphanumeric_cnpj(
        self, connector: ErpConnector, document: str
    ) -> None:
        customer = await connector.find_customer(document)

        assert customer.document == NOVA_ERA_CNPJ
        assert customer.kind == "cnpj"

    async def test_unknown_valid_cpf_is_not_found(self, connector: ErpConnector) -> None:
        with pytest.raises(NotFound):
            await connector.find_customer(UNKNOWN_VALID_CPF)

    @pytest.mark.parametrize("document", ["123", "529.982.247-26", "", "12.ABC.345/01DE-3X"])
    async def test_malformed_document_is_an_invalid_request(
        self, connector: ErpConnector, document: str
    ) -> None:
        with pytest.raises(InvalidRequest):
            await connector.find_customer(document)

    # -- títulos -----------------------------------------------------------------------------

    async def test_open_titulos_exclude_paid_ones_and_report_days_overdue(
        self, connector: ErpConnector, today: date
    ) -> None:
        titulos = await connector.open_titulos("529.982.247-25")

        assert [item.id for item in titulos] == [MARIA_OVERDUE_TITULO, MARIA_OPEN_TITULO]
        assert MARIA_PAID_TITULO not in {item.id for item in titulos}
        overdue, upcoming = titulos
        assert overdue.status == "overdue"
        assert overdue.days_overdue == 10
        assert overdue.due_date == today - timedelta(days=10)
        assert upcoming.status == "open"
        assert upcoming.days_overdue == 0
        assert upcoming.due_date == today + timedelta(days=15)
        assert all(item.amount_cents > 0 for item in titulos)

    async def test_companies_have_open_titulos(self, connector: ErpConnector) -> None:
        padaria = {item.id for item in await connector.open_titulos(PADARIA_CNPJ)}
        nova_era = {item.id for item in await connector.open_titulos("12.ABC.345/01DE-35")}

        assert PADARIA_OPEN_TITULO in padaria
        assert nova_era == {NOVA_ERA_OPEN_TITULO}

    async def test_open_titulos_of_an_unknown_customer_is_not_found(
        self, connector: ErpConnector
    ) -> None:
        with pytest.raises(NotFound):
            await connector.open_titulos(UNKNOWN_VALID_CPF)

    # -- second copy -------------------------------------------------------------------------

    async def test_second_copy_of_an_open_titulo_keeps_amount_and_due_date(
        self, connector: ErpConnector, today: date
    ) -> None:
        original = await titulo(connector, MARIA_CPF, MARIA_OPEN_TITULO)

        copy = await connector.second_copy(MARIA_CPF, MARIA_OPEN_TITULO)

        assert copy.titulo_id == MARIA_OPEN_TITULO
        assert copy.reissued is False
        assert copy.amount_cents == original.amount_cents
        assert copy.due_date == original.due_date
        assert copy.fine_cents == 0
        assert copy.interest_cents == 0
        assert_codes_agree(copy, today)
        assert copy.pix_copia_e_cola is not None
        assert copy.pix_copia_e_cola.startswith("000201")
        # A customer is sent pdf_url as is (business/links.py): an absolute https link of the
        # ERP's own, or none (the demo ERP renders its PDFs and gets a sealed link instead).
        assert copy.pdf_url is None or copy.pdf_url.startswith("https://")

    async def test_overdue_titulo_is_reissued_with_fine_and_interest(
        self, connector: ErpConnector, today: date
    ) -> None:
        original = await titulo(connector, MARIA_CPF, MARIA_OVERDUE_TITULO)

        copy = await connector.second_copy(MARIA_CPF, MARIA_OVERDUE_TITULO)

        assert copy.reissued is True
        assert copy.due_date > today
        assert copy.fine_cents == round(original.amount_cents * 0.02)
        # 1% a month pro rata die, from the original due date to the new one at most.
        days = (copy.due_date - original.due_date).days
        assert 0 < copy.interest_cents <= original.amount_cents * 0.01 * days / 30 + 1
        assert copy.amount_cents == original.amount_cents + copy.fine_cents + copy.interest_cents
        assert_codes_agree(copy, today)

    async def test_titulo_overdue_for_more_than_59_days_is_refused(
        self, connector: ErpConnector
    ) -> None:
        with pytest.raises(Refused) as refused:
            await connector.second_copy(PADARIA_CNPJ, PADARIA_TOO_LATE_TITULO)

        assert "59 dias" in refused.value.reason

    async def test_paid_titulo_is_refused(self, connector: ErpConnector) -> None:
        with pytest.raises(Refused):
            await connector.second_copy(MARIA_CPF, MARIA_PAID_TITULO)

    async def test_another_customers_titulo_is_not_found(self, connector: ErpConnector) -> None:
        with pytest.raises(NotFound):
            await connector.second_copy(MARIA_CPF, PADARIA_OPEN_TITULO)

    # -- orders ------------------------------------------------------------------------------

    async def test_recent_orders_have_the_three_statuses_and_the_shipped_one_is_tracked(
        self, connector: ErpConnector
    ) -> None:
        orders = await connector.recent_orders("529.982.247-25")

        assert [order.id for order in orders] == [
            MARIA_PROCESSING_ORDER,
            MARIA_SHIPPED_ORDER,
            MARIA_DELIVERED_ORDER,
        ]
        assert MARIA_OLD_ORDER not in {order.id for order in orders}
        by_status = {order.status: order for order in orders}
        assert set(by_status) == {"processing", "shipped", "delivered"}
        shipped = by_status["shipped"]
        assert shipped.carrier == SHIPPED_CARRIER
        assert shipped.tracking_code is not None
        assert shipped.tracking_url is not None
        assert shipped.tracking_code in shipped.tracking_url
        assert by_status["delivered"].delivered_at is not None
        assert by_status["processing"].tracking_code is None
        for order in orders:
            assert order.items
            assert order.total_cents == sum(
                item.quantity * item.unit_price_cents for item in order.items
            )
            assert order.created_at.tzinfo is not None

    async def test_recent_orders_honour_the_window(self, connector: ErpConnector) -> None:
        last_three_days = await connector.recent_orders(MARIA_CPF, days=3)
        last_year = await connector.recent_orders(MARIA_CPF, days=365)

        assert [order.id for order in last_three_days] == [MARIA_PROCESSING_ORDER]
        assert MARIA_OLD_ORDER in {order.id for order in last_year}

    async def test_company_has_an_order(self, connector: ErpConnector) -> None:
        orders = await connector.recent_orders("11.222.333/0001-81")

        assert PADARIA_ORDER in {order.id for order in orders}

    async def test_get_order_returns_the_customers_own_order(self, connector: ErpConnector) -> None:
        order = await connector.get_order(MARIA_CPF, MARIA_SHIPPED_ORDER)

        assert order.id == MARIA_SHIPPED_ORDER
        assert order.status == "shipped"

    @pytest.mark.parametrize(
        "written", ["{id}", "{id_lower}", "PED{n}", "{n}", "#{n}", "nº {n}", "n° {n}", "pedido {n}"]
    )
    async def test_get_order_takes_the_number_as_customers_write_it(
        self, connector: ErpConnector, written: str
    ) -> None:
        shipped = MARIA_SHIPPED_ORDER
        text = written.format(id=shipped, id_lower=shipped.lower(), n=shipped.removeprefix("PED-"))

        order = await connector.get_order(MARIA_CPF, text)

        assert order.id == MARIA_SHIPPED_ORDER

    async def test_another_customers_order_is_not_found(self, connector: ErpConnector) -> None:
        with pytest.raises(NotFound):
            await connector.get_order(MARIA_CPF, PADARIA_ORDER)

    @pytest.mark.parametrize("written", ["5101", "#5101", "OV-5002", "PED-9999", "50", "", "abc"])
    async def test_a_number_that_is_not_the_customers_order_is_not_found(
        self, connector: ErpConnector, written: str
    ) -> None:
        with pytest.raises(NotFound):
            await connector.get_order(MARIA_CPF, written)

    # -- catalogue ---------------------------------------------------------------------------

    async def test_available_product_has_stock(self, connector: ErpConnector) -> None:
        product = await connector.get_product(AVAILABLE_SKU)

        assert product.sku == AVAILABLE_SKU
        assert product.available is True
        assert product.stock > 0
        assert product.price_cents > 0

    async def test_out_of_stock_product_is_unavailable(self, connector: ErpConnector) -> None:
        product = await connector.get_product(OUT_OF_STOCK_SKU)

        assert product.available is False
        assert product.stock == 0

    async def test_unknown_sku_is_not_found(self, connector: ErpConnector) -> None:
        with pytest.raises(NotFound):
            await connector.get_product("NAO-EXISTE")

    async def test_search_finds_products_by_name_ignoring_case_and_accents(
        self, connector: ErpConnector
    ) -> None:
        shirts = await connector.search_products("CAMISETA")
        coffee = await connector.search_products("cafe")

        assert AVAILABLE_SKU in {product.sku for product in shirts}
        assert all("camiseta" in product.name.lower() for product in shirts)
        assert coffee
        assert all("café" in product.name.lower() for product in coffee)

    async def test_search_honours_the_limit(self, connector: ErpConnector) -> None:
        assert len(await connector.search_products("camiseta", limit=2)) == 2

    async def test_search_without_match_is_empty(self, connector: ErpConnector) -> None:
        assert await connector.search_products("helicóptero") == []

    # -- placing orders ----------------------------------------------------------------------

    async def test_same_idempotency_key_twice_places_one_order(
        self, connector: ErpConnector
    ) -> None:
        before = await connector.get_product(AVAILABLE_SKU)
        request = OrderRequest(
            document="529.982.247-25",
            items=[OrderRequestItem(sku=AVAILABLE_SKU, quantity=2)],
            notes="Entregar na portaria.",
        )

        first = await connector.place_order(request, "pedido-whatsapp-0001")
        second = await connector.place_order(request, "pedido-whatsapp-0001")

        assert second == first
        assert first.status in {"created", "pending"}
        assert first.total_cents == 2 * before.price_cents
        after = await connector.get_product(AVAILABLE_SKU)
        assert after.stock == before.stock - 2
        recent = [order.id for order in await connector.recent_orders(MARIA_CPF)]
        assert recent.count(first.order_id) == 1
        assert len(recent) == 4

    async def test_different_idempotency_keys_place_different_orders(
        self, connector: ErpConnector
    ) -> None:
        request = OrderRequest(
            document=MARIA_CPF, items=[OrderRequestItem(sku=AVAILABLE_SKU, quantity=1)]
        )

        first = await connector.place_order(request, "key-a")
        second = await connector.place_order(request, "key-b")

        assert first.order_id != second.order_id
        placed = await connector.get_order(MARIA_CPF, second.order_id)
        assert placed.items[0].sku == AVAILABLE_SKU

    async def test_ordering_more_than_the_stock_is_not_accepted(
        self, connector: ErpConnector
    ) -> None:
        before = await connector.get_product(AVAILABLE_SKU)
        request = OrderRequest(
            document=MARIA_CPF,
            items=[OrderRequestItem(sku=AVAILABLE_SKU, quantity=before.stock + 1)],
        )

        with pytest.raises((InvalidRequest, Refused)):
            await connector.place_order(request, "too-many")

        assert (await connector.get_product(AVAILABLE_SKU)).stock == before.stock
        assert len(await connector.recent_orders(MARIA_CPF)) == 3

    async def test_ordering_an_out_of_stock_product_is_not_accepted(
        self, connector: ErpConnector
    ) -> None:
        request = OrderRequest(
            document=MARIA_CPF, items=[OrderRequestItem(sku=OUT_OF_STOCK_SKU, quantity=1)]
        )

        with pytest.raises((InvalidRequest, Refused)):
            await connector.place_order(request, "esgotado")
