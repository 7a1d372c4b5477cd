"""The dialogue's boletos: the open ones listed (a WhatsApp list, or numbered text), the
customer's pick read by ``choice.choose``, and the second copy sent as linha digitável, PDF and
PIX, each in its own message.
"""

from __future__ import annotations

import dataclasses

from atende.assistant.dialogue.choice import Choice, ChoiceStatus, Option, choose
from atende.assistant.dialogue.conversation import Conversation
from atende.assistant.dialogue.replies import (
    boleto_document,
    option_line,
    second_copy_intro,
    titulo_line,
    titulo_option,
    titulos_heading,
)
from atende.assistant.memory import ListOption
from atende.assistant.nlu import Understanding
from atende.assistant.tools.models import RequestSecondCopy
from atende.brazil.money import format_brl
from atende.brazil.plural import count_of
from atende.channels.types import ListContent, ListRow, ListSection


class InvoiceFlow(Conversation):
    """The open boletos listed, one chosen the way customers answer lists, its second copy
    sent."""

    async def _titulos(self, goal: str) -> None:
        tools = await self.tools()
        self.tools_called.append("open_titulos")
        titulos = (await tools.open_titulos()).titulos
        if not titulos:
            self.say(self.replies.text("no_titulos"))
            return
        if len(titulos) == 1 and goal == "invoice_copy":
            await self._second_copy(titulos[0].id)
            return
        options = [titulo_option(t) for t in titulos]
        self.state.dialogue.options = [
            ListOption(**dataclasses.asdict(option)) for option in options
        ]
        self.state.dialogue.awaiting = "titulo"
        heading = titulos_heading(titulos, goal)
        if goal == "invoice_copy":
            ending = "Responda com o número."
        elif len(titulos) == 1:
            ending = "Quer a 2ª via? Responda *1*."
        else:
            ending = "Quer a 2ª via de algum? Responda com o número."
        if self.turn.interactive and len(titulos) <= 10:
            rows = tuple(ListRow(t.id, format_brl(t.amount_cents), titulo_line(t)) for t in titulos)
            self.say(
                ListContent(body=heading, button="Ver boletos", sections=(ListSection(None, rows),))
            )
        else:
            lines = [f"{n}. {titulo_line(t)}" for n, t in enumerate(titulos, 1)]
            self.say(heading + "\n" + "\n".join(lines) + "\n" + ending)

    async def _choose_titulo(self, nlu: Understanding) -> bool:
        """The customer's answer to the list of títulos: the 2ª via of the one chosen, or the
        list again when the answer fits several or none. False: not an answer to the list."""
        options = self._titulo_options()
        choice = self._choice(options)
        if choice.status is ChoiceStatus.none and len(options) == 1 and nlu.intent == "affirm":
            choice = Choice(ChoiceStatus.chosen, (options[0],))
        chosen = choice.chosen
        if chosen is not None:
            await self._second_copy(chosen.id)
            return True
        # "o 7" is a wrong answer to the list; a long message with a number in it is more
        # likely a new request.
        short = len(self.turn.text.split()) <= 5
        if choice.status is ChoiceStatus.ambiguous or (
            choice.status is ChoiceStatus.unmatched and short
        ):
            self._ask_titulo_again(options, choice)
            return True
        return False

    def _titulo_options(self) -> list[Option]:
        return [Option(**option.model_dump()) for option in self.state.dialogue.options]

    def _choice(self, options: list[Option]) -> Choice:
        ids = {option.id: option for option in options}
        for message in self.turn.messages:
            picked = message.content.get("id")
            if message.type in {"list_reply", "button_reply"} and picked in ids:
                return Choice(ChoiceStatus.chosen, (ids[str(picked)],))
        return choose(options, self.turn.text)

    def _ask_titulo_again(self, options: list[Option], choice: Choice) -> None:
        if choice.status is ChoiceStatus.ambiguous:
            shown = list(choice.candidates)
            body = f"Encontrei {count_of(len(shown), 'boleto')} assim. Qual deles?"
        elif choice.status is ChoiceStatus.none:
            shown = options
            body = "Certo, identificação confirmada. De qual boleto você quer a 2ª via?"
        else:
            shown = options
            body = "Não achei esse boleto na lista. Qual deles você quer?"
        if self.turn.interactive and len(shown) <= 10:
            rows = tuple(
                ListRow(o.id, format_brl(o.amount_cents or 0), option_line(o)) for o in shown
            )
            self.say(
                ListContent(body=body, button="Ver boletos", sections=(ListSection(None, rows),))
            )
            return
        lines = [f"{options.index(o) + 1}. {option_line(o)}" for o in shown]
        self.say(body + "\n" + "\n".join(lines) + "\nResponda com o número.")

    async def _second_copy(self, titulo_id: str) -> None:
        tools = await self.tools()
        self.step = {"do": "second_copy", "titulo_id": titulo_id}
        self.tools_called.append("second_copy")
        copy = await tools.second_copy(RequestSecondCopy(titulo_id=titulo_id))
        self.state.dialogue.awaiting = None
        self.state.dialogue.options = []
        self.say(second_copy_intro(copy))
        self.say(copy.linha_digitavel)
        if (document := boleto_document(copy)) is not None:
            self.say(document)
        if copy.pix_copia_e_cola:
            self.say("Se preferir pagar com PIX, use o copia e cola abaixo:")
            self.say(copy.pix_copia_e_cola)
