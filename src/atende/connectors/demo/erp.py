"""The embedded demo ERP: an :class:`ErpConnector` over its own SQLite (or PostgreSQL) database.

It stands in for the business's system in demos and tests, so it behaves like one: it owns its
data, applies its own billing rules (see :mod:`atende.connectors.demo.billing`) and reserves stock
when an order is placed. Seed it with :func:`atende.connectors.demo.seed.seed_demo_erp`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from unidecode import unidecode

from atende.brazil.boleto import Boleto
from atende.brazil.documents import check_document
from atende.brazil.money import format_brl
from atende.connectors.demo.billing import BANK_CODE, charge_for, free_field
from atende.connectors.demo.models import (
    DemoBase,
    DemoCustomer,
    DemoOrder,
    DemoOrderItem,
    DemoProduct,
    DemoTitulo,
)
from atende.connectors.demo.pix import pix_copia_e_cola
from atende.connectors.demo.seed import (
    BENEFICIARY_CITY,
    BENEFICIARY_CNPJ,
    BENEFICIARY_NAME,
    BUSINESS_TZ,
)
from atende.connectors.order_numbers import names_order, parse_order_number
from atende.connectors.port import (
    ConnectorError,
    ConnectorUnavailable,
    Customer,
    InvalidRequest,
    NotFound,
    Order,
    OrderItem,
    OrderReceipt,
    OrderRequest,
    OrderStatus,
    Product,
    Refused,
    SecondCopy,
    Titulo,
)
from atende.kit.clock import utcnow
from atende.kit.db import create_engine, session_factory

_MAX_KEY_LENGTH = 200
_MAX_SEARCH_LIMIT = 100
_PLACE_ATTEMPTS = 3
_ORDER_STATUS: dict[str, OrderStatus] = {
    "processing": "processing",
    "shipped": "shipped",
    "delivered": "delivered",
    "cancelled": "cancelled",
}


def demo_database_url(var_dir: Path) -> str:
    """The demo ERP's own SQLite file, next to (never inside) Atende's database."""
    return f"sqlite+aiosqlite:///{var_dir / 'demo_erp.db'}"


def business_today() -> date:
    """Today in the demo shop's calendar (São Paulo), not the server's."""
    return datetime.now(BUSINESS_TZ).date()


def _fold(text: str) -> str:
    return unidecode(text).casefold()


def _search_terms(query: str) -> list[str]:
    # A crude plural strip ("camisetas" → "camiseta"): matching is by substring, so a term that
    # lost a meaningful "s" ("tenis" → "teni") still matches.
    return [term[:-1] if len(term) > 3 and term.endswith("s") else term for term in query.split()]


#: The largest value the order number column holds (a 32-bit integer on PostgreSQL).
_MAX_ORDER_NUMBER = 2**31 - 1


class DemoErp:
    """The demo shop's ERP. One instance per database; call :meth:`aclose` when done."""

    name = "demo"

    def __init__(self, database_url: str, *, today: Callable[[], date] | None = None) -> None:
        self._engine = create_engine(database_url)
        self._sessions = session_factory(self._engine)
        self._today = today or business_today
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._engine.dispose()

    async def find_customer(self, document: str) -> Customer:
        async with self._session() as session:
            row = await self._customer(session, document)
        return _customer(row)

    async def open_titulos(self, document: str) -> list[Titulo]:
        today = self._today()
        async with self._session() as session:
            customer = await self._customer(session, document)
            rows = await session.scalars(
                select(DemoTitulo)
                .where(DemoTitulo.customer_id == customer.id, DemoTitulo.paid_on.is_(None))
                .order_by(DemoTitulo.due_date, DemoTitulo.id)
            )
            return [_titulo(row, today) for row in rows]

    async def second_copy(self, document: str, titulo_id: str) -> SecondCopy:
        async with self._session() as session:
            customer = await self._customer(session, document)
            row = await session.scalar(
                select(DemoTitulo).where(
                    DemoTitulo.id == titulo_id.strip().upper(),
                    DemoTitulo.customer_id == customer.id,
                )
            )
        if row is None:
            raise NotFound("Título não encontrado.")
        copy, _ = self._second_copy(row)
        return copy

    async def render_pdf(self, titulo_id: str) -> bytes:
        """The boleto PDF of a título's second copy, as :meth:`second_copy` describes it today.

        No document is asked for: the sealed link that ``atende.business.links`` hands out
        decides who may fetch it. The payer's document is masked on the PDF, since it travels
        over chat.
        """
        # Imported here: reportlab is heavy and only this method needs it.
        from atende.brazil.boleto_pdf import render_boleto_pdf

        async with self._session() as session:
            row = await session.scalar(
                select(DemoTitulo).where(DemoTitulo.id == titulo_id.strip().upper())
            )
            if row is None:
                raise NotFound("Título não encontrado.")
            customer = await session.get_one(DemoCustomer, row.customer_id)
        copy, boleto = self._second_copy(row)
        if copy.reissued:
            instructions = [
                f"Boleto reemitido em {self._today():%d/%m/%Y}. Valor original "
                f"{format_brl(row.amount_cents)}, multa {format_brl(copy.fine_cents)} e juros "
                f"{format_brl(copy.interest_cents)} já incluídos.",
                "Não receber após o vencimento.",
            ]
        else:
            instructions = [
                "Após o vencimento, cobrar multa de 2% e juros de 1% ao mês pro rata die.",
                "Pagável em qualquer banco até o vencimento.",
            ]
        return render_boleto_pdf(
            boleto,
            beneficiary=BENEFICIARY_NAME,
            beneficiary_document=BENEFICIARY_CNPJ,
            payer=customer.name,
            payer_document=customer.document,
            document_number=row.document_number,
            instructions=instructions,
            pix_copia_e_cola=copy.pix_copia_e_cola,
        )

    async def recent_orders(self, document: str, days: int = 60) -> list[Order]:
        if days < 1:
            raise InvalidRequest("O período deve ser de pelo menos 1 dia.")
        since = datetime.combine(self._today() - timedelta(days=days), time.min, BUSINESS_TZ)
        async with self._session() as session:
            customer = await self._customer(session, document)
            rows = await session.scalars(
                select(DemoOrder)
                .where(DemoOrder.customer_id == customer.id, DemoOrder.created_at >= since)
                .options(selectinload(DemoOrder.items))
                .order_by(DemoOrder.created_at.desc(), DemoOrder.id.desc())
            )
            return [_order(row) for row in rows]

    async def get_order(self, document: str, order_id: str) -> Order:
        written = parse_order_number(order_id)
        if written is None or not written.groups or written.groups[-1] > _MAX_ORDER_NUMBER:
            raise NotFound("Pedido não encontrado.")
        async with self._session() as session:
            customer = await self._customer(session, document)
            # Ids are "PED-" and the number: the number finds the row, the shared rule decides
            # whether what the customer wrote names it ("5001", "#5001", "ped5001"...).
            row = await session.scalar(
                select(DemoOrder)
                .where(
                    DemoOrder.number == written.groups[-1],
                    DemoOrder.customer_id == customer.id,
                )
                .options(selectinload(DemoOrder.items))
            )
            if row is None or not names_order(order_id, row.id):
                raise NotFound("Pedido não encontrado.")
            return _order(row)

    async def get_product(self, sku: str) -> Product:
        async with self._session() as session:
            row = await session.get(DemoProduct, sku.strip().upper())
        if row is None:
            raise NotFound("Produto não encontrado.")
        return _product(row)

    async def search_products(self, query: str, limit: int = 10) -> list[Product]:
        """Every word of ``query`` must appear in the name or SKU, ignoring case and accents.

        Available products come first. The catalogue is small, so matching happens here rather
        than in SQL, where accent folding differs between SQLite and PostgreSQL.
        """
        if not 1 <= limit <= _MAX_SEARCH_LIMIT:
            raise InvalidRequest(f"O limite deve estar entre 1 e {_MAX_SEARCH_LIMIT}.")
        terms = _search_terms(_fold(query))
        if not terms:
            return []
        async with self._session() as session:
            rows = list(await session.scalars(select(DemoProduct)))
        found = [
            row for row in rows if all(term in _fold(f"{row.name} {row.sku}") for term in terms)
        ]
        found.sort(key=lambda row: (row.stock <= 0, _fold(row.name)))
        return [_product(row) for row in found[:limit]]

    async def place_order(self, request: OrderRequest, idempotency_key: str) -> OrderReceipt:
        key = idempotency_key.strip()
        if not key or len(key) > _MAX_KEY_LENGTH:
            raise InvalidRequest("Chave de idempotência inválida.")
        document = _normalize_document(request.document)
        lines: dict[str, int] = {}
        for item in request.items:
            sku = item.sku.strip().upper()
            lines[sku] = lines.get(sku, 0) + item.quantity
        fingerprint = hashlib.sha256(
            json.dumps(
                {"document": document, "items": sorted(lines.items()), "notes": request.notes}
            ).encode()
        ).hexdigest()
        for _ in range(_PLACE_ATTEMPTS):
            try:
                return await self._place_order(document, lines, request.notes, key, fingerprint)
            except IntegrityError:
                # Either a call with the same key committed first (its order is this call's
                # answer) or one with another key took the same order number (try again).
                async with self._session() as session:
                    replay = await self._replay(session, key, fingerprint)
                if replay is not None:
                    return replay
        raise ConnectorUnavailable("could not allocate an order number")

    async def _place_order(
        self,
        document: str,
        lines: dict[str, int],
        notes: str | None,
        key: str,
        fingerprint: str,
    ) -> OrderReceipt:
        async with self._session() as session, session.begin():
            replay = await self._replay(session, key, fingerprint)
            if replay is not None:
                return replay
            customer = await self._customer(session, document)
            products = {
                row.sku: row
                for row in await session.scalars(
                    select(DemoProduct).where(DemoProduct.sku.in_(lines))
                )
            }
            items: list[DemoOrderItem] = []
            for number, (sku, quantity) in enumerate(lines.items(), start=1):
                product = products.get(sku)
                if product is None:
                    raise InvalidRequest(f"Produto {sku} não encontrado.")
                # A conditional decrement, so two orders racing for the last units cannot both
                # win: the loser's UPDATE matches no row (PostgreSQL re-checks it after the lock).
                left = await session.scalar(
                    update(DemoProduct)
                    .where(DemoProduct.sku == sku, DemoProduct.stock >= quantity)
                    .values(stock=DemoProduct.stock - quantity)
                    .returning(DemoProduct.stock)
                )
                if left is None:
                    raise Refused(_not_enough(product))
                items.append(
                    DemoOrderItem(
                        line=number,
                        sku=sku,
                        name=product.name,
                        quantity=quantity,
                        unit_price_cents=product.price_cents,
                    )
                )
            last = await session.scalar(select(func.max(DemoOrder.number)))
            number = (last or 5000) + 1
            order = DemoOrder(
                id=f"PED-{number}",
                number=number,
                customer_id=customer.id,
                created_at=utcnow(),
                status="processing",
                total_cents=sum(item.quantity * item.unit_price_cents for item in items),
                notes=notes,
                idempotency_key=key,
                request_fingerprint=fingerprint,
                items=items,
            )
            session.add(order)
        return _receipt(order)

    async def _replay(
        self, session: AsyncSession, key: str, fingerprint: str
    ) -> OrderReceipt | None:
        order = await session.scalar(select(DemoOrder).where(DemoOrder.idempotency_key == key))
        if order is None:
            return None
        if order.request_fingerprint != fingerprint:
            raise InvalidRequest("Esta chave de idempotência já foi usada para outro pedido.")
        return _receipt(order)

    async def _create_schema(self) -> None:
        async with self._schema_lock:
            if not self._schema_ready:
                async with self._engine.begin() as connection:
                    await connection.run_sync(DemoBase.metadata.create_all)
                self._schema_ready = True

    def _second_copy(self, row: DemoTitulo) -> tuple[SecondCopy, Boleto]:
        charge = charge_for(
            row.amount_cents, row.due_date, paid=row.paid_on is not None, today=self._today()
        )
        boleto = Boleto(
            bank_code=BANK_CODE,
            due_date=charge.due_date,
            amount_cents=charge.amount_cents,
            free_field=free_field(row.id),
        )
        copy = SecondCopy(
            titulo_id=row.id,
            amount_cents=charge.amount_cents,
            due_date=charge.due_date,
            linha_digitavel=boleto.linha_digitavel,
            barcode=boleto.barcode,
            # No URL of our own: the PDF is rendered here (render_pdf), and the link customers
            # get is sealed under ATENDE_PUBLIC_URL by atende.business.links.
            pdf_url=None,
            pix_copia_e_cola=pix_copia_e_cola(
                key=BENEFICIARY_CNPJ,
                amount_cents=charge.amount_cents,
                merchant_name=BENEFICIARY_NAME,
                merchant_city=BENEFICIARY_CITY,
                txid=row.id,
            ),
            reissued=charge.reissued,
            fine_cents=charge.fine_cents,
            interest_cents=charge.interest_cents,
        )
        return copy, boleto

    async def _customer(self, session: AsyncSession, document: str) -> DemoCustomer:
        row = await session.scalar(
            select(DemoCustomer).where(DemoCustomer.document == _normalize_document(document))
        )
        if row is None:
            raise NotFound("Cliente não encontrado.")
        return row

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        try:
            if not self._schema_ready:
                await self._create_schema()
            async with self._sessions() as session:
                yield session
        except OperationalError as exc:
            # Locked or unreachable database: transient, like an ERP's 503.
            raise ConnectorUnavailable("demo database unavailable") from exc


def _normalize_document(text: str) -> str:
    check = check_document(text)
    if not check.valid or check.value is None:
        raise InvalidRequest(check.message or "Documento inválido.")
    return check.value


def _not_enough(product: DemoProduct) -> str:
    if product.stock <= 0:
        return f"{product.name} está esgotado no momento."
    unit = "unidade" if product.stock == 1 else "unidades"
    return f"Temos apenas {product.stock} {unit} de {product.name} em estoque."


def _customer(row: DemoCustomer) -> Customer:
    return Customer(
        id=row.id,
        document=row.document,
        kind="cpf" if row.kind == "cpf" else "cnpj",
        name=row.name,
        phone=row.phone,
        email=row.email,
        birth_date=row.birth_date,
        cep=row.cep,
    )


def _titulo(row: DemoTitulo, today: date) -> Titulo:
    days_overdue = max(0, (today - row.due_date).days)
    return Titulo(
        id=row.id,
        document_number=row.document_number,
        description=row.description,
        amount_cents=row.amount_cents,
        due_date=row.due_date,
        status="paid" if row.paid_on is not None else "overdue" if days_overdue else "open",
        days_overdue=0 if row.paid_on is not None else days_overdue,
    )


def _order(row: DemoOrder) -> Order:
    status = _ORDER_STATUS.get(row.status)
    if status is None:
        raise ConnectorError(f"unknown order status {row.status!r} in the demo database")
    return Order(
        id=row.id,
        created_at=row.created_at,
        status=status,
        items=[
            OrderItem(
                sku=item.sku,
                name=item.name,
                quantity=item.quantity,
                unit_price_cents=item.unit_price_cents,
            )
            for item in row.items
        ],
        total_cents=row.total_cents,
        carrier=row.carrier,
        tracking_code=row.tracking_code,
        tracking_url=row.tracking_url,
        delivered_at=row.delivered_at,
    )


def _product(row: DemoProduct) -> Product:
    return Product(
        sku=row.sku,
        name=row.name,
        price_cents=row.price_cents,
        stock=max(0, row.stock),
        available=row.stock > 0,
    )


def _receipt(order: DemoOrder) -> OrderReceipt:
    return OrderReceipt(
        order_id=order.id,
        status="created",
        total_cents=order.total_cents,
        message=f"Pedido {order.id} registrado. Total: {format_brl(order.total_cents)}.",
    )
