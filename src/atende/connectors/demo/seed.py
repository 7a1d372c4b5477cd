"""The demo ERP's data: a small pt-BR shop with customers, títulos, orders and a catalogue.

Every date is relative to the ``today`` the seed is given, so a demo seeded any day shows an
overdue boleto, one about to fall due and a parcel on its way. The contract tests and the remote
fakes use the same data, so the constants below are part of the demo's public surface.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from atende.connectors.demo.models import (
    DemoBase,
    DemoCustomer,
    DemoOrder,
    DemoOrderItem,
    DemoProduct,
    DemoTitulo,
)
from atende.kit.db import create_engine, insert_ignoring_conflicts

#: The demo shop's calendar: dates and order times are in São Paulo time.
BUSINESS_TZ = ZoneInfo("America/Sao_Paulo")

MARIA_ID = "CLI-0001"
MARIA_CPF = "52998224725"
MARIA_PHONE = "+5511987654321"
PADARIA_ID = "CLI-0002"
PADARIA_CNPJ = "11222333000181"
PADARIA_PHONE = "+5521998765432"
NOVA_ERA_ID = "CLI-0003"
NOVA_ERA_CNPJ = "12ABC34501DE35"
NOVA_ERA_PHONE = "+5531991234567"

#: Maria's two open títulos (overdue by 10 days, due in 15 days) and her paid one.
MARIA_OVERDUE_TITULO = "TIT-1001"
MARIA_OPEN_TITULO = "TIT-1002"
MARIA_PAID_TITULO = "TIT-1003"
#: The padaria's open título and one overdue by 75 days, too late to re-issue.
PADARIA_OPEN_TITULO = "TIT-2001"
PADARIA_TOO_LATE_TITULO = "TIT-2002"
NOVA_ERA_OPEN_TITULO = "TIT-3001"

MARIA_DELIVERED_ORDER = "PED-5001"
MARIA_SHIPPED_ORDER = "PED-5002"
MARIA_PROCESSING_ORDER = "PED-5003"
#: Older than 60 days: in the history, not among the recent orders.
MARIA_OLD_ORDER = "PED-4990"
PADARIA_ORDER = "PED-5101"
NOVA_ERA_ORDER = "PED-5201"

SHIPPED_CARRIER = "Correios"
SHIPPED_TRACKING_CODE = "BR123456789BR"

#: The demo shop itself, as printed on boletos and PIX charges.
BENEFICIARY_NAME = "Loja Demo Atende Ltda"
BENEFICIARY_CNPJ = "11444777000161"
BENEFICIARY_CITY = "São Paulo"


@dataclass(frozen=True, slots=True)
class _Product:
    sku: str
    name: str
    price_cents: int
    stock: int


PRODUCTS: tuple[_Product, ...] = (
    _Product("CAM-001", "Camiseta Básica Algodão Branca P", 4990, 25),
    _Product("CAM-002", "Camiseta Básica Algodão Preta M", 4990, 18),
    _Product("CAM-003", "Camiseta Estampada Ipê Amarelo G", 5990, 0),
    _Product("CAM-004", "Camisa Polo Piquet Azul-Marinho M", 8990, 7),
    _Product("CAM-005", "Camiseta Dry Fit Corrida Cinza G", 6990, 12),
    _Product("CAL-001", "Calça Jeans Slim Masculina 42", 15990, 9),
    _Product("CAL-002", "Calça Legging Fitness Preta M", 8990, 0),
    _Product("BER-001", "Bermuda Sarja Cáqui 40", 9990, 6),
    _Product("VES-001", "Vestido Midi Floral M", 14990, 4),
    _Product("MOL-001", "Moletom Canguru Mescla G", 17990, 3),
    _Product("JAQ-001", "Jaqueta Corta-Vento Impermeável M", 21990, 2),
    _Product("TEN-001", "Tênis Casual Couro Branco 39", 29990, 5),
    _Product("TEN-002", "Tênis de Corrida Amortecimento 41", 39990, 0),
    _Product("CHI-001", "Chinelo de Dedo Borracha 38", 2990, 60),
    _Product("MEI-001", "Meia Cano Médio (kit com 3 pares)", 3490, 40),
    _Product("BON-001", "Boné Aba Curva Preto", 5990, 14),
    _Product("MOC-001", 'Mochila Executiva para Notebook 15,6"', 24990, 8),
    _Product("MOC-002", "Mochila Escolar Infantil Dinossauro", 13990, 0),
    _Product("BOL-001", "Bolsa Tiracolo Couro Sintético Caramelo", 11990, 6),
    _Product("CAN-001", "Caneca de Cerâmica Café Coado 350 ml", 3990, 30),
    _Product("CAN-002", "Caneca Térmica Inox 500 ml", 8990, 11),
    _Product("GAR-001", "Garrafa Térmica Inox 1 L", 11990, 9),
    _Product("COP-001", "Copo Americano 190 ml (caixa com 6)", 2490, 22),
    _Product("CAF-001", "Café Especial em Grãos Sul de Minas 250 g", 4590, 35),
    _Product("CAF-002", "Café Moído Tradicional 500 g", 2290, 50),
    _Product("CHA-001", "Chá de Hibisco com Canela (20 sachês)", 1890, 16),
    _Product("CAD-001", "Caderno Universitário 10 Matérias", 3290, 45),
    _Product("PEN-001", "Caneta Esferográfica Azul (caixa com 12)", 2590, 70),
    _Product("AGE-001", "Agenda Permanente Capa Dura", 4990, 13),
    _Product("FON-001", "Fone de Ouvido Bluetooth com Cancelamento de Ruído", 19990, 7),
    _Product("CAR-001", "Carregador Turbo USB-C 20 W", 8990, 19),
    _Product("CAB-001", "Cabo USB-C 1 m Revestido em Nylon", 3990, 33),
    _Product("TOA-001", "Toalha de Banho Algodão Egípcio", 7990, 10),
)

#: SKUs the contract tests rely on.
AVAILABLE_SKU = "CAM-001"
OUT_OF_STOCK_SKU = "CAM-003"

_BY_SKU = {product.sku: product for product in PRODUCTS}


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BUSINESS_TZ)


def _order(
    order_id: str,
    customer_id: str,
    created_at: datetime,
    status: str,
    lines: list[tuple[str, int]],
    *,
    carrier: str | None = None,
    tracking_code: str | None = None,
    tracking_url: str | None = None,
    delivered_at: datetime | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    items: list[dict[str, Any]] = [
        {
            "order_id": order_id,
            "line": line,
            "sku": sku,
            "name": _BY_SKU[sku].name,
            "quantity": quantity,
            "unit_price_cents": _BY_SKU[sku].price_cents,
        }
        for line, (sku, quantity) in enumerate(lines, start=1)
    ]
    order: dict[str, Any] = {
        "id": order_id,
        "number": int(order_id.removeprefix("PED-")),
        "customer_id": customer_id,
        "created_at": created_at,
        "status": status,
        "total_cents": sum(item["quantity"] * item["unit_price_cents"] for item in items),
        "carrier": carrier,
        "tracking_code": tracking_code,
        "tracking_url": tracking_url,
        "delivered_at": delivered_at,
        "notes": None,
        "idempotency_key": None,
        "request_fingerprint": None,
    }
    return order, items


def _correios_url(code: str) -> str:
    return f"https://rastreamento.correios.com.br/app/index.php?objeto={code}"


def demo_rows(today: date) -> dict[str, list[dict[str, Any]]]:
    """Every row of the demo by table name, in insertion order (parents before children)."""

    def day(offset: int) -> date:
        return today + timedelta(days=offset)

    customers: list[dict[str, Any]] = [
        {
            "id": MARIA_ID,
            "document": MARIA_CPF,
            "kind": "cpf",
            "name": "Maria Aparecida Souza",
            "phone": MARIA_PHONE,
            "email": "maria.souza@example.com",
            "birth_date": date(1986, 4, 12),
            "cep": "01310100",
        },
        {
            "id": PADARIA_ID,
            "document": PADARIA_CNPJ,
            "kind": "cnpj",
            "name": "Padaria Pão Dourado Ltda",
            "phone": PADARIA_PHONE,
            "email": "financeiro@paodourado.example.com",
            "birth_date": None,
            "cep": "20040002",
        },
        {
            "id": NOVA_ERA_ID,
            "document": NOVA_ERA_CNPJ,
            "kind": "cnpj",
            "name": "Nova Era Tecnologia Ltda",
            "phone": NOVA_ERA_PHONE,
            "email": "compras@novaera.example.com",
            "birth_date": None,
            "cep": "30130010",
        },
    ]
    orders_and_items = [
        _order(
            MARIA_OLD_ORDER,
            MARIA_ID,
            _at(day(-120), 19, 40),
            "delivered",
            [("MOL-001", 1), ("BON-001", 1)],
            carrier=SHIPPED_CARRIER,
            tracking_code="QB112233445BR",
            tracking_url=_correios_url("QB112233445BR"),
            delivered_at=_at(day(-113), 14, 5),
        ),
        _order(
            MARIA_DELIVERED_ORDER,
            MARIA_ID,
            _at(day(-45), 10, 12),
            "delivered",
            [("TEN-001", 1), ("MEI-001", 2)],
            carrier=SHIPPED_CARRIER,
            tracking_code="QB987654321BR",
            tracking_url=_correios_url("QB987654321BR"),
            delivered_at=_at(day(-38), 16, 30),
        ),
        _order(
            MARIA_SHIPPED_ORDER,
            MARIA_ID,
            _at(day(-6), 21, 3),
            "shipped",
            [("VES-001", 1), ("BOL-001", 1)],
            carrier=SHIPPED_CARRIER,
            tracking_code=SHIPPED_TRACKING_CODE,
            tracking_url=_correios_url(SHIPPED_TRACKING_CODE),
        ),
        _order(
            MARIA_PROCESSING_ORDER,
            MARIA_ID,
            _at(day(-1), 8, 47),
            "processing",
            [("CAF-001", 2), ("CAN-002", 1)],
        ),
        _order(
            PADARIA_ORDER,
            PADARIA_ID,
            _at(day(-20), 11, 30),
            "delivered",
            [("COP-001", 10), ("CAF-002", 20)],
            carrier="Jadlog",
            tracking_code="10012345678901",
            tracking_url="https://www.jadlog.com.br/jadlog/tracking?cte=10012345678901",
            delivered_at=_at(day(-15), 9, 50),
        ),
        _order(NOVA_ERA_ORDER, NOVA_ERA_ID, _at(day(-2), 15, 20), "processing", [("FON-001", 3)]),
    ]
    totals = {order["id"]: order["total_cents"] for order, _ in orders_and_items}
    maria_parcel = totals[MARIA_DELIVERED_ORDER] // 2
    titulos: list[dict[str, Any]] = [
        {
            "id": MARIA_OVERDUE_TITULO,
            "customer_id": MARIA_ID,
            "document_number": "NF 004512-1/2",
            "description": f"Pedido {MARIA_DELIVERED_ORDER}, parcela 1 de 2",
            "amount_cents": maria_parcel,
            "due_date": day(-10),
            "paid_on": None,
        },
        {
            "id": MARIA_OPEN_TITULO,
            "customer_id": MARIA_ID,
            "document_number": "NF 004512-2/2",
            "description": f"Pedido {MARIA_DELIVERED_ORDER}, parcela 2 de 2",
            "amount_cents": totals[MARIA_DELIVERED_ORDER] - maria_parcel,
            "due_date": day(15),
            "paid_on": None,
        },
        {
            "id": MARIA_PAID_TITULO,
            "customer_id": MARIA_ID,
            "document_number": "NF 004388-1/1",
            "description": f"Pedido {MARIA_OLD_ORDER}, parcela única",
            "amount_cents": totals[MARIA_OLD_ORDER],
            "due_date": day(-90),
            "paid_on": day(-92),
        },
        {
            "id": PADARIA_OPEN_TITULO,
            "customer_id": PADARIA_ID,
            "document_number": "NF 004530-1/1",
            "description": f"Pedido {PADARIA_ORDER}, parcela única",
            "amount_cents": totals[PADARIA_ORDER],
            "due_date": day(20),
            "paid_on": None,
        },
        {
            "id": PADARIA_TOO_LATE_TITULO,
            "customer_id": PADARIA_ID,
            "document_number": "NF 004201-1/1",
            "description": "Pedido PED-4890, parcela única",
            "amount_cents": 45900,
            "due_date": day(-75),
            "paid_on": None,
        },
        {
            "id": NOVA_ERA_OPEN_TITULO,
            "customer_id": NOVA_ERA_ID,
            "document_number": "NF 004577-1/1",
            "description": f"Pedido {NOVA_ERA_ORDER}, parcela única",
            "amount_cents": totals[NOVA_ERA_ORDER],
            "due_date": day(5),
            "paid_on": None,
        },
    ]
    products = [
        {"sku": p.sku, "name": p.name, "price_cents": p.price_cents, "stock": p.stock}
        for p in PRODUCTS
    ]
    return {
        DemoCustomer.__tablename__: customers,
        DemoProduct.__tablename__: products,
        DemoTitulo.__tablename__: titulos,
        DemoOrder.__tablename__: [order for order, _ in orders_and_items],
        DemoOrderItem.__tablename__: [item for _, items in orders_and_items for item in items],
    }


async def seed_demo_erp(database_url: str, *, today: date) -> None:
    """Create the demo ERP's tables and rows; rows already there are left as they are.

    Row by row ``INSERT … ON CONFLICT DO NOTHING`` in one transaction, so seeding twice (or from
    two processes at once) neither duplicates nor resets anything: stock consumed by demo orders
    stays consumed.
    """
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(DemoBase.metadata.create_all)
            dialect = connection.dialect.name
            for name, rows in demo_rows(today).items():
                table = DemoBase.metadata.tables[name]
                key = [column.name for column in table.primary_key.columns]
                await connection.execute(insert_ignoring_conflicts(dialect, table, key), rows)
    finally:
        await engine.dispose()
