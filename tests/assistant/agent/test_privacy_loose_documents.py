"""Documents written loosely (odd grouping, other separators, dictated in words) are found by the
NLU's entity scanner; the redactor must hide them from the model as well, and give the tools a
document they can read."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from atende.assistant.agent.privacy import PLACEHOLDER, Redactor
from atende.brazil.documents import check_document
from atende.devtools.fake_llm import ChatRequest, Step, ToolCall
from tests.assistant.agent.support import Chat, World, records

SPOKEN_CPF = "cinco dois nove nove oito dois dois quatro sete dois cinco"
LOOSE_WRITINGS = [
    ("meu cpf é " + SPOKEN_CPF, "52998224725"),
    ("meu cpf é cinco dois nove nove oito dois dois quatro sete dois meia", "52998224726"),
    ("cpf 52 99 822 47 25", "52998224725"),
    ("cpf 529,982,247-25", "52998224725"),
    ("meu cpf 529.982.247 - 25", "52998224725"),
    ("cpf 529-982-247-25", "52998224725"),
    ("cnpj 11 222 333 0001 81", "11222333000181"),
    ("cnpj 11.222.333.0001-81", "11222333000181"),
]


def _digit_runs(text: str) -> str:
    return re.sub(r"\D", "", text)


@pytest.mark.parametrize(("text", "document"), LOOSE_WRITINGS)
def test_that_a_loosely_written_document_is_redacted_and_restored_readable(
    text: str, document: str
) -> None:
    redactor = Redactor()

    redacted = redactor.redact(text)

    kind = "CPF" if len(document) == 11 else "CNPJ"
    assert redacted.endswith(f"[{kind}_1]"), redacted
    assert not re.search(r"[0-9]", PLACEHOLDER.sub("", redacted)), redacted
    assert "dois" not in redacted
    # What a tool gets back is a document check_document reads as the one typed.
    assert check_document(redactor.restore(f"[{kind}_1]")).value == document


def test_that_a_dictated_and_a_typed_cpf_share_one_placeholder() -> None:
    redactor = Redactor()

    redacted = redactor.redact(f"meu cpf é {SPOKEN_CPF}, ou seja 529.982.247-25")

    assert redacted == "meu cpf é [CPF_1], ou seja [CPF_1]"


def _tool_result(request: ChatRequest) -> dict[str, Any]:
    last = request.last_message or {}
    assert last.get("role") == "tool"
    result: dict[str, Any] = json.loads(str(last["content"]))
    return result


@pytest.mark.parametrize(
    "message",
    [
        f"preciso do boleto, meu cpf é {SPOKEN_CPF}",
        "preciso do boleto, cpf 52 99 822 47 25",
        "preciso do boleto, cpf 529,982,247-25",
    ],
)
async def test_that_the_model_never_sees_a_loose_cpf_and_the_tool_gets_it(
    world: World, message: str
) -> None:
    world.llm.call_tools(ToolCall("identify_customer", {"document": "[CPF_1]"}))
    world.llm.responder = lambda request: Step.reply(
        f"Identificação: {_tool_result(request).get('status')}"
    )

    reply = await Chat(world).say(message)

    for request in world.llm.chat_requests:
        text = request.text()
        assert "52998224725" not in _digit_runs(text)
        assert "nove nove oito" not in text
        assert "52 99 822" not in text
    assert "[CPF_1]" in world.llm.chat_requests[0].last_user_text
    # identify_customer read the real CPF: Maria, writing from her own phone, is verified.
    assert "verified" in reply
    (record,) = await records(world.container)
    assert record.tool_calls[0]["name"] == "identify_customer"
    assert record.tool_calls[0]["ok"] is True, record.tool_calls
    assert "52998224725" not in json.dumps(record.tool_calls)
