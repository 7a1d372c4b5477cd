"""pt-BR wording, per tenant: defaults that a tenant overrides in ``settings["templates"]``.

WhatsApp formatting: *bold*, _italic_; one idea per message; the linha digitável alone in its
own message so that a long press copies exactly it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from atende.assistant.dialogue.choice import Option
from atende.assistant.tools.models import OrderView, SecondCopyView, TituloView
from atende.brazil.documents import DocumentKind, DocumentProblem
from atende.brazil.money import format_brl
from atende.brazil.plural import count_of
from atende.channels.types import MediaContent

DEFAULTS: Mapping[str, str] = {
    "greeting": (
        "Olá{name}! 👋 Eu sou a {assistant}, assistente virtual da {business}. Posso te ajudar "
        "com *2ª via de boleto*, *pedidos e entregas* e *estoque e preços*. Como posso ajudar?"
    ),
    "hello": "Olá{name}! 👋",
    "sign_off": "Até mais! Se precisar, é só chamar por aqui. 😊",
    "thanks": "Por nada! Posso ajudar com mais alguma coisa?",
    "ask_document": "Para consultar, me informe o *CPF ou CNPJ* do cadastro, por favor.",
    "not_understood": (
        "Desculpe, não entendi. 😕 Posso ajudar com *2ª via de boleto*, *pedidos e entregas* "
        "ou *estoque*. Pode escrever de outro jeito?"
    ),
    "offer_human": (
        "Parece que não estou conseguindo te ajudar. Quer falar com um atendente? Responda "
        "*atendente* que eu transfiro."
    ),
    "handoff_open": (
        "Certo! Vou te transferir para um atendente humano. Em instantes alguém da nossa equipe "
        "continua por aqui. 🙂"
    ),
    "handoff_closed": (
        "Certo! Vou te transferir para um atendente humano. Nossa equipe atende {hours}; "
        "assim que abrirmos, alguém continua por aqui. 🙂"
    ),
    "complaint": (
        "Sinto muito pelo transtorno. 😔 Vou passar sua conversa para um atendente humano, que "
        "vai cuidar disso com prioridade."
    ),
    "opt_out": (
        "Pronto, registrei que você não quer mais receber nossas mensagens. Se mudar de ideia, "
        "é só escrever aqui."
    ),
    "cancelled": "Tudo bem, cancelei. Posso ajudar com mais alguma coisa?",
    "deferred": (
        "Nosso sistema está fora do ar neste momento. 😕 Já anotei o seu pedido e te respondo "
        "aqui assim que ele voltar. Se preferir, responda *atendente*."
    ),
    "resumed": "Nosso sistema voltou! ✅ Sobre o que você me pediu:",
    "no_titulos": "Você não tem boletos em aberto. 🎉",
    "no_orders": "Não encontrei pedidos nos últimos 60 dias.",
    "faq_missing": (
        "Não encontrei essa informação aqui. Quer falar com um atendente? Responda *atendente*."
    ),
}

_WEEKDAYS = ["segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo"]


class Replies:
    def __init__(self, business: str, settings: Mapping[str, Any]) -> None:
        self.business = business or "nossa empresa"
        self.assistant = str(settings.get("assistant_name") or "Ana")
        self._templates = {**DEFAULTS, **dict(settings.get("templates") or {})}
        self._hours = dict(settings.get("business_hours") or {})
        self._tz = ZoneInfo(str(settings.get("timezone") or "America/Sao_Paulo"))

    def text(self, key: str, **values: Any) -> str:
        return str(self._templates[key]).format(
            assistant=self.assistant, business=self.business, **values
        )

    def greeting(self, name: str | None) -> str:
        first = (name or "").split(" ")[0]
        return self.text("greeting", name=f", {first}" if first else "")

    def hello(self, name: str | None) -> str:
        """The short greeting put before the answer when a message greets and asks at once."""
        first = (name or "").split(" ")[0]
        return self.text("hello", name=f", {first}" if first else "")

    # -- business hours --------------------------------------------------------------------

    def open_now(self, now: datetime) -> bool:
        """Within business hours? ``business_hours`` maps "mon".."sun" to "08:00-18:00"."""
        if not self._hours:
            return True
        local = now.astimezone(self._tz)
        key = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][local.weekday()]
        span = self._hours.get(key)
        if not span:
            return False
        start, end = (time.fromisoformat(part.strip()) for part in str(span).split("-"))
        return start <= local.time() < end

    def handoff(self, now: datetime) -> str:
        if self.open_now(now):
            return self.text("handoff_open")
        return self.text("handoff_closed", hours=self.hours_text())

    def hours_text(self) -> str:
        days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        parts = [f"{_WEEKDAYS[i]} {self._hours[d]}" for i, d in enumerate(days) if d in self._hours]
        return ", ".join(parts) or "em horário comercial"


def format_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def titulo_line(titulo: TituloView) -> str:
    due = format_date(titulo.due_date)
    if titulo.status == "overdue":
        late = count_of(titulo.days_overdue, "dia")
        return f"{format_brl(titulo.amount_cents)}, venceu em {due} ({late})"
    return f"{format_brl(titulo.amount_cents)}, vence em {due}"


def titulo_option(titulo: TituloView) -> Option:
    """A título as an item of the list the customer chooses from."""
    return Option(
        id=titulo.id,
        amount_cents=titulo.amount_cents,
        day=titulo.due_date,
        overdue=titulo.status == "overdue",
    )


def option_line(option: Option) -> str:
    """A título offered again (from the session memory) when the choice was not clear."""
    if option.amount_cents is None or option.day is None:
        return option.id
    verb = "venceu" if option.overdue else "vence"
    return f"{format_brl(option.amount_cents)}, {verb} em {format_date(option.day)}"


def titulos_heading(titulos: list[TituloView], goal: str) -> str:
    """The first line over the list of open títulos: how many, and their total."""
    how_many = count_of(len(titulos), "boleto")
    total = format_brl(sum(t.amount_cents for t in titulos))
    if goal == "open_invoices":
        if len(titulos) == 1:
            return f"Você tem {how_many} em aberto, de *{total}*:"
        return f"Você tem {how_many} em aberto, no total de *{total}*:"
    if len(titulos) == 1:
        return f"Você tem {how_many} em aberto. Quer a 2ª via dele?"
    return f"Você tem {how_many} em aberto (total de *{total}*). De qual quer a 2ª via?"


def second_copy_intro(copy: SecondCopyView) -> str:
    lines = [
        f"Aqui está a 2ª via do seu boleto de *{format_brl(copy.amount_cents)}*, "
        f"com vencimento em *{format_date(copy.due_date)}*."
    ]
    if copy.reissued:
        lines.append("Como o boleto estava vencido, ele foi reemitido com multa e juros.")
    lines.append("A linha digitável vai na próxima mensagem, para você copiar:")
    return "\n".join(lines)


def boleto_document(copy: SecondCopyView) -> MediaContent | None:
    """The boleto's PDF as a WhatsApp document (its link made by ``business.links.BoletoLinks``:
    sealed, absolute, expiring), or None when there is no link to send. Both engines send
    this same message after the linha digitável."""
    if not copy.pdf_url:
        return None
    return MediaContent(
        media_type="document",
        link=copy.pdf_url,
        caption=f"Boleto com vencimento em {format_date(copy.due_date)}",
        filename=f"boleto-{copy.titulo_id}.pdf",
    )


_STATUS = {
    "processing": "em separação",
    "shipped": "enviado",
    "delivered": "entregue",
    "cancelled": "cancelado",
}


def order_text(order: OrderView) -> str:
    number = order.number or order.id
    lines = [
        f"Pedido *{number}*: {_STATUS[order.status]} ({format_brl(order.total_cents)}).",
        "Itens: " + "; ".join(order.items) + ".",
    ]
    if order.tracking_code:
        carrier = f" ({order.carrier})" if order.carrier else ""
        lines.append(f"Rastreio{carrier}: *{order.tracking_code}*")
        if order.tracking_url:
            lines.append(order.tracking_url)
    return "\n".join(lines)


def orders_text(orders: list[OrderView]) -> str:
    return "\n\n".join(order_text(order) for order in orders)


#: Characters of an order history in one answer: a customer who orders every week would get a
#: wall of text; and beyond the LLM agent's limit for an answer (``MAX_ANSWER_CHARS``, 1,500)
#: the agent takes it for a rambling model and falls back.
ORDERS_CHARS = 1200


def order_history_text(orders: list[OrderView]) -> str:
    """The orders, newest first, within an answer's length: in full when they fit, else one
    line each (number, status, total), and, for a customer who orders very often, the newest
    that fit with a word that there are more. Both engines answer an order history with it."""
    if len(orders_text(orders)) <= ORDERS_CHARS:
        return orders_text(orders)
    lines = [order_text(order).split("\n")[0] for order in orders]
    ending = "Para ver os itens ou o rastreio de um deles, me mande o número."
    while len(lines) > 1 and len("\n".join(lines)) > ORDERS_CHARS:
        lines.pop()
    if len(lines) == len(orders):
        heading = f"Estes são os seus {len(lines)} pedidos:"
    else:
        heading = f"Estes são os seus {len(lines)} pedidos mais recentes:"
    return heading + "\n" + "\n".join(lines) + "\n\n" + ending


# -- identification ---------------------------------------------------------------------------

_DOCUMENT_PROBLEMS = {
    DocumentProblem.check_digits: "os dígitos verificadores não conferem",
    DocumentProblem.length: "ele não tem o número de dígitos de um CPF (11) ou CNPJ (14)",
    DocumentProblem.repeated_digits: "ele tem todos os dígitos iguais",
    DocumentProblem.characters: "ele tem caracteres que um CPF ou CNPJ não tem",
    DocumentProblem.empty: "não consegui ler o número",
}
PHONE_NOT_DOCUMENT = (
    "Esse número parece um telefone. Para consultar, preciso do *CPF* (11 dígitos) ou do *CNPJ* "
    "(14) do cadastro."
)


def mistyped_document(kind: DocumentKind | None, reason: str | None) -> str:
    """A CPF or CNPJ that fails its checks (``reason``: a :class:`DocumentProblem`): most likely
    a typo, so say so and ask again."""
    name = (
        {DocumentKind.cpf: "CPF", DocumentKind.cnpj: "CNPJ"}.get(kind, "número")
        if kind
        else ("número")
    )
    try:
        problem = _DOCUMENT_PROBLEMS[DocumentProblem(reason or "empty")]
    except ValueError:
        problem = "ele não passa na conferência dos dígitos"
    return (
        f"Esse {name} parece ter sido digitado com algum erro: {problem}. Pode conferir e "
        "mandar de novo?"
    )


def wrong_length(digits: int) -> str:
    """A number the customer meant as a CPF or CNPJ with a digit too few or too many."""
    return (
        f"Esse número tem {count_of(digits, 'dígito')}, mas um CPF tem 11 e um CNPJ, 14. "
        "Parece que faltou ou sobrou algum: pode conferir e mandar de novo?"
    )


def challenge_wrong(attempts_left: int) -> str:
    """A wrong answer to the verification question, worded the same for a customer's document
    and for an unknown one."""
    left = f"{'Resta' if attempts_left == 1 else 'Restam'} {count_of(attempts_left, 'tentativa')}"
    return f"Não confere com o cadastro. Confira também se o CPF ou CNPJ está certo. {left}."
