"""The fake's demo behaviour: a deterministic stand-in for a model, so that a person trying the
LLM agent (``atende fake-llm``) sees every flow of the product work through the agent's tools,
and so that ``scenarios/`` can be played with the agent in the test suite.

It is not a model, and it says so when greeting. Each answer is decided from what a request
carries, as a model would have it, and from nothing else (no memory between requests):

- the customer's message of this turn, read with keywords ("boleto", "rastreio", "comprar",
  "atendente"…), documents ([CPF_1] placeholders), SKUs, quantities and order numbers;
- the assistant's previous answer in the history, which says what was asked (the CPF, the
  security question, a choice among numbered options, the confirmation of an order summary);
- the results of the tools called in this turn, which decide the next call (identified, then
  the boleto list; one titulo, then its second copy; one product, then the order summary) and
  the answer, written with the offline engine's pt-BR wording (``dialogue/replies.py``);
- the system prompt's profile ("identificado nesta sessão") and running summary (the order
  summary shown, to confirm).

``reading.py`` reads a request and the customer's words; ``orders.py`` runs a new order; this
module decides the rest and writes the answers.

The tools decide who may see what; the stand-in only chooses among the tools the agent offers
(``assistant/agent/toolbox.py``) and never repeats a call within a turn. A paragraph of an answer
(blank line) is a WhatsApp message: the linha digitável and the PIX code travel alone.

Routing requests of a two-step design (a JSON ``response_format``, or a tool-less system prompt
asking for an "especialista") get JSON naming a topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from atende.assistant.dialogue.choice import ChoiceStatus, choose
from atende.assistant.dialogue.replies import (
    DEFAULTS,
    order_history_text,
    order_text,
    second_copy_intro,
    titulo_line,
    titulos_heading,
)
from atende.assistant.tools.models import OrderView, ProductView, SecondCopyView, TituloView
from atende.brazil.money import format_brl
from atende.brazil.plural import count_of
from atende.devtools.fake_llm.orders import order_active, order_step
from atende.devtools.fake_llm.reading import (
    BACK,
    BYE,
    CANCEL,
    DOCUMENT,
    GREETS,
    HANDOFF,
    NO,
    ORDER_ID,
    PERSONAL,
    SKU,
    THANKS,
    YES,
    Reading,
    Result,
    folded,
    goal_of,
    product_words,
    read,
    topic_of,
)
from atende.devtools.fake_llm.server import ChatRequest, Step, ToolCall

M = TypeVar("M", bound=BaseModel)

# -- the stand-in -------------------------------------------------------------------------------


def demo_responder(request: ChatRequest) -> Step:
    """The next answer of the demo stand-in: a tool call or a text (see the module's doc)."""
    routed = _route(request)
    if routed is not None:
        return routed
    reading = read(request)
    if not reading.tools or request.body.get("tool_choice") == "none":
        return Step(text=_greeting(reading))
    if reading.results:
        return _follow_up(reading) or Step(text=_answer(reading))
    return _first_step(reading)


def _arguments(call: ToolCall) -> Mapping[str, Any]:
    return call.arguments if isinstance(call.arguments, Mapping) else {}


def _call(reading: Reading, name: str, **arguments: Any) -> ToolCall | None:
    return ToolCall(name, arguments) if reading.offers(name) else None


def _calls(*calls: ToolCall | None) -> Step | None:
    found = tuple(call for call in calls if call is not None)
    return Step(tool_calls=found) if found else None


def _first_step(reading: Reading) -> Step:
    """A customer message, before any tool of this turn."""
    plain = reading.plain.strip()
    document = DOCUMENT.search(reading.text)
    topic = topic_of(folded(DOCUMENT.sub(" ", reading.text)))
    if HANDOFF.search(plain) and reading.offers("handoff_to_human"):
        return Step(tool_calls=(ToolCall("handoff_to_human", {"reason": reading.text[:200]}),))
    if BACK.fullmatch(plain):
        return Step(text=_back(reading))
    if CANCEL.fullmatch(plain):
        return Step(text=DEFAULTS["cancelled"])
    challenged = "para sua seguranca" in reading.asked or "tentativa" in reading.asked
    if challenged and document is None and (topic is None or re.search(r"\d", plain)):
        step = _calls(_call(reading, "answer_challenge", answer=reading.text[:100]))
        if step is not None:
            return step
    if "posso confirmar" in reading.asked and topic is None:
        if YES.search(plain) and reading.summaries:
            step = _calls(_call(reading, "confirm_order", summary_id=reading.summaries[-1]))
            if step is not None:
                return step
        if NO.search(plain):
            return Step(text="Pedido cancelado. Posso ajudar com mais alguma coisa?")
    if document is not None:
        step = _calls(_call(reading, "identify_customer", document=document.group(0)))
        if step is not None:
            return step
    if order_active(reading):
        step = order_step(reading)
        if step is not None:
            return _greet(reading, step)
    if reading.options and document is None:
        step = _choice(reading)
        if step is not None:
            return step
    burst = _burst(reading)
    if burst is not None:
        return burst
    if topic is not None and topic in PERSONAL:
        if not reading.verified:
            if reading.offers("identify_customer"):
                return Step(text=_hello(reading, DEFAULTS["ask_document"]))
        else:
            step = _calls(*_goal_calls(reading, topic))
            if step is not None:
                return step
    if topic == "stock":
        step = _calls(*_stock_calls(reading))
        if step is not None:
            return step
    mistyped = _mistyped(reading)
    if mistyped is not None:
        return Step(text=mistyped)
    if "cpf ou cnpj" in reading.asked and topic is None and re.search(r"\d{5}", plain):
        return Step(
            text="Não consegui identificar um CPF ou CNPJ na sua mensagem. Pode digitar só os "
            "números?"
        )
    if GREETS.match(plain) and topic is None and len(plain.split()) <= 4:
        return Step(text=_greeting(reading))
    bare = " ".join(re.sub(r"[^\w\s]", " ", plain).split())
    # "sim por favor", "pode sim, obrigado": the yes with the courtesy around it.
    words = re.sub(r"\b(?:por favor|pfv|pf|obrigad[oa])\b", " ", bare).split()
    said_yes = bool(words) and all(YES.fullmatch(word) for word in words)
    if said_yes and "responda *atendente*" in reading.asked:
        # "Quer falar com um atendente?" "sim": a yes to the offer is the request.
        step = _calls(_call(reading, "handoff_to_human", reason="aceitou falar com um atendente"))
        if step is not None:
            return step
    if (YES.fullmatch(bare) or NO.fullmatch(bare)) and topic is None:
        # A yes or no to nothing pending.
        return Step(
            text="Como posso ajudar? Posso enviar *2ª via de boleto*, ver *pedidos* ou *estoque*."
        )
    if THANKS.search(plain) and topic is None:
        return Step(text=DEFAULTS["thanks"])
    if BYE.search(plain) and topic is None:
        return Step(text=DEFAULTS["sign_off"])
    step = _calls(_call(reading, "answer_faq", question=reading.text[:300]))
    return step or Step(text=_not_understood(reading))


_PHONE = re.compile(r"\[TELEFONE_\d+\]")
_DIGIT_RUN = re.compile(r"(?<![\w+])\+?\(?\d[\d.\-/() ]{6,24}\d(?!\w)")


def _mistyped(reading: Reading) -> str | None:
    """A number meant as the CPF that is not one: a phone (it reaches the model as a
    [TELEFONE_1] placeholder) or a digit missing or too many."""
    plain = reading.plain
    called_document = re.search(r"\b(?:cpf|cnpj|documento|doc)\b", plain) is not None
    asked_document = "cpf" in reading.asked or "cnpj" in reading.asked
    if _PHONE.search(reading.text) and asked_document and not called_document:
        return (
            "Esse número parece um telefone. Para consultar, preciso do *CPF* (11 dígitos) ou "
            "do *CNPJ* (14) do cadastro."
        )
    if not (asked_document or called_document):
        return None
    for match in _DIGIT_RUN.finditer(DOCUMENT.sub(" ", reading.text)):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) in {11, 14} or not 9 <= len(digits) <= 16:
            continue
        return (
            f"Esse número tem {count_of(len(digits), 'dígito')}, mas um CPF tem 11 e um "
            "CNPJ, 14. Parece que faltou ou sobrou algum: pode conferir e mandar de novo?"
        )
    return None


def _goal_calls(reading: Reading, topic: str, text: str | None = None) -> list[ToolCall | None]:
    """The tool calls that serve a request about the customer's own records (``text``: the
    part of the message that asks it)."""
    if topic == "titulos":
        return [_call(reading, "list_open_titulos")]
    if topic == "history":
        return [_call(reading, "recent_orders")]
    if topic in ("tracking", "order"):
        found = ORDER_ID.search(DOCUMENT.sub(" ", reading.text if text is None else text))
        name = "delivery_tracking" if topic == "tracking" else "order_status"
        if found is not None:
            return [_call(reading, name, order_id=found.group(1).lstrip("#"))]
        return [_call(reading, name)]
    return []  # a new order: orders.py


def _stock_calls(reading: Reading, text: str | None = None) -> list[ToolCall | None]:
    """One lookup per product code asked about (a burst of questions gets them all), else one
    search by name (``text``: the part of the message that asks it)."""
    text = reading.text if text is None else text
    skus = list(dict.fromkeys(match.upper() for match in SKU.findall(text.upper())))
    if skus:
        return [_call(reading, "stock_and_price", sku=sku) for sku in skus[:MAX_LOOKUPS]]
    words = product_words(folded(text))
    return [_call(reading, "stock_and_price", query=words[:100])] if words else []


#: Products looked up in one turn; the answer names the others, to be asked again (an answer
#: longer than a WhatsApp message is a failure of the agent's).
MAX_LOOKUPS = 8
_CLAUSE = re.compile(r"[^?!\n;]+[?!\n;]*")


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE.findall(text) if len(c.strip(" ?!\n;")) > 2]


def _burst(reading: Reading) -> Step | None:
    """Several requests in one turn ("tem CAM-001? e qual o horário? cadê meu pedido?"): one
    call for each, in parallel, answered in the order asked. Fragments of one request ("oi" /
    "queria saber" / "do meu pedido") are not a burst: a part without a topic counts only as a
    question of its own (a question mark and three words) for the FAQ."""
    calls: list[ToolCall | None] = []
    for clause in _clauses(reading.text):
        plain = folded(DOCUMENT.sub(" ", clause))
        topic = topic_of(plain)
        if topic == "stock":
            calls += _stock_calls(reading, clause)
        elif topic in PERSONAL and topic != "buy" and reading.verified:
            calls += _goal_calls(reading, topic, clause)
        elif topic is None and clause.endswith("?") and len(plain.split()) >= 3:
            calls.append(_call(reading, "answer_faq", question=clause[:300]))
    found: list[ToolCall] = []
    for call in calls:
        if call is not None and all(
            (call.name, call.arguments) != (other.name, other.arguments) for other in found
        ):
            found.append(call)
    lookups = [call for call in found if call.name == "stock_and_price"]
    found = [call for call in found if call not in lookups[MAX_LOOKUPS:]]
    if len(found) < 2:
        return None
    return Step(tool_calls=tuple(found))


def _choice(reading: Reading) -> Step | None:
    """A pick among the numbered options of the previous answer, read as the offline engine
    reads it (``dialogue/choice.py``: "2", "a segunda", "o de 189,35", "o que venceu", "o mais
    antigo"). A pick that fits several boletos or none gets the list again, fetched again: what
    the answer states must come from this turn's tools."""
    choice = choose(reading.options, reading.text)
    boletos = _boleto_list(reading)
    chosen = choice.chosen
    if chosen is None:
        return (
            _calls(_call(reading, "list_open_titulos")) if boletos and _unclear(reading) else None
        )
    if boletos:
        return _calls(_call(reading, "boleto_second_copy", titulo_id=chosen.id))
    return None


def _boleto_list(reading: Reading) -> bool:
    return bool(reading.options) and ("boleto" in reading.asked or "2a via" in reading.asked)


def _unclear(reading: Reading) -> bool:
    """A pick that fits several options ("o de 184,85") or, short, none ("o 7")."""
    choice = choose(reading.options, reading.text)
    return choice.status is ChoiceStatus.ambiguous or (
        choice.status is ChoiceStatus.unmatched and len(reading.text.split()) <= 5
    )


def _follow_up(reading: Reading) -> Step | None:
    """The next tool call of this turn, decided by the last result."""
    last = reading.results[-1]
    if last.error:
        return None
    if last.status == "locked" and reading.offers("handoff_to_human"):
        reason = {"reason": "verificação não confirmada"}
        if reading.called("handoff_to_human", reason):
            return None
        # Said before the engine's own handoff notice.
        return Step(
            text="Não consegui confirmar seus dados.",
            tool_calls=(ToolCall("handoff_to_human", reason),),
        )
    identified = last.status == "verified" and last.name in (
        "identify_customer",
        "answer_challenge",
    )
    if (identified or last.name == "stock_and_price") and order_active(reading):
        step = order_step(reading)
        if step is not None and not step.tool_calls:
            confirmed = [_challenged(r) for r in reading.results if r.name == "answer_challenge"]
            return Step(text=_hello(reading, "\n\n".join([*confirmed, str(step.text)])))
        return step
    call: ToolCall | None = None
    if last.status == "verified" and last.name in ("identify_customer", "answer_challenge"):
        goal = goal_of(reading)
        calls = [call for call in _goal_calls(reading, *goal) if call] if goal else []
        call = calls[0] if calls else None
    elif last.name == "list_open_titulos":
        titulos = last.value.get("titulos") or []
        if len(titulos) == 1 and _titulos_goal(reading) == "invoice_copy" and not reading.options:
            call = _call(reading, "boleto_second_copy", titulo_id=str(titulos[0]["id"]))
    if call is None or reading.called(call.name, _arguments(call)):
        return None
    return Step(tool_calls=(call,))


def _titulos_goal(reading: Reading) -> str:
    """What the boletos are listed for, in the offline engine's terms: to know what is owed
    ("quanto eu devo no total?") or to choose one for its 2ª via."""
    goal = goal_of(reading)
    text = folded(goal[1]) if goal else reading.plain
    owed = re.search(r"\b(?:quanto|total|devo|deve|debitos?|em aberto)\b", text)
    copy = re.search(r"\b(?:2a|2|segunda) via\b", text)
    return "open_invoices" if owed and not copy else "invoice_copy"


# -- writing the answer -------------------------------------------------------------------------


def _model(model: type[M], value: Mapping[str, Any]) -> M:
    """A tool result as its model (fields added to the tools later are ignored)."""
    return model.model_validate({k: v for k, v in value.items() if k in model.model_fields})


def _answer(reading: Reading) -> str:
    paragraphs: list[str] = []
    for index, result in enumerate(reading.results):
        text = _paragraph(reading, result, last=index == len(reading.results) - 1)
        if text and text not in paragraphs:
            paragraphs.append(text)
    looked_up = {
        str(r.arguments.get("sku")) for r in reading.results if r.name == "stock_and_price"
    }
    skus = dict.fromkeys(match.upper() for match in SKU.findall(reading.text.upper()))
    left = [sku for sku in skus if sku not in looked_up]
    if left and len(looked_up) >= MAX_LOOKUPS:
        paragraphs.append(
            f"Por aqui respondo até {MAX_LOOKUPS} produtos por mensagem. Me mande de novo os "
            f"outros: {', '.join(left)}."
        )
    identifying = any(r.name in ("identify_customer", "answer_challenge") for r in reading.results)
    waiting = any(
        topic_of(folded(DOCUMENT.sub(" ", clause))) in PERSONAL for clause in _clauses(reading.text)
    )
    if waiting and not identifying and not reading.verified and reading.offers("identify_customer"):
        # A burst that also asked about the customer's own records.
        paragraphs.append(DEFAULTS["ask_document"])
    return _hello(reading, "\n\n".join(paragraphs) or _not_understood(reading))


def _paragraph(reading: Reading, result: Result, *, last: bool) -> str:
    value = result.value
    if result.error:
        message = value.get("message")
        return str(message) if message else "Desculpe, não consegui fazer isso agora."
    if result.name == "identify_customer":
        return _identified(result, last=last)
    if result.name == "answer_challenge":
        return _challenged(result)
    if result.name == "list_open_titulos":
        return "" if not last else _titulos(reading, value)
    if result.name == "boleto_second_copy":
        return _second_copy(_model(SecondCopyView, value))
    if result.name == "recent_orders":
        orders = [_model(OrderView, order) for order in value.get("orders") or []]
        if not orders:
            return DEFAULTS["no_orders"]
        return order_history_text(orders)
    if result.name in ("order_status", "delivery_tracking"):
        return order_text(_model(OrderView, value))
    if result.name == "stock_and_price":
        return _products(reading, value, last=last)
    if result.name == "prepare_order":
        lines = "\n".join(str(line) for line in value.get("lines") or [])
        total = format_brl(int(value.get("total_cents") or 0))
        return (
            f"Resumo do pedido:\n{lines}\nTotal: *{total}*\n"
            "Posso confirmar? (responda *sim* ou *não*)"
        )
    if result.name == "confirm_order":
        # The ERP's own words, with the order's number once, in bold (as the offline engine).
        order_id = str(value.get("order_id"))
        message = str(value.get("message") or f"Pedido {order_id} registrado.")
        if order_id in message:
            return message.replace(order_id, f"*{order_id}*", 1) + " ✅"
        return f"{message} Pedido *{order_id}*. ✅"
    if result.name == "answer_faq":
        if value.get("found"):
            return str(value["answer"])
        # A question to the business that the FAQ does not answer ("vcs vendem carro?") is
        # told so, with a person offered; anything else was not understood.
        asks_us = re.search(r"\b(?:vcs|voces|vc|voce|loja|empresa)\b", reading.plain)
        if len(reading.results) > 1 or asks_us:
            return DEFAULTS["faq_missing"]
        return _not_understood(reading)
    return ""


_DOCUMENT_PROBLEMS = {
    "check_digits": "os dígitos verificadores não conferem",
    "length": "ele não tem o número de dígitos de um CPF (11) ou CNPJ (14)",
    "repeated_digits": "ele tem todos os dígitos iguais",
    "characters": "ele tem caracteres que um CPF ou CNPJ não tem",
}


def _identified(result: Result, *, last: bool) -> str:
    status = result.status
    if status == "verified":
        return "Identificação confirmada. Como posso ajudar?" if last else ""
    if status == "challenge":
        return str(result.value.get("question") or "Para sua segurança, confirme um dado.")
    if status == "invalid_document":
        # Most likely a typo: say so and ask again.
        given = str(result.arguments.get("document", ""))
        digits = re.sub(r"\D", "", given)
        name = "CNPJ" if "CNPJ" in given or len(digits) == 14 else "CPF"
        reason = str(result.value.get("reason"))
        problem = _DOCUMENT_PROBLEMS.get(reason, "ele não passa na conferência dos dígitos")
        return (
            f"Esse {name} parece ter sido digitado com algum erro: {problem}. Pode conferir e "
            "mandar de novo?"
        )
    return "Não consegui confirmar seus dados."


def _challenged(result: Result) -> str:
    status = result.status
    if status == "verified":
        return "Obrigada, identidade confirmada! ✅"
    if status == "wrong":
        left = int(result.value.get("attempts_left") or 0)
        rest = f"{'Resta' if left == 1 else 'Restam'} {count_of(left, 'tentativa')}."
        return f"Não confere com o cadastro. Confira também se o CPF ou CNPJ está certo. {rest}"
    if status == "no_challenge":
        return DEFAULTS["ask_document"]
    return "Não consegui confirmar seus dados."


def _titulos(reading: Reading, value: Mapping[str, Any]) -> str:
    titulos = [_model(TituloView, t) for t in value.get("titulos") or []]
    if not titulos:
        return DEFAULTS["no_titulos"]
    numbered = [f"{n}. {titulo_line(t)} ({t.id})" for n, t in enumerate(titulos, 1)]
    if _boleto_list(reading) and _unclear(reading):
        # The list again, after a pick that fits several or none.
        choice = choose(reading.options, reading.text)
        ids = {option.id for option in choice.candidates}
        shown = [line for t, line in zip(titulos, numbered, strict=True) if t.id in ids]
        if choice.status is ChoiceStatus.ambiguous and shown:
            heading = f"Encontrei {count_of(len(shown), 'boleto')} assim. Qual deles?"
        else:
            heading, shown = "Não achei esse boleto na lista. Qual deles você quer?", numbered
        return heading + "\n" + "\n".join(shown) + "\nResponda com o número."
    if _boleto_list(reading) and DOCUMENT.search(reading.text):
        # The document again while choosing a boleto: the list still stands.
        heading = "Certo, identificação confirmada. De qual boleto você quer a 2ª via?"
        return heading + "\n" + "\n".join(numbered) + "\nResponda com o número."
    goal = _titulos_goal(reading)
    if goal == "invoice_copy":
        ending = "Responda com o número."
    elif len(titulos) == 1:
        ending = "Quer a 2ª via? Responda *1*."
    else:
        ending = "Quer a 2ª via de algum? Responda com o número."
    return titulos_heading(titulos, goal) + "\n" + "\n".join(numbered) + "\n" + ending


def _second_copy(copy: SecondCopyView) -> str:
    # No PDF link: the agent sends the PDF itself, as a document after the answer.
    parts = [second_copy_intro(copy), copy.linha_digitavel]
    if copy.pix_copia_e_cola:
        parts += ["Se preferir pagar com PIX, use o copia e cola abaixo:", copy.pix_copia_e_cola]
    return "\n\n".join(parts)


def _products(reading: Reading, value: Mapping[str, Any], *, last: bool) -> str:
    products = [_model(ProductView, p) for p in value.get("products") or []]
    if not products:
        return "Não encontrei esse produto no catálogo."
    if order_active(reading):
        return ""  # a lookup for the order: the order's own question or summary says it
    return "\n".join(
        f"*{p.name}* ({p.sku}): {format_brl(p.price_cents)} • "
        + (f"{p.stock} em estoque" if p.available and p.stock > 0 else "sem estoque no momento")
        for p in products
    )


def _greet(reading: Reading, step: Step) -> Step:
    if step.tool_calls or step.text is None:
        return step
    return Step(text=_hello(reading, step.text))


def _hello(reading: Reading, text: str) -> str:
    """Greet back first when the message greets and asks at once ("oi, quero a 2ª via")."""
    if GREETS.match(reading.plain) and not text.startswith("Olá"):
        return f"Olá! 👋 {text}"
    return text


def _greeting(reading: Reading) -> str:
    return (
        f"Olá! 👋 Eu sou a {reading.assistant}, assistente virtual da {reading.business} "
        "(demonstração: quem responde é um simulador, não um modelo de IA). Posso te ajudar "
        "com *2ª via de boleto*, *pedidos e entregas* e *estoque e preços*. Como posso ajudar?"
    )


def _not_understood(reading: Reading) -> str:
    if "nao entendi" in reading.asked:
        return DEFAULTS["offer_human"]
    return DEFAULTS["not_understood"]


def _back(reading: Reading) -> str:
    """``voltar``: one step back in what the previous answer asked."""
    if "posso confirmar" in reading.asked or "qual produto" in reading.asked:
        return "Tudo bem, voltando. Qual produto (código ou nome) e quantas unidades você quer?"
    if "para sua seguranca" in reading.asked or "tentativa" in reading.asked:
        return "Tudo bem, voltando. " + DEFAULTS["ask_document"]
    if reading.options and not reading.verified:
        return "Tudo bem, voltando. " + DEFAULTS["ask_document"]
    return _greeting(reading)


# -- routing requests (a two-step design, not Atende's) -----------------------------------------

_ROUTE_HINTS: dict[str, tuple[str, ...]] = {
    "handoff": ("handoff", "human", "humano", "atendente"),
    "billing": ("billing", "financ", "boleto", "titulo", "cobranca", "invoice"),
    "orders": ("order", "pedido", "entrega", "logistic"),
    "stock": ("stock", "estoque", "produto", "product", "catalog", "venda", "sales"),
    "general": ("general", "geral", "faq", "outro", "other"),
}
_ROUTE_OF_TOPIC = {
    "buy": "stock",
    "titulos": "billing",
    "tracking": "orders",
    "history": "orders",
    "order": "orders",
    "stock": "stock",
}


def _route(request: ChatRequest) -> Step | None:
    response_format = request.body.get("response_format")
    wants_json = isinstance(response_format, dict) and response_format.get("type") in (
        "json_schema",
        "json_object",
    )
    # An agent's own prompt may well say "especialista"; only a tool-less one is a router.
    asks_router = "especialista" in folded(request.system_prompt) and not request.tools
    if not wants_json and not asks_router:
        return None
    plain = folded(request.last_user_text)
    topic = topic_of(plain)
    intent = "handoff" if HANDOFF.search(plain) else _ROUTE_OF_TOPIC.get(topic or "", "general")
    schema: dict[str, Any] = {}
    if isinstance(response_format, dict):
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    if not properties:
        return Step(text=json.dumps({"specialist": intent}))
    answer: dict[str, Any] = {}
    for name, spec in properties.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if isinstance(spec, dict) and spec.get("enum"):
            values = [str(v) for v in spec["enum"]]
            hints = _ROUTE_HINTS[intent]
            answer[name] = next(
                (v for v in values if any(h in folded(v) for h in hints)), values[0]
            )
        elif kind == "string":
            answer[name] = intent
        elif kind == "number":
            answer[name] = 1.0
        elif kind == "integer":
            answer[name] = 0
        elif kind == "boolean":
            answer[name] = False
        else:
            answer[name] = None
    return Step(text=json.dumps(answer, ensure_ascii=False))
