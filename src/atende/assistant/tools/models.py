"""Typed inputs and outputs of the business tools (also the schemas an LLM sees)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IdentifyCustomer(_Model):
    document: str = Field(description="CPF or CNPJ as the customer wrote it")


class Identified(_Model):
    #: No "not found": a document the ERP does not know gets the challenge like any other, so
    #: that nobody can learn who is a customer (``verification``).
    status: Literal["verified", "challenge", "invalid_document", "locked"]
    first_name: str | None = None
    #: pt-BR question to ask when a challenge is needed.
    question: str | None = None
    #: For invalid documents: which check failed (length, check_digits…).
    reason: str | None = None


class AnswerChallenge(_Model):
    answer: str = Field(max_length=100)


class ChallengeResult(_Model):
    status: Literal["verified", "wrong", "locked", "no_challenge"]
    attempts_left: int = 0


class TituloView(_Model):
    id: str
    description: str
    amount_cents: int
    due_date: date
    status: Literal["open", "overdue", "paid"]
    days_overdue: int


class OpenTitulos(_Model):
    titulos: list[TituloView]


class RequestSecondCopy(_Model):
    titulo_id: str = Field(max_length=64)


class SecondCopyView(_Model):
    titulo_id: str
    amount_cents: int
    due_date: date
    linha_digitavel: str
    pdf_url: str | None
    pix_copia_e_cola: str | None
    reissued: bool


class OrderView(_Model):
    id: str
    #: The order's number as the store shows it to customers: the one to tell them.
    number: str | None = None
    status: Literal["processing", "shipped", "delivered", "cancelled"]
    total_cents: int
    items: list[str]
    carrier: str | None = None
    tracking_code: str | None = None
    tracking_url: str | None = None


class RecentOrders(_Model):
    days: int = Field(default=60, ge=1, le=365)


class OrderList(_Model):
    orders: list[OrderView]


class OrderQuery(_Model):
    order_id: str | None = Field(default=None, max_length=64, description="None: the latest")


class StockQuery(_Model):
    sku: str | None = Field(default=None, max_length=40)
    query: str | None = Field(default=None, max_length=100)


class ProductView(_Model):
    sku: str
    name: str
    price_cents: int
    available: bool
    stock: int


class StockResult(_Model):
    products: list[ProductView]


class OrderLine(_Model):
    sku: str = Field(max_length=40)
    quantity: int = Field(gt=0, le=1000)


class PrepareOrder(_Model):
    items: list[OrderLine] = Field(min_length=1, max_length=20)


class OrderSummary(_Model):
    summary_id: str
    lines: list[str]
    total_cents: int


class ConfirmOrder(_Model):
    summary_id: str


class OrderPlaced(_Model):
    order_id: str
    status: Literal["created", "pending"]
    total_cents: int
    message: str
