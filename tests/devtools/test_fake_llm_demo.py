"""The fake's demo stand-in, request by request: what it calls and says given the conversation,
the tools' results and the system prompt the agent sends. (Whole conversations through the agent
are `tests/assistant/agent/test_agent_scenarios.py`.)"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from atende.assistant.agent.engine import MAX_ANSWER_CHARS
from atende.assistant.agent.prompts import system_prompt
from atende.assistant.agent.toolbox import schemas
from atende.devtools.fake_llm import ChatRequest, Step, demo_responder

TITULOS = {
    "titulos": [
        {
            "id": "TIT-1001",
            "description": "Pedido 4410",
            "amount_cents": 18485,
            "due_date": "2026-11-10",
            "status": "overdue",
            "days_overdue": 27,
        },
        {
            "id": "TIT-1002",
            "description": "Pedido 4411",
            "amount_cents": 18935,
            "due_date": "2026-12-20",
            "status": "open",
            "days_overdue": 0,
        },
    ]
}
COPY = {
    "titulo_id": "TIT-1002",
    "amount_cents": 18935,
    "due_date": "2026-12-20",
    "linha_digitavel": "34191790010104351004791020150008196610000018935",
    "pdf_url": "https://loja.example/boletos/TIT-1002.pdf?sig=abc",
    "pix_copia_e_cola": "00020126580014br.gov.bcb.pix0136chave5204000053039865802BR6304ABCD",
    "reissued": False,
}
CAMISETA = {"sku": "CAM-001", "name": "Camiseta", "price_cents": 4990, "available": True}


def request(
    *turns: str,
    calls: tuple[tuple[str, dict[str, Any], dict[str, Any]], ...] = (),
    specialist: str = "concierge",
    verified: bool = False,
    summary: str = "",
) -> ChatRequest:
    """What the agent sends: the system prompt with the profile, the history (customer and
    assistant alternating, the customer's last) and this turn's tool calls and results."""
    system = system_prompt(specialist, assistant="Ana", business="Loja Demo", today="07/12/2026")
    profile = "identificado nesta sessão" if verified else "ainda não identificado"
    system += f"\nCliente: Maria, {profile}, canal sandbox."
    if summary:
        system += f"\nResumo da conversa até aqui: {summary}"
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for index, text in enumerate(turns):
        role = "assistant" if index % 2 else "user"
        messages.append({"role": role, "content": text})
    for number, (name, arguments, result) in enumerate(calls):
        call_id = f"call_{number}"
        function = {"name": name, "arguments": json.dumps(arguments)}
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": call_id, "type": "function", "function": function}],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)})
    body = {"model": "gpt-4o-mini", "messages": messages, "tools": schemas(specialist)}
    return ChatRequest(body, {}, 0.0)


def calls_of(step: Step) -> list[tuple[str, Any]]:
    assert step.text is None, step.text
    return [(call.name, call.arguments) for call in step.tool_calls]


def text_of(step: Step) -> str:
    assert not step.tool_calls, step.tool_calls
    assert step.text is not None
    return step.text


def test_that_it_asks_for_the_document_before_personal_data_and_greets_back() -> None:
    answer = text_of(demo_responder(request("oi, boa tarde! quero a 2a via do boleto")))

    assert answer.startswith("Olá!")
    assert "*CPF ou CNPJ*" in answer


def test_that_a_document_identifies_the_customer_with_its_placeholder() -> None:
    step = demo_responder(request("2a via", "Me informe o CPF ou CNPJ.", "meu cpf é [CPF_1]"))

    assert calls_of(step) == [("identify_customer", {"document": "[CPF_1]"})]


def test_that_once_identified_it_serves_the_earlier_request() -> None:
    identified = ("identify_customer", {"document": "[CPF_1]"}, {"status": "verified"})
    turns = ("preciso da 2a via do boleto", "Qual o seu CPF ou CNPJ?", "[CPF_1]")

    step = demo_responder(request(*turns, calls=(identified,)))

    assert calls_of(step) == [("list_open_titulos", {})]


def test_that_the_boletos_are_offered_numbered_with_their_ids() -> None:
    listed = ("list_open_titulos", {}, TITULOS)

    answer = text_of(demo_responder(request("quero a 2a via", verified=True, calls=(listed,))))

    assert answer.startswith("Você tem 2 boletos em aberto (total de *R$ 374,20*)")
    assert "1. R$ 184,85, venceu em 10/11/2026 (27 dias) (TIT-1001)" in answer
    assert "2. R$ 189,35, vence em 20/12/2026 (TIT-1002)" in answer


def test_that_a_single_boleto_goes_straight_to_its_second_copy() -> None:
    one = {"titulos": TITULOS["titulos"][:1]}

    step = demo_responder(
        request("quero a 2a via", verified=True, calls=(("list_open_titulos", {}, one),))
    )

    assert calls_of(step) == [("boleto_second_copy", {"titulo_id": "TIT-1001"})]


@pytest.mark.parametrize(
    ("choice", "titulo"),
    [
        ("2", "TIT-1002"),
        ("o 1", "TIT-1001"),
        ("a segunda", "TIT-1002"),
        ("o primeiro", "TIT-1001"),
        ("o de 189,35", "TIT-1002"),
        ("o que venceu", "TIT-1001"),
        ("o último", "TIT-1002"),
        ("TIT-1001", "TIT-1001"),
    ],
)
def test_that_the_customer_picks_a_boleto_by_number_or_words(choice: str, titulo: str) -> None:
    listed = text_of(
        demo_responder(
            request("quero a 2a via", verified=True, calls=(("list_open_titulos", {}, TITULOS),))
        )
    )

    step = demo_responder(request("quero a 2a via", listed, choice, verified=True))

    assert calls_of(step) == [("boleto_second_copy", {"titulo_id": titulo})]


def test_that_the_second_copy_sends_the_linha_and_pix_each_in_its_paragraph() -> None:
    copied = ("boleto_second_copy", {"titulo_id": "TIT-1002"}, COPY)

    answer = text_of(demo_responder(request("2", verified=True, calls=(copied,))))

    paragraphs = answer.split("\n\n")
    assert paragraphs[0].startswith("Aqui está a 2ª via do seu boleto de *R$ 189,35*")
    assert "A linha digitável vai na próxima mensagem" in paragraphs[0]
    assert paragraphs[1] == COPY["linha_digitavel"]
    assert "PIX" in paragraphs[2]
    assert paragraphs[3] == COPY["pix_copia_e_cola"]
    # The PDF is the agent's document message, not a link in the text.
    assert str(COPY["pdf_url"]) not in answer


def test_that_the_security_question_is_asked_and_the_answer_checked() -> None:
    question = "Para sua segurança, qual é a sua data de nascimento (dd/mm/aaaa)?"
    challenged = (
        "identify_customer",
        {"document": "[CPF_1]"},
        {"status": "challenge", "question": question},
    )
    asked = text_of(demo_responder(request("2a via, cpf [CPF_1]", calls=(challenged,))))

    step = demo_responder(request("2a via, cpf [CPF_1]", asked, "12/04/1986"))
    wrong = ("answer_challenge", {"answer": "01/01/1990"}, {"status": "wrong", "attempts_left": 1})
    retry = text_of(demo_responder(request("2a via", asked, "01/01/1990", calls=(wrong,))))

    assert asked == question
    assert calls_of(step) == [("answer_challenge", {"answer": "12/04/1986"})]
    assert retry.startswith("Não confere com o cadastro.")
    assert retry.endswith("Resta 1 tentativa.")


def test_that_a_new_order_is_summarised_then_confirmed_in_another_message() -> None:
    prepared = calls_of(demo_responder(request("quero comprar 2 CAM-001", verified=True)))
    summary = {"summary_id": "a1b2c3", "lines": ["2x Camiseta: R$ 99,80"], "total_cents": 9980}
    shown = text_of(
        demo_responder(
            request(
                "quero comprar 2 CAM-001",
                verified=True,
                calls=(("prepare_order", prepared[0][1], summary),),
            )
        )
    )
    fact = "resumo de pedido a1b2c3 mostrado"

    confirmed = demo_responder(
        request("quero comprar 2 CAM-001", shown, "sim", verified=True, summary=fact)
    )
    declined = demo_responder(
        request("quero comprar 2 CAM-001", shown, "não", verified=True, summary=fact)
    )

    assert prepared == [("prepare_order", {"items": [{"sku": "CAM-001", "quantity": 2}]})]
    assert "Resumo do pedido:\n2x Camiseta: R$ 99,80\nTotal: *R$ 99,80*" in shown
    assert "Posso confirmar?" in shown
    assert calls_of(confirmed) == [("confirm_order", {"summary_id": "a1b2c3"})]
    assert text_of(declined).startswith("Pedido cancelado")


def test_that_an_order_by_name_searches_then_summarises_the_one_product_found() -> None:
    asked = "quero pedir 3 pacotes do café moído"
    searched = calls_of(demo_responder(request(asked, verified=True)))
    found = {"products": [{**CAMISETA, "sku": "CAF-002", "name": "Café Moído", "stock": 50}]}

    step = demo_responder(
        request(asked, verified=True, calls=(("stock_and_price", searched[0][1], found),))
    )

    assert searched == [("stock_and_price", {"query": "cafe moido"})]
    assert calls_of(step) == [("prepare_order", {"items": [{"sku": "CAF-002", "quantity": 3}]})]


def test_that_an_ambiguous_name_gets_a_numbered_choice_that_keeps_the_quantity() -> None:
    found = {
        "products": [
            {**CAMISETA, "stock": 25},
            {**CAMISETA, "sku": "CAM-002", "name": "Camiseta Preta", "stock": 18},
        ]
    }
    searched = ("stock_and_price", {"query": "camiseta"}, found)
    offered = text_of(
        demo_responder(request("quero duas camisetas", verified=True, calls=(searched,)))
    )

    step = demo_responder(request("quero duas camisetas", offered, "a segunda", verified=True))

    assert "1. *Camiseta*: R$ 49,90 (CAM-001)" in offered
    assert calls_of(step) == [("prepare_order", {"items": [{"sku": "CAM-002", "quantity": 2}]})]


def test_that_several_products_asked_at_once_are_looked_up_together() -> None:
    step = demo_responder(request("tem CAM-001? e o CAM-003? e MEI-001?", specialist="sales"))

    assert calls_of(step) == [
        ("stock_and_price", {"sku": "CAM-001"}),
        ("stock_and_price", {"sku": "CAM-003"}),
        ("stock_and_price", {"sku": "MEI-001"}),
    ]


def test_that_stock_is_quoted_from_the_result() -> None:
    found = {
        "products": [
            {**CAMISETA, "stock": 25},
            {**CAMISETA, "sku": "CAM-003", "available": False, "stock": 0},
        ]
    }

    answer = text_of(
        demo_responder(
            request("vcs tem camiseta?", calls=(("stock_and_price", {"query": "camiseta"}, found),))
        )
    )

    assert answer == (
        "*Camiseta* (CAM-001): R$ 49,90 • 25 em estoque\n"
        "*Camiseta* (CAM-003): R$ 49,90 • sem estoque no momento"
    )


def test_that_a_person_is_called_when_asked_for() -> None:
    step = demo_responder(request("quero falar com um atendente", specialist="general"))

    assert calls_of(step) == [("handoff_to_human", {"reason": "quero falar com um atendente"})]


def test_that_faq_answers_and_two_misses_offer_a_person() -> None:
    hit = (
        "answer_faq",
        {"question": "vcs aceitam pix?"},
        {"found": True, "answer": "Aceitamos PIX."},
    )
    miss = ("answer_faq", {"question": "?"}, {"found": False, "answer": None})

    asked = calls_of(demo_responder(request("vcs aceitam pix?", specialist="general")))
    answered = text_of(
        demo_responder(request("vcs aceitam pix?", specialist="general", calls=(hit,)))
    )
    first = text_of(
        demo_responder(request("qual a capital da mongólia?", specialist="general", calls=(miss,)))
    )
    second = text_of(
        demo_responder(
            request(
                "qual a capital da mongólia?",
                first,
                "e o jogo ontem?",
                specialist="general",
                calls=(miss,),
            )
        )
    )

    assert asked == [("answer_faq", {"question": "vcs aceitam pix?"})]
    assert answered == "Aceitamos PIX."
    assert "não entendi" in first
    assert "falar com um atendente" in second


def test_that_only_tools_on_offer_are_called_and_none_twice() -> None:
    # Sales has no boleto tools: a boleto request cannot call them.
    boleto = demo_responder(request("quero a 2a via do boleto", specialist="sales", verified=True))
    listed = ("list_open_titulos", {}, {"titulos": TITULOS["titulos"][:1]})
    copied = ("boleto_second_copy", {"titulo_id": "TIT-1001"}, COPY)
    # Verified again after the copy: the list was called in this turn already.
    again = ("identify_customer", {"document": "[CPF_1]"}, {"status": "verified"})

    after = demo_responder(request("2a via [CPF_1]", calls=(listed, copied, again)))

    assert not boleto.tool_calls
    assert not after.tool_calls
    assert COPY["linha_digitavel"] in text_of(after)


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("Para sua segurança, qual é a sua data de nascimento (dd/mm/aaaa)?", "CPF ou CNPJ"),
        ("Resumo do pedido:\n2x Camiseta: R$ 99,80\nPosso confirmar?", "Qual produto"),
    ],
)
def test_that_voltar_goes_one_step_back(asked: str, expected: str) -> None:
    answer = text_of(demo_responder(request("quero algo", asked, "voltar")))

    assert expected in answer
    assert "data de nascimento" not in answer


def test_that_it_says_it_is_a_stand_in_when_greeting() -> None:
    answer = text_of(demo_responder(request("oi", specialist="general")))

    assert answer.startswith("Olá! 👋 Eu sou a Ana, assistente virtual da Loja Demo")
    assert "demonstração" in answer


def test_that_a_router_gets_json_naming_the_topic() -> None:
    schema = {
        "type": "object",
        "properties": {
            "especialista": {"type": "string", "enum": ["geral", "financeiro", "pedidos"]},
            "motivo": {"type": "string"},
        },
    }
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "preciso da segunda via do boleto"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
    }
    by_prompt = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Escolha o especialista para a mensagem."},
            {"role": "user", "content": "onde está minha entrega?"},
        ],
    }

    routed = text_of(demo_responder(ChatRequest(body, {}, 0.0)))
    prompted = text_of(demo_responder(ChatRequest(by_prompt, {}, 0.0)))

    assert json.loads(routed) == {"especialista": "financeiro", "motivo": "billing"}
    assert json.loads(prompted) == {"specialist": "orders"}


def test_that_a_burst_of_requests_gets_a_call_each_answered_in_order() -> None:
    burst = "tem CAM-001?\nqual o horário de funcionamento?\ncadê o pedido PED-5001?"
    calls = calls_of(demo_responder(request(burst, verified=True)))
    faq = {"found": True, "answer": "De segunda a sexta, das 8h às 18h."}
    order = {"id": "PED-5001", "status": "delivered", "total_cents": 9980, "items": ["2x Camiseta"]}
    results = (
        ("stock_and_price", {"sku": "CAM-001"}, {"products": [{**CAMISETA, "stock": 25}]}),
        ("answer_faq", {"question": "qual o horário de funcionamento?"}, faq),
        ("delivery_tracking", {"order_id": "PED-5001"}, order),
    )

    answer = text_of(demo_responder(request(burst, verified=True, calls=results)))

    assert calls == [(name, arguments) for name, arguments, _ in results]
    paragraphs = answer.split("\n\n")
    assert paragraphs[0].startswith("*Camiseta* (CAM-001)")
    assert paragraphs[1] == faq["answer"]
    assert paragraphs[2].startswith("Pedido *PED-5001*: entregue")


def test_that_fragments_of_one_request_are_not_a_burst() -> None:
    step = demo_responder(request("oi\nqueria saber\ndo meu pedido", verified=True))

    assert calls_of(step) == [("order_status", {})]


def test_that_what_is_owed_is_listed_with_its_total() -> None:
    turns = ("quanto eu devo no total?", "Qual o seu CPF ou CNPJ?", "[CPF_1]")
    identified = ("identify_customer", {"document": "[CPF_1]"}, {"status": "verified"})

    answer = text_of(
        demo_responder(request(*turns, calls=(identified, ("list_open_titulos", {}, TITULOS))))
    )

    assert answer.startswith("Você tem 2 boletos em aberto, no total de *R$ 374,20*:")
    assert answer.endswith("Quer a 2ª via de algum? Responda com o número.")


@pytest.mark.parametrize(
    ("choice", "heading", "lines"),
    [
        ("esse de 184", "Encontrei 2 boletos assim. Qual deles?", 2),
        ("o 7", "Não achei esse boleto na lista. Qual deles você quer?", 2),
    ],
)
def test_that_an_unclear_pick_gets_the_list_again_fetched_again(
    choice: str, heading: str, lines: int
) -> None:
    same = {"titulos": [TITULOS["titulos"][0], {**TITULOS["titulos"][1], "amount_cents": 18485}]}
    listed = text_of(
        demo_responder(
            request("quero a 2a via", verified=True, calls=(("list_open_titulos", {}, same),))
        )
    )

    fetch = demo_responder(request("quero a 2a via", listed, choice, verified=True))
    again = text_of(
        demo_responder(
            request(
                "quero a 2a via",
                listed,
                choice,
                verified=True,
                calls=(("list_open_titulos", {}, same),),
            )
        )
    )

    assert calls_of(fetch) == [("list_open_titulos", {})]
    assert again.startswith(heading)
    assert again.count("(TIT-") == lines
    assert again.endswith("Responda com o número.")


def test_that_a_mistyped_cpf_and_a_phone_are_told_apart() -> None:
    ask = "Para consultar, me informe o *CPF ou CNPJ* do cadastro, por favor."
    invalid = {"status": "invalid_document", "reason": "check_digits"}
    checked = ("identify_customer", {"document": "[CPF_1]"}, invalid)

    typo = text_of(demo_responder(request("2a via", ask, "[CPF_1]", calls=(checked,))))
    short = text_of(demo_responder(request("2a via", ask, "meu cpf é 5299822472")))
    phone = text_of(demo_responder(request("2a via", ask, "[TELEFONE_1]")))

    assert typo == (
        "Esse CPF parece ter sido digitado com algum erro: os dígitos verificadores não "
        "conferem. Pode conferir e mandar de novo?"
    )
    assert short.startswith("Esse número tem 10 dígitos, mas um CPF tem 11")
    assert phone.startswith("Esse número parece um telefone.")


def test_that_a_locked_verification_says_why_before_handing_over() -> None:
    locked = ("answer_challenge", {"answer": "03/03/1990"}, {"status": "locked"})

    step = demo_responder(request("2a via", "Restam 1 tentativa.", "03/03/1990", calls=(locked,)))

    assert step.text == "Não consegui confirmar seus dados."
    assert [(c.name, c.arguments) for c in step.tool_calls] == [
        ("handoff_to_human", {"reason": "verificação não confirmada"})
    ]


def test_that_too_many_products_at_once_are_answered_in_part_saying_which_are_left() -> None:
    skus = [f"CAM-{n:03d}" for n in range(1, 11)]
    asked = "tem " + ", ".join(skus) + "?"
    calls = calls_of(demo_responder(request(asked, specialist="sales")))
    results = tuple(
        ("stock_and_price", {"sku": sku}, {"products": [{**CAMISETA, "sku": sku, "stock": 3}]})
        for sku in skus[:8]
    )

    answer = text_of(demo_responder(request(asked, specialist="sales", calls=results)))

    assert calls == [("stock_and_price", {"sku": sku}) for sku in skus[:8]]
    assert all(f"({sku})" in answer for sku in skus[:8])
    assert answer.endswith("Me mande de novo os outros: CAM-009, CAM-010.")


def test_that_the_document_again_while_choosing_keeps_the_list() -> None:
    listed = text_of(
        demo_responder(
            request("quero a 2a via", verified=True, calls=(("list_open_titulos", {}, TITULOS),))
        )
    )
    identified = ("identify_customer", {"document": "[CPF_1]"}, {"status": "verified"})
    calls = (identified, ("list_open_titulos", {}, TITULOS))

    answer = text_of(demo_responder(request("quero a 2a via", listed, "[CPF_1]", calls=calls)))

    assert answer.startswith("Certo, identificação confirmada. De qual boleto você quer a 2ª via?")
    assert "2. R$ 189,35, vence em 20/12/2026 (TIT-1002)" in answer


def test_that_a_long_order_history_is_answered_with_the_newest_within_an_answers_length() -> None:
    orders = [
        {
            "id": f"PED-52{number:02d}",
            "status": "processing",
            "total_cents": 6870,
            "items": ["3x Café Moído Tradicional 500 g", "2x Camiseta Básica Algodão Preta M"],
        }
        for number in range(40, 0, -1)
    ]
    listed = ("recent_orders", {}, {"orders": orders})

    answer = text_of(demo_responder(request("meus pedidos", verified=True, calls=(listed,))))

    # Longer than this, the agent takes it for a rambling model and falls back.
    assert len(answer) <= MAX_ANSWER_CHARS
    shown = re.findall(r"PED-\d+", answer)
    # The newest, in order, and that there are more.
    assert shown == [order["id"] for order in orders[: len(shown)]]
    assert 20 <= len(shown) < len(orders)
    assert "mais recentes" in answer
    assert "me mande o número" in answer


def test_that_an_order_history_too_long_in_full_lists_one_line_per_order() -> None:
    orders = [
        {
            "id": f"PED-52{number:02d}",
            "status": "shipped",
            "total_cents": 6870,
            "items": ["3x Café Moído Tradicional 500 g", "2x Camiseta Básica Algodão Preta M"],
        }
        for number in range(13, 0, -1)
    ]
    listed = ("recent_orders", {}, {"orders": orders})

    answer = text_of(demo_responder(request("meus pedidos", verified=True, calls=(listed,))))

    assert len(answer) <= MAX_ANSWER_CHARS
    assert re.findall(r"PED-\d+", answer) == [order["id"] for order in orders]
    assert "Pedido *PED-5213*: enviado (R$ 68,70)." in answer
    assert "Café" not in answer


def test_that_a_short_order_history_is_answered_whole() -> None:
    orders = [
        {"id": f"PED-500{n}", "status": "delivered", "total_cents": 6870, "items": ["1x Café"]}
        for n in (3, 2, 1)
    ]
    listed = ("recent_orders", {}, {"orders": orders})

    answer = text_of(demo_responder(request("meus pedidos", verified=True, calls=(listed,))))

    assert re.findall(r"PED-\d+", answer) == ["PED-5003", "PED-5002", "PED-5001"]
    assert "mais recentes" not in answer


@pytest.mark.parametrize(
    "offer",
    [
        "Cancelar um pedido eu não consigo por aqui, mas um atendente pode. Quer falar com um? "
        "Responda *atendente* que eu transfiro.",
        "Parece que não estou conseguindo te ajudar. Quer falar com um atendente? Responda "
        "*atendente* que eu transfiro.",
    ],
)
def test_that_a_yes_to_the_offer_of_a_person_hands_the_conversation_over(offer: str) -> None:
    step = demo_responder(request("quero cancelar meu pedido", offer, "sim"))

    assert [name for name, _ in calls_of(step)] == ["handoff_to_human"]
