"""The business tools as an LLM sees them: JSON schemas from the same Pydantic models, and the
subset each specialist may call.

Nothing here decides who may see what: every call goes through :class:`BusinessTools`, which
checks the conversation's verification itself. A prompt can only choose among these functions;
it cannot widen what they do.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from atende.assistant.tools.core import BusinessTools
from atende.assistant.tools.models import (
    AnswerChallenge,
    ConfirmOrder,
    IdentifyCustomer,
    OrderQuery,
    PrepareOrder,
    RecentOrders,
    RequestSecondCopy,
    StockQuery,
)


class NoArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HandoffArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=200, description="Por que um humano deve assumir")


class FaqArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=300, description="A pergunta do cliente, em português")


Runner = Callable[[BusinessTools, Any], Awaitable[BaseModel]]


@dataclass(frozen=True, slots=True)
class AgentTool:
    name: str
    description: str
    args: type[BaseModel]
    #: None for the tools the engine handles itself (handoff, FAQ).
    run: Runner | None = None

    def schema(self) -> dict[str, Any]:
        parameters = self.args.model_json_schema()
        parameters.pop("title", None)
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters,
            },
        }


TOOLS: Mapping[str, AgentTool] = {
    tool.name: tool
    for tool in (
        AgentTool(
            "identify_customer",
            "Identifica o cliente pelo CPF ou CNPJ. Responde verified, challenge (faça a "
            "pergunta de segurança devolvida), invalid_document ou locked.",
            IdentifyCustomer,
            lambda tools, args: tools.identify_customer(args),
        ),
        AgentTool(
            "answer_challenge",
            "Confere a resposta do cliente à pergunta de segurança (data de nascimento ou CEP).",
            AnswerChallenge,
            lambda tools, args: tools.answer_challenge(args),
        ),
        AgentTool(
            "list_open_titulos",
            "Lista os boletos (títulos) em aberto do cliente identificado.",
            NoArguments,
            lambda tools, _args: tools.open_titulos(),
        ),
        AgentTool(
            "boleto_second_copy",
            "Emite a 2ª via de um boleto: linha digitável e PIX copia e cola para a sua "
            "resposta. O PDF vai ao cliente como documento do WhatsApp logo depois da sua "
            "resposta: não copie o link.",
            RequestSecondCopy,
            lambda tools, args: tools.second_copy(args),
        ),
        AgentTool(
            "recent_orders",
            "Pedidos recentes do cliente identificado.",
            RecentOrders,
            lambda tools, args: tools.recent_orders(args),
        ),
        AgentTool(
            "order_status",
            "Situação de um pedido (sem order_id: o mais recente).",
            OrderQuery,
            lambda tools, args: tools.order_status(args),
        ),
        AgentTool(
            "delivery_tracking",
            "Rastreio da entrega de um pedido (sem order_id: o mais recente com rastreio).",
            OrderQuery,
            lambda tools, args: tools.delivery_tracking(args),
        ),
        AgentTool(
            "stock_and_price",
            "Preço e estoque de um produto, por código (sku) ou por nome (query).",
            StockQuery,
            lambda tools, args: tools.stock(args),
        ),
        AgentTool(
            "prepare_order",
            "Monta o resumo de um pedido novo (itens e total) para o cliente confirmar.",
            PrepareOrder,
            lambda tools, args: tools.prepare_order(args),
        ),
        AgentTool(
            "confirm_order",
            "Registra o pedido resumido antes, SOMENTE depois que o cliente confirmou o resumo.",
            ConfirmOrder,
            lambda tools, args: tools.confirm_order(args),
        ),
        AgentTool(
            "answer_faq",
            "Busca a resposta nas perguntas frequentes da empresa (horários, entrega, trocas…).",
            FaqArgs,
        ),
        AgentTool(
            "handoff_to_human",
            "Transfere a conversa para um atendente humano.",
            HandoffArgs,
        ),
    )
}

_IDENTITY = ("identify_customer", "answer_challenge")

#: Each specialist's tools: the smallest set its job needs.
SPECIALISTS: Mapping[str, tuple[str, ...]] = {
    "finance": (*_IDENTITY, "list_open_titulos", "boleto_second_copy", "handoff_to_human"),
    "orders": (
        *_IDENTITY,
        "recent_orders",
        "order_status",
        "delivery_tracking",
        "handoff_to_human",
    ),
    "sales": (*_IDENTITY, "stock_and_price", "prepare_order", "confirm_order", "handoff_to_human"),
    "general": ("answer_faq", "handoff_to_human"),
    # When the classifier is unsure what a message is about: every tool, so that a request
    # buried in a long message is still served (the tools still check who may see what).
    "concierge": tuple(TOOLS),
}


@functools.cache
def schemas(specialist: str) -> list[dict[str, Any]]:
    """The specialist's tool schemas, built once per process (Pydantic's JSON schema generation
    costs about a millisecond a turn otherwise). Shared: never mutate the result."""
    return [TOOLS[name].schema() for name in SPECIALISTS[specialist]]
