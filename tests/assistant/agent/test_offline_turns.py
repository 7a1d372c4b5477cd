"""The agent and the turns the offline engine answers for it (a fallback, an opt-out, a
cancellation): what was said there is in the model's history, and a cancellation does what the
offline engine does (the flow's slots cleared; no tool cancels an order, so a person is
offered), whatever the model would have said."""

from __future__ import annotations

import json
from typing import Any

from atende.assistant.agent.engine import history_text
from atende.channels.types import ListContent, ListRow, ListSection, MediaContent
from atende.devtools.fake_llm import ChatRequest, Step, ToolCall
from tests.assistant.agent.support import Chat, World, records

MARIA = "529.982.247-25"


def conversation(request: ChatRequest) -> list[tuple[str, str]]:
    """The request's messages after the system prompt, as (role, content)."""
    return [
        (str(m.get("role")), str(m.get("content") or ""))
        for m in request.messages
        if m.get("role") != "system"
    ]


def tool_result(request: ChatRequest) -> dict[str, Any]:
    last = request.last_message or {}
    assert last.get("role") == "tool"
    result: dict[str, Any] = json.loads(str(last["content"]))
    return result


async def test_that_turns_the_offline_engine_answered_are_in_the_models_history(
    world: World,
) -> None:
    chat = Chat(world, phone="+55 31 90000-0101")
    # The provider down for the whole turn: the offline engine greets.
    for _ in range(3):
        world.llm.fail(500)
    greeting = await chat.say("oi")
    # A cancellation: handed to the offline engine by design.
    cancel = await chat.say("quero cancelar meu pedido")
    world.llm.reply("Por nada!")
    await chat.say("obrigado")

    failed, handed_over, answered = await records(world.container)
    assert (failed.engine, handed_over.engine, answered.engine) == ("offline", "offline", "llm")
    assert handed_over.fallback_reason == "cancellation"
    assert conversation(world.llm.chat_requests[-1]) == [
        ("user", "oi"),
        ("assistant", greeting),
        ("user", "quero cancelar meu pedido"),
        ("assistant", cancel.replace("\n", "\n\n")),
        ("user", "obrigado"),
    ]


async def test_that_a_list_the_offline_engine_offered_reaches_the_model_with_its_options(
    world: World,
) -> None:
    chat = Chat(world)
    for _ in range(3):
        world.llm.fail(500)
    await chat.say(f"quero a 2a via do boleto, cpf {MARIA}")
    world.llm.reply("Qual deles?")
    await chat.say("o que venceu")

    history = conversation(world.llm.chat_requests[-1])
    assert [role for role, _ in history] == ["user", "assistant", "user"]
    # The boletos the customer is choosing among; the CPF only as its placeholder.
    assert "1. R$ 184,85, venceu em" in history[1][1]
    assert "2. R$ 184,85, vence em" in history[1][1]
    assert history[0][1] == "quero a 2a via do boleto, cpf [CPF_1]"
    # With it, "o que venceu" is a pick among options: the concierge, with every tool, answers.
    (*_, record) = await records(world.container)
    assert record.specialist == "concierge"


def test_that_a_whatsapp_list_reads_as_numbered_options_with_their_ids() -> None:
    rows = (
        ListRow("TIT-1001", "R$ 184,85", "R$ 184,85, venceu em 27/11/2026"),
        ListRow("TIT-1002", "R$ 184,85", "R$ 184,85, vence em 22/12/2026"),
    )
    content = ListContent("De qual quer a 2ª via?", "Ver boletos", (ListSection(None, rows),))

    assert history_text(content) == (
        "De qual quer a 2ª via?\n"
        "1. R$ 184,85 — R$ 184,85, venceu em 27/11/2026 (TIT-1001)\n"
        "2. R$ 184,85 — R$ 184,85, vence em 22/12/2026 (TIT-1002)"
    )
    document = MediaContent("document", link="https://x/y", filename="boleto-TIT-1001.pdf")
    assert history_text(document) == "[documento enviado: boleto-TIT-1001.pdf]"


async def test_that_cancelling_drops_the_order_summary_so_a_later_yes_orders_nothing(
    world: World,
) -> None:
    summaries: list[str] = []

    def model(request: ChatRequest) -> Step:
        last = request.last_message or {}
        if last.get("role") == "tool":
            result = tool_result(request)
            if result.get("status") == "verified":
                return Step.tools(
                    ToolCall("prepare_order", {"items": [{"sku": "CAM-001", "quantity": 2}]})
                )
            if "summary_id" in result:
                summaries.append(str(result["summary_id"]))
                return Step.reply("Resumo do pedido:\n" + "\n".join(result["lines"]))
            return Step.reply(str(result.get("message") or result.get("order_id")))
        text = request.last_user_text
        if "comprar" in text:
            return Step.tools(ToolCall("identify_customer", {"document": "[CPF_1]"}))
        if text == "sim" and summaries:
            # A model that takes any "sim" as the confirmation of the last summary it showed.
            return Step.tools(ToolCall("confirm_order", {"summary_id": summaries[-1]}))
        return Step.reply("Tudo bem, cancelei.")

    world.llm.responder = model
    chat = Chat(world)
    summary = await chat.say(f"quero comprar 2 CAM-001, cpf {MARIA}")
    assert "2x Camiseta" in summary
    cancelled = await chat.say("esquece")
    answer = await chat.say("sim")

    assert "cancelei" in cancelled
    calls = [call for record in await records(world.container) for call in record.tool_calls]
    confirms = [call for call in calls if call["name"] == "confirm_order"]
    assert [(call["ok"], call["summary"]) for call in confirms] == [(False, "no_summary")]
    assert "PED-" not in answer


async def test_that_asking_to_cancel_an_order_is_not_read_as_a_new_order(world: World) -> None:
    world.llm.reply("Claro! Qual produto e quantas unidades você quer?")

    answer = await Chat(world).say("quero cancelar meu pedido")

    # The offline engine's honest answer: no tool cancels an order; a person can.
    assert "Cancelar um pedido eu não consigo por aqui" in answer
    assert "atendente" in answer
    assert "Qual produto" not in answer
    (record,) = await records(world.container)
    assert (record.engine, record.fallback_reason) == ("offline", "cancellation")
    assert world.llm.chat_requests == []
