"""How the demo stand-in reads a request: the customer's message, the conversation before it,
this turn's tool results and the system prompt; and the customer's words (topics, documents,
SKUs, quantities, product names), with keywords, as a stand-in does."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from atende.assistant.dialogue.choice import Option
from atende.assistant.nlu.entities import SMALL_NUMBER_WORDS
from atende.devtools.fake_llm.server import ChatRequest, _content_text, _tool_name

# -- reading a request --------------------------------------------------------------------------


def folded(text: str) -> str:
    """Lower case without accents: "Cadê o boleto?" → "cade o boleto?"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class Result:
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
class Reading:
    """What one request says, as the stand-in needs it."""

    #: The customer's message of this turn (a burst of fragments arrives as one).
    text: str
    #: Earlier customer messages, newest first.
    earlier: tuple[str, ...]
    #: The conversation before this message: (role, text) of the customer's messages and the
    #: assistant's answers, oldest first.
    history: tuple[tuple[str, str], ...]
    #: The assistant's previous answer (what it asked), plain.
    asked: str
    #: The numbered options of the previous answer, in the order shown.
    options: tuple[Option, ...]
    results: tuple[Result, ...]
    tools: Mapping[str, dict[str, Any]]
    #: Verified in an earlier turn (the profile in the system prompt).
    verified_before: bool
    #: Order summaries shown (``prepare_order``), oldest first.
    summaries: tuple[str, ...]
    assistant: str
    business: str

    @property
    def plain(self) -> str:
        return folded(self.text)

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


def read(request: ChatRequest) -> Reading:
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
    options = tuple(option_of(match[2], match[3]) for match in _OPTION.finditer(asked))
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    results: list[Result] = []
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
            results.append(Result(name, arguments, value))
    system = request.system_prompt
    names = _NAMES.search(system)
    history = tuple(
        (str(m.get("role")), _content_text(m.get("content")))
        for m in messages[:current]
        if m.get("role") in ("user", "assistant") and _content_text(m.get("content"))
    )
    return Reading(
        text=text,
        earlier=earlier,
        history=history,
        asked=folded(asked),
        options=options,
        results=tuple(results),
        tools={_tool_name(tool): tool for tool in request.tools},
        verified_before=re.search(r"(?<!ainda não )identificado nesta sessão", system) is not None,
        summaries=tuple(re.findall(r"resumo de pedido (\S+) mostrado", system)),
        assistant=names["assistant"] if names else "Ana",
        business=names["business"] if names else "nossa empresa",
    )


def option_of(line: str, key: str) -> Option:
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

DOCUMENT = re.compile(
    r"\[(?:CPF|CNPJ)_\d+\]"
    r"|\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b"
    r"|\b[0-9A-Z]{2}\.?[0-9A-Z]{3}\.?[0-9A-Z]{3}/?[0-9A-Z]{4}-?\d{2}\b"
)
SKU = re.compile(r"\b([A-Z]{2,5}-\d{2,5})\b")
# The ERPs' prefixes ("PED", and "PV"/"OV" for sales orders), or any code right after "pedido".
ORDER_ID = re.compile(
    r"\b((?:PED|PV|OV)-?\d{3,10}|(?<=pedido )[A-Z]{1,5}-?\d{3,10}|#?\d{4,10})\b", re.IGNORECASE
)
NUMBER_WORDS = {**SMALL_NUMBER_WORDS, "meia duzia": 6, "uma duzia": 12}
QUANTITY = r"(?P<n>\d{1,3}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
_UNITS = (
    r"(?:x\s*|unidades?\s+|pacotes?\s+|caixas?\s+|pecas?\s+|kits?\s+|pares?\s+)?"
    r"(?:de |do |da |dos |das )?"
)
SKU_ITEM = re.compile(r"(?:\b" + QUANTITY + r"\s*" + _UNITS + r")?\b(?P<sku>[a-z]{2,5}-\d{2,5})\b")


def _says(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b")


HANDOFF = _says("atendente", "humano", "humana", "pessoa de verdade", "falar com alguem")
BACK = re.compile(r"\W*(?:voltar|volta|volte)\W*")
CANCEL = re.compile(r"\W*(?:cancelar|cancela|cancele|esquece|deixa pra la|desisto)\W*")
GREETS = re.compile(r"^\W*(?:oi+e?|ola|bom dia|boa tarde|boa noite|e ai|eae|opa|hey)\b")
THANKS = _says("obrigad[oa]s?", "valeu", "agradeco")
BYE = _says("tchau", "ate mais", "ate logo", "falou")
YES = _says(
    "sim", "s", "pode", "confirmo", "confirma", "confirmar", "isso", "ok", "claro", "fechado"
)
NO = _says("nao", "n", "negativo", "cancela", "cancelar")
#: What the customer wants, in the order the words are tried. Buying comes before the order
#: topics ("fazer um pedido" is not a status question).
TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "buy",
        re.compile(
            r"\b(?:comprar|compro|pedir|encomendar|fazer (?:um )?pedido|novo pedido)\b"
            r"|\b(?:quero|queria|vou querer|manda|me ve)\s+" + QUANTITY + r"\b\s*\S"
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
PERSONAL = frozenset({"buy", "titulos", "tracking", "history", "order"})
#: Words that are not a product's name ("quero 3 pacotes do café moído" searches "cafe moido").
FILLER = _says(
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
    "agora",
    "tambem",
    "entao",
    "cpf",
    "cnpj",
    "documento",
    "meu",
    "minha",
    "sim",
    "oi",
    "ola",
    "bom dia",
    "boa tarde",
    "boa noite",
    *NUMBER_WORDS,
)


def topic_of(plain: str) -> str | None:
    return next((name for name, words in TOPICS if words.search(plain)), None)


def topics_in(reading: Reading) -> Iterator[tuple[str, str]]:
    """The customer's topic and the message that asks it: this message's, else the nearest
    earlier message's (a CPF or a birth date answers a question asked for an earlier request)."""
    for text in (reading.text, *reading.earlier):
        topic = topic_of(folded(DOCUMENT.sub(" ", text)))
        if topic is not None:
            yield topic, text


def goal_of(reading: Reading) -> tuple[str, str] | None:
    """The request about the customer's own records that this turn serves: this message's, or,
    when this message has no topic of its own (a CPF, a birth date), the nearest earlier one's."""
    found = next(topics_in(reading), None)
    return found if found is not None and found[0] in PERSONAL else None


def goal_topic(reading: Reading) -> str | None:
    goal = goal_of(reading)
    return goal[0] if goal else None


def quantity_of(word: str | None) -> int:
    if not word:
        return 1
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word, 1)


def product_words(plain: str) -> str:
    words = FILLER.sub(" ", re.sub(r"[^\w\s-]|\b\d+\b", " ", plain))
    # Plurals as a model would write a search ("canecas" → "caneca").
    return " ".join(w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words.split())
