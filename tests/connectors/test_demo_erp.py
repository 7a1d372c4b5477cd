from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from atende.connectors.demo import (
    DemoErp,
    business_today,
    demo_database_url,
    seed_demo_erp,
)
from atende.connectors.demo.billing import (
    ALREADY_PAID,
    TOO_LATE_TO_REISSUE,
    charge_for,
    free_field,
    nosso_numero,
)
from atende.connectors.demo.pix import crc16_ccitt
from atende.connectors.demo.seed import (
    AVAILABLE_SKU,
    MARIA_CPF,
    MARIA_OPEN_TITULO,
    MARIA_OVERDUE_TITULO,
    MARIA_PAID_TITULO,
    PADARIA_TOO_LATE_TITULO,
    PRODUCTS,
)
from atende.connectors.port import (
    ConnectorUnavailable,
    ErpConnector,
    InvalidRequest,
    NotFound,
    OrderRequest,
    OrderRequestItem,
    Refused,
)
from atende.connectors.resilience import ResilientConnector
from tests.connectors.contract import ErpConnectorContract

TODAY = business_today()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded once; each test gets a copy, so tests that place orders do not see each other."""
    path = tmp_path_factory.mktemp("demo_erp") / "demo_erp.db"
    asyncio.run(seed_demo_erp(sqlite_url(path), today=TODAY))
    return path


@pytest.fixture
def today() -> date:
    return TODAY


@pytest.fixture
def demo_url(seeded_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "demo_erp.db"
    shutil.copy(seeded_template, path)
    return sqlite_url(path)


@pytest.fixture
async def demo(demo_url: str) -> AsyncIterator[DemoErp]:
    erp = DemoErp(demo_url, today=lambda: TODAY)
    yield erp
    await erp.aclose()


class TestDemoErpContract(ErpConnectorContract):
    @pytest.fixture
    def connector(self, demo: DemoErp) -> ErpConnector:
        return demo


class TestResilientDemoErpContract(ErpConnectorContract):
    """The resilience wrapper is transparent: same answers, same business errors."""

    @pytest.fixture
    def connector(self, demo: DemoErp) -> ErpConnector:
        return ResilientConnector(
            demo, tenant_id="demo", backoff_max=0.001, registry=CollectorRegistry()
        )


# -- seeding ------------------------------------------------------------------------------------


def count_rows(path: Path, table: str) -> int:
    with closing(sqlite3.connect(path)) as connection:
        (count,) = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
    return int(count)


async def test_seeding_twice_neither_duplicates_nor_resets(tmp_path: Path) -> None:
    path = tmp_path / "var" / "demo_erp.db"
    url = sqlite_url(path)
    await seed_demo_erp(url, today=TODAY)
    erp = DemoErp(url, today=lambda: TODAY)
    request = OrderRequest(document=MARIA_CPF, items=[OrderRequestItem(sku="CAM-002", quantity=3)])
    try:
        await erp.place_order(request, "before-reseed")
    finally:
        await erp.aclose()

    await seed_demo_erp(url, today=TODAY + timedelta(days=30))

    assert count_rows(path, "demo_customers") == 3
    assert count_rows(path, "demo_titulos") == 6
    assert count_rows(path, "demo_orders") == 7
    erp = DemoErp(url, today=lambda: TODAY)
    try:
        assert (await erp.get_product("CAM-002")).stock == 18 - 3
    finally:
        await erp.aclose()


async def test_catalogue_has_thirty_products_some_out_of_stock(demo: DemoErp) -> None:
    products = [await demo.get_product(item.sku) for item in PRODUCTS]

    assert len(products) >= 30
    assert len({product.sku for product in products}) == len(products)
    out_of_stock = [product for product in products if not product.available]
    assert len(out_of_stock) >= 3
    assert all(product.stock == 0 for product in out_of_stock)


async def test_an_empty_database_has_tables_but_no_customers(tmp_path: Path) -> None:
    erp = DemoErp(sqlite_url(tmp_path / "empty.db"))
    try:
        with pytest.raises(NotFound):
            await erp.find_customer(MARIA_CPF)
    finally:
        await erp.aclose()


# -- billing rules ------------------------------------------------------------------------------


async def test_overdue_second_copy_follows_the_demo_rule_exactly(demo: DemoErp) -> None:
    titulos = {item.id: item for item in await demo.open_titulos(MARIA_CPF)}
    amount = titulos[MARIA_OVERDUE_TITULO].amount_cents

    copy = await demo.second_copy(MARIA_CPF, MARIA_OVERDUE_TITULO)

    assert copy.due_date == TODAY + timedelta(days=3)
    assert copy.fine_cents == (amount * 2 + 50) // 100
    # 10 days overdue plus the 3 days to the new due date, at 1%/30 a day.
    assert copy.interest_cents == (amount * 13 + 1500) // 3000
    # It renders the PDF itself: no path of its own that could reach a customer.
    assert copy.pdf_url is None


def test_charge_keeps_a_titulo_due_today() -> None:
    charge = charge_for(10000, TODAY, paid=False, today=TODAY)

    assert charge.reissued is False
    assert charge.amount_cents == 10000
    assert charge.due_date == TODAY


def test_charge_reissues_up_to_59_days_overdue() -> None:
    charge = charge_for(10000, TODAY - timedelta(days=59), paid=False, today=TODAY)

    assert charge.reissued is True
    assert charge.fine_cents == 200
    assert charge.interest_cents == 207  # 62 days at 1%/30 a day on R$ 100,00: 206.67 → 207
    assert charge.amount_cents == 10407


def test_charge_refuses_60_days_overdue() -> None:
    with pytest.raises(Refused) as refused:
        charge_for(10000, TODAY - timedelta(days=60), paid=False, today=TODAY)

    assert refused.value.reason == TOO_LATE_TO_REISSUE


def test_charge_refuses_a_paid_titulo() -> None:
    with pytest.raises(Refused) as refused:
        charge_for(10000, TODAY + timedelta(days=5), paid=True, today=TODAY)

    assert refused.value.reason == ALREADY_PAID


async def test_too_late_reason_is_the_one_the_customer_reads(demo: DemoErp) -> None:
    with pytest.raises(Refused) as refused:
        await demo.second_copy("11.222.333/0001-81", PADARIA_TOO_LATE_TITULO)

    assert refused.value.reason == (
        "Boletos vencidos há mais de 59 dias não podem ser reemitidos; fale com o financeiro."
    )


@pytest.mark.parametrize("titulo_id", ["TIT-1001", "TIT-2002", "ABC", "1234567890123"])
def test_free_field_has_25_digits_derived_from_the_titulo(titulo_id: str) -> None:
    field = free_field(titulo_id)

    assert len(field) == 25
    assert field.isdigit()
    assert field[3:11] == nosso_numero(titulo_id)
    assert free_field(titulo_id) == field


def test_nosso_numero_comes_from_the_digits_of_the_id() -> None:
    assert nosso_numero("TIT-1001") == "00001001"


# -- PIX ----------------------------------------------------------------------------------------


def test_crc16_ccitt_matches_the_standard_check_value() -> None:
    assert crc16_ccitt(b"123456789") == 0x29B1


def test_crc16_ccitt_matches_the_banco_central_manual_example() -> None:
    payload = (
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
        "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***6304"
    )

    assert f"{crc16_ccitt(payload.encode()):04X}" == "1D3D"


async def test_second_copy_pix_payload_carries_amount_and_a_valid_crc(demo: DemoErp) -> None:
    copy = await demo.second_copy(MARIA_CPF, MARIA_OPEN_TITULO)

    pix = copy.pix_copia_e_cola
    assert pix is not None
    assert pix.startswith("000201")
    reais, cents = divmod(copy.amount_cents, 100)
    amount = f"{reais}.{cents:02d}"
    assert f"54{len(amount):02d}{amount}" in pix
    assert "br.gov.bcb.pix" in pix
    assert pix[-8:-4] == "6304"
    assert pix[-4:] == f"{crc16_ccitt(pix[:-4].encode()):04X}"


# -- PDF ----------------------------------------------------------------------------------------


async def test_render_pdf_of_an_open_titulo_is_a_pdf(demo: DemoErp) -> None:
    pdf = await demo.render_pdf(MARIA_OPEN_TITULO)

    assert pdf.startswith(b"%PDF")


async def test_render_pdf_of_an_overdue_titulo_is_the_reissued_boleto(demo: DemoErp) -> None:
    assert (await demo.render_pdf(MARIA_OVERDUE_TITULO)).startswith(b"%PDF")


async def test_render_pdf_refuses_a_paid_titulo_and_an_unknown_one(demo: DemoErp) -> None:
    with pytest.raises(Refused):
        await demo.render_pdf(MARIA_PAID_TITULO)
    with pytest.raises(NotFound):
        await demo.render_pdf("TIT-9999")


# -- orders -------------------------------------------------------------------------------------


async def test_concurrent_calls_with_one_key_place_one_order(demo: DemoErp) -> None:
    before = await demo.get_product(AVAILABLE_SKU)
    request = OrderRequest(
        document=MARIA_CPF, items=[OrderRequestItem(sku=AVAILABLE_SKU, quantity=1)]
    )

    receipts = await asyncio.gather(*(demo.place_order(request, "same-key") for _ in range(5)))

    assert len({receipt.order_id for receipt in receipts}) == 1
    assert (await demo.get_product(AVAILABLE_SKU)).stock == before.stock - 1


async def test_reusing_a_key_for_another_order_is_invalid(demo: DemoErp) -> None:
    first = OrderRequest(document=MARIA_CPF, items=[OrderRequestItem(sku="CAM-001", quantity=1)])
    other = OrderRequest(document=MARIA_CPF, items=[OrderRequestItem(sku="CAM-002", quantity=1)])
    await demo.place_order(first, "reused")

    with pytest.raises(InvalidRequest):
        await demo.place_order(other, "reused")


async def test_order_lines_for_the_same_sku_are_merged_and_priced(demo: DemoErp) -> None:
    request = OrderRequest(
        document=MARIA_CPF,
        items=[
            OrderRequestItem(sku="caf-001", quantity=1),
            OrderRequestItem(sku="CAF-001", quantity=2),
            OrderRequestItem(sku="CAN-001", quantity=1),
        ],
    )

    receipt = await demo.place_order(request, "merge")

    order = await demo.get_order(MARIA_CPF, receipt.order_id)
    assert [(item.sku, item.quantity) for item in order.items] == [("CAF-001", 3), ("CAN-001", 1)]
    assert receipt.total_cents == 3 * 4590 + 3990
    assert order.status == "processing"
    assert receipt.message == f"Pedido {receipt.order_id} registrado. Total: R$ 177,60."


async def test_a_refused_line_leaves_the_other_lines_stock_alone(demo: DemoErp) -> None:
    request = OrderRequest(
        document=MARIA_CPF,
        items=[
            OrderRequestItem(sku="CAM-002", quantity=1),
            OrderRequestItem(sku="JAQ-001", quantity=5),
        ],
    )

    with pytest.raises(Refused) as refused:
        await demo.place_order(request, "partial")

    assert refused.value.reason == (
        "Temos apenas 2 unidades de Jaqueta Corta-Vento Impermeável M em estoque."
    )
    assert (await demo.get_product("CAM-002")).stock == 18


async def test_an_unknown_sku_in_an_order_is_invalid(demo: DemoErp) -> None:
    request = OrderRequest(document=MARIA_CPF, items=[OrderRequestItem(sku="XYZ-999", quantity=1)])

    with pytest.raises(InvalidRequest, match="XYZ-999"):
        await demo.place_order(request, "unknown-sku")


@pytest.mark.parametrize("key", ["", "   ", "k" * 201])
async def test_a_blank_or_huge_idempotency_key_is_invalid(demo: DemoErp, key: str) -> None:
    request = OrderRequest(document=MARIA_CPF, items=[OrderRequestItem(sku="CAM-001", quantity=1)])

    with pytest.raises(InvalidRequest):
        await demo.place_order(request, key)


async def test_a_window_shorter_than_a_day_is_invalid(demo: DemoErp) -> None:
    with pytest.raises(InvalidRequest):
        await demo.recent_orders(MARIA_CPF, days=0)


@pytest.mark.parametrize("limit", [0, 101])
async def test_a_search_limit_out_of_range_is_invalid(demo: DemoErp, limit: int) -> None:
    with pytest.raises(InvalidRequest):
        await demo.search_products("camiseta", limit=limit)


async def test_search_puts_available_products_first(demo: DemoErp) -> None:
    found = await demo.search_products("camisetas")

    availability = [product.available for product in found]
    assert availability == sorted(availability, reverse=True)
    assert availability[-1] is False


async def test_a_broken_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    erp = DemoErp(sqlite_url(path))
    try:
        with pytest.raises(NotFound):
            await erp.get_product(AVAILABLE_SKU)
        # Someone else breaks the ERP's database under it: SQLite reports an OperationalError.
        with closing(sqlite3.connect(path)) as other:
            other.execute("DROP TABLE demo_products")

        with pytest.raises(ConnectorUnavailable):
            await erp.get_product(AVAILABLE_SKU)
    finally:
        await erp.aclose()


def test_the_demo_database_is_its_own_file_under_var(tmp_path: Path) -> None:
    assert demo_database_url(tmp_path / "var") == sqlite_url(tmp_path / "var" / "demo_erp.db")
