"""The minimal offline pt-BR engine: greets, hands off on request, and admits what it does not know.

The full offline assistant (intents, entities, business tools) replaces this in its own issue; the
port stays the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from unidecode import unidecode

from atende.assistant.port import Action, Handoff, Remember, Say, Turn
from atende.channels.types import TextContent

_GREETING = re.compile(
    r"\b(oi+|ola|ole|bom dia|boa tarde|boa noite|e ai|eae|opa|hello|hi|salve|tudo bem)\b"
)
_HUMAN = re.compile(
    r"\b(atendente|humano|human[ao]|pessoa|alguem|gente de verdade|operador|"
    r"falar com (um|uma|o|a|alguem)|transfer(e|ir|a)\b|suporte humano)\b"
)

GREETING = "Olá{name}! 👋 Sou a assistente virtual. Como posso ajudar?"
HANDOFF = (
    "Certo, vou te transferir para um atendente humano. "
    "Em instantes alguém da nossa equipe continua por aqui. 🙂"
)
NOT_UNDERSTOOD = (
    "Desculpe, ainda não consegui entender. 😕 "
    "Você pode escrever de outro jeito ou pedir para falar com um atendente."
)


def normalise(text: str) -> str:
    """Lowercase, without accents or emoji, so 'Olá' and 'ola' and 'OLÁ!!' read the same."""
    return unidecode(text).lower()


class OfflineEngine:
    name = "offline"

    async def reply(self, turn: Turn) -> Sequence[Action]:
        text = normalise(turn.text)
        misunderstood = int(turn.state.get("misunderstood", 0))
        if _HUMAN.search(text):
            return [Say(TextContent(HANDOFF)), Handoff("customer asked for a human")]
        if _GREETING.search(text):
            first = (turn.contact_name or "").split(" ")[0]
            greeting = GREETING.format(name=f", {first}" if first else "")
            return [Say(TextContent(greeting)), Remember({"misunderstood": 0})]
        return [Say(TextContent(NOT_UNDERSTOOD)), Remember({"misunderstood": misunderstood + 1})]
