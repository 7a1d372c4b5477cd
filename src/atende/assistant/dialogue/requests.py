"""A turn that carries several requests (``burst.split_requests``) answered each in turn,
in the order asked; when one leaves a question open, the rest are kept in
``SessionMemory.dialogue.kept_requests`` and answered once it is done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re

from atende.assistant.dialogue.burst import split_requests
from atende.assistant.dialogue.conversation import Conversation
from atende.assistant.port import Handoff, OptOut, TurnMessage
from atende.assistant.tools.core import ToolError

_LEADING_CUE = re.compile(
    r"^(?:ah,?\s+)?e\s+(?:tamb[eé]m|tb|tbm)\s+|^(?:al[eé]m\s+disso|outra\s+coisa)\W*\s*",
    re.IGNORECASE,
)
#: Characters of a turn the NLU reads (a burst of long messages can add up to tens of KB).
NLU_MAX_CHARS = 2000


class RequestsFlow(Conversation):
    """The requests a turn carries, answered one after the other."""

    async def _answer_turn(self) -> str:
        """Answer each request the turn carries, in the order asked (``dialogue/burst.py``),
        then the requests kept from an earlier turn if nothing is left open. The intent of
        the turn's first request is returned."""
        whole = self.turn
        # CPU-bound (a few ms a fragment): in a thread, so the event loop keeps acknowledging
        # webhooks.
        requests = await asyncio.to_thread(
            split_requests,
            whole.messages,
            self.engine._nlu.understand,
            answering=bool(self.state.dialogue.awaiting),
        )
        try:
            if len(requests) > 1:
                intent = await self._answer_requests(
                    [(request.text, tuple(request.messages)) for request in requests]
                )
            else:
                intent = await self._answer_one(whole.text, whole.messages)
            kept = list(self.state.dialogue.kept_requests)
            if kept and not self.state.dialogue.awaiting and not self._stopped():
                self.state.dialogue.kept_requests = []
                await self._answer_requests([(text, _as_messages(text)) for text in kept])
        finally:
            self.turn = whole
        return intent

    async def _answer_one(self, text: str, messages: tuple[TurnMessage, ...]) -> str:
        self.turn = dataclasses.replace(self.turn, text=text, messages=messages)
        # A flood of long fragments is read from its end, where the latest request is.
        understanding = await asyncio.to_thread(self.engine._nlu.understand, text[-NLU_MAX_CHARS:])
        # Kept before acting: a request that fails (no connector…) is still audited with it.
        self.first_intent = self.first_intent or understanding.intent
        await self._dispatch(understanding)
        return understanding.intent

    async def _answer_requests(self, requests: list[tuple[str, tuple[TurnMessage, ...]]]) -> str:
        """One request after the other; when one leaves a question open (a CPF, a choice),
        the rest are kept for when it is done, and the customer is told so."""
        first = ""
        for index, (text, messages) in enumerate(requests):
            try:
                intent = await self._answer_one(text, messages)
            except ToolError as error:
                if error.code == "unavailable":
                    raise
                self.say(error.message)
                intent = "error"
            first = first or intent
            rest = [later for later, _ in requests[index + 1 :]]
            if not rest or self._stopped():
                break
            if self.state.dialogue.awaiting:
                self.state.dialogue.kept_requests = rest
                self.say(_kept_text(rest))
                break
        return first

    def _stopped(self) -> bool:
        """A person takes over, or the customer opted out: nothing more to answer."""
        return any(isinstance(action, Handoff | OptOut) for action in self.actions)


def _kept_text(kept: list[str]) -> str:
    if len(kept) == 1:
        # "ah e também saber do meu pedido" is quoted as "saber do meu pedido".
        asked = _LEADING_CUE.sub("", kept[0]) or kept[0]
        quoted = asked if len(asked) <= 80 else asked[:77] + "..."
        return f"Vamos por partes: depois disso eu respondo também “{quoted}”."
    return (
        f"Vamos por partes: anotei as outras {len(kept)} perguntas e respondo na ordem, "
        "assim que terminarmos esta."
    )


def _as_messages(text: str) -> tuple[TurnMessage, ...]:
    return (TurnMessage("text", text, {"body": text}),)
