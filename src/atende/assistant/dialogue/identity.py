"""The dialogue's identification: the CPF or CNPJ asked, checked and verified through the
tools (``identify_customer``, ``answer_challenge``); who may see what is the tools' decision
(``tools/verification.py``), never this module's.
"""

from __future__ import annotations

import re

import phonenumbers
from unidecode import unidecode

from atende.assistant.dialogue.choice import Choice, ChoiceStatus
from atende.assistant.dialogue.conversation import Conversation
from atende.assistant.dialogue.replies import (
    PHONE_NOT_DOCUMENT,
    challenge_wrong,
    mistyped_document,
    wrong_length,
)
from atende.assistant.nlu import Understanding
from atende.assistant.tools.models import AnswerChallenge, IdentifyCustomer
from atende.brazil.documents import DocumentKind, check_document

_DOCUMENT_WORDS = re.compile(r"\b(cpf|cnpj|documento|doc)\b")
#: A run of digits with the punctuation documents and phones are written with.
_DIGIT_RUN = re.compile(r"(?<![\w+])\+?\(?\d[\d.\-/() ]{6,24}\d(?!\w)")


class IdentityFlow(Conversation):
    """Asking who the customer is, and checking it: the CPF/CNPJ (a mistyped one is
    pointed out), then the tenant's challenge."""

    async def _identify(self, document: str) -> None:
        tools = await self.tools()
        self.step = {"do": "identify", "document": document}
        self.tools_called.append("identify_customer")
        result = await tools.identify_customer(IdentifyCustomer(document=document))
        if result.status == "verified":
            if self.state.dialogue.awaiting == "titulo" and not self.state.dialogue.goal:
                # The document again while choosing a boleto: the list still stands.
                self._ask_titulo_again(self._titulo_options(), Choice(ChoiceStatus.none))
                return
            self.state.dialogue.awaiting = None
            await self._goal()
        elif result.status == "challenge":
            self.state.dialogue.awaiting = "challenge"
            self.say(result.question or "Para sua segurança, confirme um dado do cadastro.")
        elif result.status == "invalid_document":
            self.state.dialogue.awaiting = "document"
            self.say(mistyped_document(check_document(document).kind, result.reason))
        else:
            self.handoff("verification locked")

    async def _answer_challenge(self, answer: str) -> None:
        tools = await self.tools()
        self.step = {"do": "challenge", "answer": answer}
        self.tools_called.append("answer_challenge")
        result = await tools.answer_challenge(AnswerChallenge(answer=answer))
        if result.status == "verified":
            self.state.dialogue.awaiting = None
            self.say("Obrigada, identidade confirmada! ✅")
            await self._goal()
        elif result.status == "wrong":
            left = result.attempts_left
            self.say(challenge_wrong(left))
        else:
            self.handoff(
                "verification failed",
                "Não consegui confirmar seus dados. " + self.replies.handoff(self.turn.now),
            )

    def _mistyped_document(self, nlu: Understanding, awaiting_document: bool) -> str | None:
        """What to say when the customer meant to type a CPF or CNPJ and it came out wrong: a
        check digit off, or a digit missing or too many. A phone number is not a mistyped CPF;
        it is told apart by its shape, unless the customer called it a document."""
        folded = unidecode(self.turn.text).lower()
        called_document = bool(_DOCUMENT_WORDS.search(folded))
        for invalid in nlu.invalid_documents:
            if invalid.kind == "cpf" and not called_document and _is_phone(invalid.value):
                return PHONE_NOT_DOCUMENT if awaiting_document else None
            kind = DocumentKind.cpf if invalid.kind == "cpf" else DocumentKind.cnpj
            return mistyped_document(kind, invalid.reason)
        if not (awaiting_document or called_document):
            return None
        for match in _DIGIT_RUN.finditer(self.turn.text):
            digits = re.sub(r"\D", "", match.group())
            if not called_document and _is_phone(match.group()):
                return PHONE_NOT_DOCUMENT
            if len(digits) in {11, 14} or not 9 <= len(digits) <= 16:
                continue
            return wrong_length(len(digits))
        return None


def _is_phone(text: str) -> bool:
    """A Brazilian phone number (with or without +55, area code and punctuation)."""
    try:
        number = phonenumbers.parse(text, "BR")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)
