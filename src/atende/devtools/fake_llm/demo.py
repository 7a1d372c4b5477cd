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

The tools decide who may see what; the stand-in only chooses among the tools the agent offers
(``assistant/agent/toolbox.py``) and never repeats a call within a turn. A paragraph of an answer
(blank line) is a WhatsApp message: the linha digitável and the PIX code travel alone.

Routing requests of a two-step design (a JSON ``response_format``, or a tool-less system prompt
asking for an "especialista") get JSON naming a topic.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel

from atende.assistant.dialogue.choice import ChoiceStatus, Option, choose
from atende.assistant.dialogue.replies import (
    DEFAULTS,
    order_text,
    orders_text,
    second_copy_intro,
    titulo_line,
    titulos_heading,
)
from atende.assistant.tools.models import OrderView, ProductView, SecondCopyView, TituloView
from atende.brazil.money import format_brl
from atende.brazil.plural import count_of
from atende.devtools.fake_llm.server import ChatRequest, Step, ToolCall, _content_text, _tool_name

M = TypeVar("M", bound=BaseModel)

# -- reading a request --------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Lower case without accents: "Cadê o boleto?" → "cade o boleto?"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class _Result:
    """A tool called in this turn, with its result (``{"error": …}`` when it failed)."""

    name: str
    arguments: dict[str, Any]
    value: dict[str, Any]

    @property
    def error(self) -> str | None:
        error = self.value.get("error")
        return str(error) if error is not None else None

    @property
    def status(self) -> str | None:
        status = self.value.get("status")
        return str(status) if status is not None else None


@dataclass(frozen=True)
class _Reading:
    """What one request says, as the stand-in needs it."""

    #: The customer's message of this turn (a burst of fragments arrives as one).
    text: str
    #: Earlier customer messages, newest first.
    earlier: tuple[str, ...]
    #: The assistant's previous answer (what it asked), plain.
    asked: str
    #: The numbered options of the previous answer, in the order shown.
    options: tuple[Option, ...]
    results: tuple[_Result, ...]
    tools: Mapping[str, dict[str, Any]]
    #: Verified in an earlier turn (the profile in the system prompt).
    verified_before: bool
    #: Order summaries shown (``prepare_order``), oldest first.
    summaries: tuple[str, ...]
    assistant: str
    business: str

    @property
    def plain(self) -> str:
        return _plain(self.text)

    @property
    def verified(self) -> bool:
        return self.verified_before or any(
            r.status == "verified" and r.name in ("identify_customer", "answer_challenge")
            for r in self.results
        )

    def offers(self, name: str) -> bool:
        return name in self.tools

    def called(self, name: str, arguments: Mapping[str, Any]) -> bool:
        return any(r.name == name and r.arguments == dict(arguments) for r in self.results)


_OPTION = re.compile(r"^\s*(\d{1,2})[.)]\s+(.*?)\s*\(([^()\s]+)\)\s*$", re.MULTILINE)
_NAMES = re.compile(r"Você é (?P<assistant>[^,\n]+), assistente virtual da (?P<business>[^,\n]+),")


def _read(request: ChatRequest) -> _Reading:
    messages = request.messages
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    current = users[-1] if users else len(messages)
    text = _content_text(messages[current].get("content")) if users else ""
    earlier = tuple(_content_text(messages[i].get("content")) for i in reversed(users[:-1]))
    asked = next(
        (
            _content_text(m.get("content"))
            for m in reversed(messages[:current])
            if m.get("role") == "assistant" and _content_text(m.get("content"))
        ),
        "",
    )
    options = tuple(_option(match[2], match[3]) for match in _OPTION.finditer(asked))
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    results: list[_Result] = []
    for message in messages[current + 1 :]:
        for call in message.get("tool_calls") or []:
            function = (call.get("function") if isinstance(call, dict) else None) or {}
            calls[str(call.get("id"))] = (
                str(function.get("name", "")),
                _json_object(function.get("arguments")),
            )
        if message.get("role") == "tool":
            name, arguments = calls.get(str(message.get("tool_call_id")), ("", {}))
            value = _json_object(_content_text(message.get("content")))
            results.append(_Result(name, arguments, value))
    system = request.system_prompt
    names = _NAMES.search(system)
    return _Reading(
        text=text,
        earlier=earlier,
        asked=_plain(asked),
        options=options,
        results=tuple(results),
        tools={_tool_name(tool): tool for tool in request.tools},
        verified_before=re.search(r"(?<!ainda não )identificado nesta sessão", system) is not None,
        summaries=tuple(re.findall(r"resumo de pedido (\S+) mostrado", system)),
        assistant=names["assistant"] if names else "Ana",
        business=names["business"] if names else "nossa empresa",
    )


def _option(line: str, key: str) -> Option:
    """An option as the stand-in wrote it: "R$ 184,85, venceu em 27/11/2026 (10 dias)", or
    "*Café Moído*: R$ 22,90", with its id at the end of the line in parentheses."""
    amount = re.search(r"R\$\s*(\d{1,3}(?:\.\d{3})*),(\d{2})", line)
    day = re.search(r"(\d{2})/(\d{2})/(\d{4})", line)
    name = re.search(r"\*([^*]+)\*", line)
    return Option(
        id=key,
        amount_cents=int(amount[1].replace(".", "")) * 100 + int(amount[2]) if amount else None,
        day=date(int(day[3]), int(day[2]), int(day[1])) if day else None,
        overdue=("venceu" in line) if day else None,
        name=name[1] if name else "",
    )


def _json_object(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except ValueError:
        return {"error": "not_json"}
    return value if isinstance(value, dict) else {"value": value}


# -- understanding the customer's words ---------------------------------------------------------

_DOCUMENT = re.compile(
    r"\[(?:CPF|CNPJ)_\d+\]"
    r"|\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b"
    r"|\b[0-9A-Z]{2}\.?[0-9A-Z]{3}\.?[0-9A-Z]{3}/?[0-9A-Z]{4}-?\d{2}\b"
)
_SKU = re.compile(r"\b([A-Z]{2,5}-\d{2,5})\b")
_ORDER_ID = re.compile(r"\b(PED-?\d{3,10}|#?\d{4,10})\b", re.IGNORECASE)
_NUMBER_WORDS = {
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
    "tres": 3,
    "quatro": 4,
    "cinco": 5,
    "seis": 6,
    "sete": 7,
    "oito": 8,
    "nove": 9,
    "dez": 10,
    "meia duzia": 6,
    "uma duzia": 12,
}
_QUANTITY = r"(?P<n>\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_UNITS = (
    r"(?:x\s*|unidades?\s+|pacotes?\s+|caixas?\s+|pecas?\s+|kits?\s+|pares?\s+)?"
    r"(?:de |do |da |dos |das )?"
)
_SKU_ITEM = re.compile(
    r"(?:\b" + _QUANTITY + r"\s*" + _UNITS + r")?\b(?P<sku>[a-z]{2,5}-\d{2,5})\b"
)
_NAME_ITEM = re.compile(r"\b" + _QUANTITY + r"\s+" + _UNITS + r"(?P<name>[a-z][a-z ]{2,60})")


def _says(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b")


_HANDOFF = _says("atendente", "humano", "humana", "pessoa de verdade", "falar com alguem")
_BACK = re.compile(r"\W*(?:voltar|volta|volte)\W*")
_CANCEL = re.compile(r"\W*(?:cancelar|cancela|cancele|esquece|deixa pra la|desisto)\W*")
_GREETS = re.compile(r"^\W*(?:oi+e?|ola|bom dia|boa tarde|boa noite|e ai|eae|opa|hey)\b")
_THANKS = _says("obrigad[oa]s?", "valeu", "agradeco")
_BYE = _says("tchau", "ate mais", "ate logo", "falou")
_YES = _says(
    "sim", "s", "pode", "confirmo", "confirma", "confirmar", "isso", "ok", "claro", "fechado"
)
_NO = _says("nao", "n", "negativo", "cancela", "cancelar")
#: What the customer wants, in the order the words are tried. Buying comes before the order
#: topics ("fazer um pedido" is not a status question).
_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "buy",
        re.compile(
            r"\b(?:comprar|compro|pedir|encomendar|fazer (?:um )?pedido|novo pedido)\b"
            r"|\b(?:quero|queria|vou querer|manda|me ve)\s+" + _QUANTITY + r"\b\s*\S"
        ),
    ),
    (
        "titulos",
        _says(
            "boletos?",
            r"2a via",
            r"2 via",
            "segunda via",
            "faturas?",
            "titulos?",
            "em aberto",
            "devo",
            "debitos?",
            "cobrancas?",
        ),
    ),
    (
        "tracking",
        _says(r"rastre\w*", "encomenda", "chegou", "chega", "cade", "entrega", "onde (?:esta|ta)"),
    ),
    ("history", _says("meus pedidos", "pedidos", "historico", "minhas compras", "compras")),
    ("order", re.compile(r"\b(?:pedido|situacao|status)\b|\bped-?\d+|#\d{3,}")),
    (
        "stock",
        re.compile(
            r"\b(?:estoque|tem|tinha|tiver|preco|precos|custa|custam|valor|disponive(?:l|is))\b"
            r"|\b[a-z]{2,5}-\d{2,5}\b"
        ),
    ),
)
#: Topics about the customer's own records: they need an identified customer.
_PERSONAL = frozenset({"buy", "titulos", "tracking", "history", "order"})
_TOOL_OF = {
    "titulos": "list_open_titulos",
    "tracking": "delivery_tracking",
    "history": "recent_orders",
    "order": "order_status",
    "buy": "prepare_order",
    "stock": "stock_and_price",
}
#: Words that are not a product's name ("quero 3 pacotes do café moído" searches "cafe moido").
_FILLER = _says(
    "tem",
    "tinha",
    "voces",
    "vcs",
    "vc",
    "voce",
    "estoque",
    "disponivel",
    "disponiveis",
    "ainda",
    "quanto",
    "custa",
    "custam",
    "preco",
    "valor",
    "o",
    "a",
    "os",
    "as",
    "e",
    "de",
    "do",
    "da",
    "dos",
    "das",
    "um",
    "uma",
    "no",
    "na",
    "ai",
    "pra",
    "para",
    "gostaria",
    "saber",
    "se",
    "queria",
    "quero",
    "vou",
    "querer",
    "ver",
    "comprar",
    "pedir",
    "encomendar",
    "fazer",
    "pedido",
    "mais",
    "me",
    "manda",
    "por favor",
    "favor",
    "pfv",
    "pf",
    "unidades?",
    "pacotes?",
    "caixas?",
    "pecas?",
    "kits?",
    "pares?",
    "qual",
    "quais",
    "sim",
    "oi",
    "ola",
    "bom dia",
    "boa tarde",
    "boa noite",
    *_NUMBER_WORDS,
)


def _topic(plain: str) -> str | None:
    return next((name for name, words in _TOPICS if words.search(plain)), None)


def _topics_of(reading: _Reading) -> Iterator[tuple[str, str]]:
    """The customer's topic and the message that asks it: this message's, else the nearest
    earlier message's (a CPF or a birth date answers a question asked for an earlier request)."""
    for text in (reading.text, *reading.earlier):
        topic = _topic(_plain(_DOCUMENT.sub(" ", text)))
        if topic is not None:
            yield topic, text


def _goal(reading: _Reading) -> tuple[str, str] | None:
    """The request about the customer's own records that this turn serves: this message's, or,
    when this message has no topic of its own (a CPF, a birth date), the nearest earlier one's."""
    found = next(_topics_of(reading), None)
    return found if found is not None and found[0] in _PERSONAL else None


def _goal_topic(reading: _Reading) -> str | None:
    goal = _goal(reading)
    return goal[0] if goal else None


def _quantity(word: str | None) -> int:
    if not word:
        return 1
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word, 1)


def _product_words(plain: str) -> str:
    words = _FILLER.sub(" ", re.sub(r"[^\w\s-]|\b\d+\b", " ", plain))
    # Plurals as a model would write a search ("canecas" → "caneca").
    return " ".join(w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words.split())


@dataclass(frozen=True, slots=True)
class _Wanted:
    """What a customer asks to buy: SKUs with quantities, or a product's name."""

    items: tuple[tuple[str, int], ...] = ()
    name: str = ""
    quantity: int = 1


def _wanted(text: str) -> _Wanted:
    plain = _plain(_DOCUMENT.sub(" ", text))
    items = tuple(
        (match["sku"].upper(), _quantity(match["n"])) for match in _SKU_ITEM.finditer(plain)
    )
    if items:
        return _Wanted(items=items)
    named = _NAME_ITEM.search(plain)
    quantity = _quantity(named["n"]) if named else 1
    return _Wanted(name=_product_words(plain), quantity=quantity)


def _order_wanted(reading: _Reading) -> _Wanted:
    """This message's products, else those of the message that started the order; a product
    named alone ("CAF-002", "2") keeps the quantity asked there ("quero 3 café moído")."""
    texts = (reading.text, *reading.earlier)
    started = next(
        (_wanted(text) for text in texts[1:] if _topic(_plain(_DOCUMENT.sub(" ", text))) == "buy"),
        _Wanted(),
    )
    current = _wanted(reading.text)
    if current.items:
        if len(current.items) == 1 and not re.search(r"\d", _SKU.sub(" ", reading.text.upper())):
            return _Wanted(items=((current.items[0][0], started.quantity),))
        return current
    if current.name and _topic(_plain(reading.text)) == "buy":
        return current
    return started


# -- the stand-in -------------------------------------------------------------------------------


def demo_responder(request: ChatRequest) -> Step:
    """The next answer of the demo stand-in: a tool call or a text (see the module's doc)."""
    routed = _route(request)
    if routed is not None:
        return routed
    reading = _read(request)
    if not reading.tools or request.body.get("tool_choice") == "none":
        return Step(text=_greeting(reading))
    if reading.results:
        return _follow_up(reading) or Step(text=_answer(reading))
    return _first_step(reading)


def _arguments(call: ToolCall) -> Mapping[str, Any]:
    return call.arguments if isinstance(call.arguments, Mapping) else {}


def _call(reading: _Reading, name: str, **arguments: Any) -> ToolCall | None:
    return ToolCall(name, arguments) if reading.offers(name) else None


def _calls(*calls: ToolCall | None) -> Step | None:
    found = tuple(call for call in calls if call is not None)
    return Step(tool_calls=found) if found else None


def _first_step(reading: _Reading) -> Step:
    """A customer message, before any tool of this turn."""
    plain = reading.plain.strip()
    document = _DOCUMENT.search(reading.text)
    topic = _topic(_plain(_DOCUMENT.sub(" ", reading.text)))
    if _HANDOFF.search(plain) and reading.offers("handoff_to_human"):
        return Step(tool_calls=(ToolCall("handoff_to_human", {"reason": reading.text[:200]}),))
    if _BACK.fullmatch(plain):
        return Step(text=_back(reading))
    if _CANCEL.fullmatch(plain):
        return Step(text=DEFAULTS["cancelled"])
    challenged = "para sua seguranca" in reading.asked or "tentativa" in reading.asked
    if challenged and document is None and (topic is None or re.search(r"\d", plain)):
        step = _calls(_call(reading, "answer_challenge", answer=reading.text[:100]))
        if step is not None:
            return step
    if reading.options and document is None:
        step = _choice(reading)
        if step is not None:
            return step
    if "posso confirmar" in reading.asked and topic is None:
        if _YES.search(plain) and reading.summaries:
            step = _calls(_call(reading, "confirm_order", summary_id=reading.summaries[-1]))
            if step is not None:
                return step
        if _NO.search(plain):
            return Step(text="Pedido cancelado. Posso ajudar com mais alguma coisa?")
    if document is not None:
        step = _calls(_call(reading, "identify_customer", document=document.group(0)))
        if step is not None:
            return step
    burst = _burst(reading)
    if burst is not None:
        return burst
    if "qual produto" in reading.asked and topic in (None, "stock"):
        topic = "buy"
    if topic is not None and topic in _PERSONAL:
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
    if _GREETS.match(plain) and topic is None and len(plain.split()) <= 4:
        return Step(text=_greeting(reading))
    if _THANKS.search(plain) and topic is None:
        return Step(text=DEFAULTS["thanks"])
    if _BYE.search(plain) and topic is None:
        return Step(text=DEFAULTS["sign_off"])
    step = _calls(_call(reading, "answer_faq", question=reading.text[:300]))
    return step or Step(text=_not_understood(reading))


_PHONE = re.compile(r"\[TELEFONE_\d+\]")
_DIGIT_RUN = re.compile(r"(?<![\w+])\+?\(?\d[\d.\-/() ]{6,24}\d(?!\w)")


def _mistyped(reading: _Reading) -> str | None:
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
    for match in _DIGIT_RUN.finditer(_DOCUMENT.sub(" ", reading.text)):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) in {11, 14} or not 9 <= len(digits) <= 16:
            continue
        return (
            f"Esse número tem {count_of(len(digits), 'dígito')}, mas um CPF tem 11 e um "
            "CNPJ, 14. Parece que faltou ou sobrou algum: pode conferir e mandar de novo?"
        )
    return None


def _goal_calls(reading: _Reading, topic: str, text: str | None = None) -> list[ToolCall | None]:
    """The tool calls that serve a request about the customer's own records (``text``: the
    part of the message that asks it)."""
    if topic == "titulos":
        return [_call(reading, "list_open_titulos")]
    if topic == "history":
        return [_call(reading, "recent_orders")]
    if topic in ("tracking", "order"):
        found = _ORDER_ID.search(_DOCUMENT.sub(" ", reading.text if text is None else text))
        name = "delivery_tracking" if topic == "tracking" else "order_status"
        if found is not None:
            return [_call(reading, name, order_id=found.group(1).lstrip("#"))]
        return [_call(reading, name)]
    wanted = _order_wanted(reading)
    if wanted.items:
        items = [{"sku": sku, "quantity": quantity} for sku, quantity in wanted.items]
        return [_call(reading, "prepare_order", items=items)]
    if wanted.name:
        return [_call(reading, "stock_and_price", query=wanted.name[:100])]
    return []


def _stock_calls(reading: _Reading, text: str | None = None) -> list[ToolCall | None]:
    """One lookup per product code asked about (a burst of questions gets them all), else one
    search by name (``text``: the part of the message that asks it)."""
    text = reading.text if text is None else text
    skus = list(dict.fromkeys(match.upper() for match in _SKU.findall(text.upper())))
    if skus:
        return [_call(reading, "stock_and_price", sku=sku) for sku in skus]
    words = _product_words(_plain(text))
    return [_call(reading, "stock_and_price", query=words[:100])] if words else []


_CLAUSE = re.compile(r"[^?!\n;]+[?!\n;]*")


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE.findall(text) if len(c.strip(" ?!\n;")) > 2]


def _burst(reading: _Reading) -> Step | None:
    """Several requests in one turn ("tem CAM-001? e qual o horário? cadê meu pedido?"): one
    call for each, in parallel, answered in the order asked. Fragments of one request ("oi" /
    "queria saber" / "do meu pedido") are not a burst: a part without a topic counts only as a
    question of its own (a question mark and three words) for the FAQ."""
    calls: list[ToolCall | None] = []
    for clause in _clauses(reading.text):
        plain = _plain(_DOCUMENT.sub(" ", clause))
        topic = _topic(plain)
        if topic == "stock":
            calls += _stock_calls(reading, clause)
        elif topic in _PERSONAL and topic != "buy" and reading.verified:
            calls += _goal_calls(reading, topic, clause)
        elif topic is None and clause.endswith("?") and len(plain.split()) >= 3:
            calls.append(_call(reading, "answer_faq", question=clause[:300]))
    found: list[ToolCall] = []
    for call in calls:
        if call is not None and all(
            (call.name, call.arguments) != (other.name, other.arguments) for other in found
        ):
            found.append(call)
    if len(found) < 2:
        return None
    return Step(tool_calls=tuple(found))


def _choice(reading: _Reading) -> Step | None:
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
    if not reading.verified:
        return Step(text=DEFAULTS["ask_document"])
    wanted = _order_wanted(reading)
    quantity = wanted.items[0][1] if wanted.items else wanted.quantity
    items = [{"sku": chosen.id, "quantity": quantity}]
    return _calls(_call(reading, "prepare_order", items=items))


def _boleto_list(reading: _Reading) -> bool:
    return bool(reading.options) and ("boleto" in reading.asked or "2a via" in reading.asked)


def _unclear(reading: _Reading) -> bool:
    """A pick that fits several options ("o de 184,85") or, short, none ("o 7")."""
    choice = choose(reading.options, reading.text)
    return choice.status is ChoiceStatus.ambiguous or (
        choice.status is ChoiceStatus.unmatched and len(reading.text.split()) <= 5
    )


def _follow_up(reading: _Reading) -> Step | None:
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
    call: ToolCall | None = None
    if last.status == "verified" and last.name in ("identify_customer", "answer_challenge"):
        goal = _goal(reading)
        calls = [call for call in _goal_calls(reading, *goal) if call] if goal else []
        call = calls[0] if calls else None
    elif last.name == "list_open_titulos":
        titulos = last.value.get("titulos") or []
        if len(titulos) == 1 and _titulos_goal(reading) == "invoice_copy" and not reading.options:
            call = _call(reading, "boleto_second_copy", titulo_id=str(titulos[0]["id"]))
    elif last.name == "stock_and_price" and _goal_topic(reading) == "buy" and reading.verified:
        products = last.value.get("products") or []
        if len(products) == 1:
            quantity = _order_wanted(reading).quantity
            items = [{"sku": str(products[0]["sku"]), "quantity": quantity}]
            call = _call(reading, "prepare_order", items=items)
    if call is None or reading.called(call.name, _arguments(call)):
        return None
    return Step(tool_calls=(call,))


def _titulos_goal(reading: _Reading) -> str:
    """What the boletos are listed for, in the offline engine's terms: to know what is owed
    ("quanto eu devo no total?") or to choose one for its 2ª via."""
    goal = _goal(reading)
    text = _plain(goal[1]) if goal else reading.plain
    owed = re.search(r"\b(?:quanto|total|devo|deve|debitos?|em aberto)\b", text)
    copy = re.search(r"\b(?:2a|2|segunda) via\b", text)
    return "open_invoices" if owed and not copy else "invoice_copy"


# -- writing the answer -------------------------------------------------------------------------


def _model(model: type[M], value: Mapping[str, Any]) -> M:
    """A tool result as its model (fields added to the tools later are ignored)."""
    return model.model_validate({k: v for k, v in value.items() if k in model.model_fields})


def _answer(reading: _Reading) -> str:
    paragraphs: list[str] = []
    for index, result in enumerate(reading.results):
        text = _paragraph(reading, result, last=index == len(reading.results) - 1)
        if text and text not in paragraphs:
            paragraphs.append(text)
    identifying = any(r.name in ("identify_customer", "answer_challenge") for r in reading.results)
    waiting = any(
        _topic(_plain(_DOCUMENT.sub(" ", clause))) in _PERSONAL for clause in _clauses(reading.text)
    )
    if waiting and not identifying and not reading.verified and reading.offers("identify_customer"):
        # A burst that also asked about the customer's own records.
        paragraphs.append(DEFAULTS["ask_document"])
    return _hello(reading, "\n\n".join(paragraphs) or _not_understood(reading))


def _paragraph(reading: _Reading, result: _Result, *, last: bool) -> str:
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
        return orders_text(orders) if orders else DEFAULTS["no_orders"]
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
        total = format_brl(int(value.get("total_cents") or 0))
        return (
            f"Pronto, pedido registrado! ✅ Número do pedido: *{value.get('order_id')}*. "
            f"Total: *{total}*."
        )
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


def _identified(result: _Result, *, last: bool) -> str:
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


def _challenged(result: _Result) -> str:
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


def _titulos(reading: _Reading, value: Mapping[str, Any]) -> str:
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
    goal = _titulos_goal(reading)
    if goal == "invoice_copy":
        ending = "Responda com o número."
    elif len(titulos) == 1:
        ending = "Quer a 2ª via? Responda *1*."
    else:
        ending = "Quer a 2ª via de algum? Responda com o número."
    return titulos_heading(titulos, goal) + "\n" + "\n".join(numbered) + "\n" + ending


def _second_copy(copy: SecondCopyView) -> str:
    parts = [second_copy_intro(copy), copy.linha_digitavel]
    if copy.pdf_url:
        parts.append(f"PDF do boleto: {copy.pdf_url}")
    if copy.pix_copia_e_cola:
        parts += ["Se preferir pagar com PIX, use o copia e cola abaixo:", copy.pix_copia_e_cola]
    return "\n\n".join(parts)


def _products(reading: _Reading, value: Mapping[str, Any], *, last: bool) -> str:
    products = [_model(ProductView, p) for p in value.get("products") or []]
    if not products:
        return "Não encontrei esse produto no catálogo."
    if _goal_topic(reading) == "buy" and reading.verified:
        if not last:
            return ""  # the product was found: the order summary that follows says it all
        if len(products) > 1:
            lines = [
                f"{n}. *{p.name}*: {format_brl(p.price_cents)} ({p.sku})"
                for n, p in enumerate(products, 1)
            ]
            return "Encontrei estas opções. Qual delas você quer?\n" + "\n".join(lines)
    return "\n".join(
        f"*{p.name}* ({p.sku}): {format_brl(p.price_cents)} • "
        + (f"{p.stock} em estoque" if p.available and p.stock > 0 else "sem estoque no momento")
        for p in products
    )


def _hello(reading: _Reading, text: str) -> str:
    """Greet back first when the message greets and asks at once ("oi, quero a 2ª via")."""
    if _GREETS.match(reading.plain) and not text.startswith("Olá"):
        return f"Olá! 👋 {text}"
    return text


def _greeting(reading: _Reading) -> str:
    return (
        f"Olá! 👋 Eu sou a {reading.assistant}, assistente virtual da {reading.business} "
        "(demonstração: quem responde é um simulador, não um modelo de IA). Posso te ajudar "
        "com *2ª via de boleto*, *pedidos e entregas* e *estoque e preços*. Como posso ajudar?"
    )


def _not_understood(reading: _Reading) -> str:
    if "nao entendi" in reading.asked:
        return DEFAULTS["offer_human"]
    return DEFAULTS["not_understood"]


def _back(reading: _Reading) -> str:
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
    asks_router = "especialista" in _plain(request.system_prompt) and not request.tools
    if not wants_json and not asks_router:
        return None
    plain = _plain(request.last_user_text)
    topic = _topic(plain)
    intent = "handoff" if _HANDOFF.search(plain) else _ROUTE_OF_TOPIC.get(topic or "", "general")
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
                (v for v in values if any(h in _plain(v) for h in hints)), values[0]
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
