"""Tables of the embedded demo ERP.

They live in the demo ERP's own database file and their own metadata, not in Atende's: the demo
plays the part of the business's system, which Atende never migrates. ``create_all`` builds them on
first use, so the schema may only grow by new tables while demo files exist in the wild.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from atende.kit.db import NAMING, UtcDateTime


class DemoBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DemoCustomer(DemoBase):
    __tablename__ = "demo_customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    document: Mapped[str] = mapped_column(String(14), unique=True)
    kind: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    cep: Mapped[str | None] = mapped_column(String(8))


class DemoProduct(DemoBase):
    __tablename__ = "demo_products"

    sku: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)


class DemoTitulo(DemoBase):
    __tablename__ = "demo_titulos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("demo_customers.id"), index=True)
    document_number: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    paid_on: Mapped[date | None] = mapped_column(Date)


class DemoOrder(DemoBase):
    __tablename__ = "demo_orders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The numeric part of the id, so the next order number is a MAX() and not a string sort.
    number: Mapped[int] = mapped_column(Integer, unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("demo_customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))
    total_cents: Mapped[int] = mapped_column(Integer)
    carrier: Mapped[str | None] = mapped_column(String(60))
    tracking_code: Mapped[str | None] = mapped_column(String(40))
    tracking_url: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    notes: Mapped[str | None] = mapped_column(Text)
    # Unique: the database, not a read-then-write check, guarantees one order per key.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))

    items: Mapped[list[DemoOrderItem]] = relationship(
        order_by="DemoOrderItem.line", lazy="raise", cascade="all, delete-orphan"
    )


class DemoOrderItem(DemoBase):
    __tablename__ = "demo_order_items"

    order_id: Mapped[str] = mapped_column(ForeignKey("demo_orders.id"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)
