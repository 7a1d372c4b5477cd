"""The fake OpenAI-compatible API, driven by the official ``openai`` client over real HTTP."""

from __future__ import annotations

import asyncio
import json
import math
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from atende.assistant.agent.toolbox import schemas
from atende.devtools.fake_llm import (
    DEFAULT_EMBEDDING_DIMENSIONS,
    ChatRequest,
    FakeLLM,
    Step,
    ToolCall,
    embedding_vector,
    estimate_tokens,
)

API_KEY = "sk-fake-test"
MODEL = "gpt-4o-mini"


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=API_KEY) as server:
        yield server


def client_for(
    llm: FakeLLM, *, api_key: str = API_KEY, timeout: float = 10.0
) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=llm.base_url,
        api_key=api_key,
        max_retries=0,
        timeout=timeout,
        http_client=openai.DefaultAioHttpClient(),
    )


@pytest.fixture
async def client(llm: FakeLLM) -> AsyncIterator[openai.AsyncOpenAI]:
    async with client_for(llm) as sdk:
        yield sdk


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def function_tool(name: str, **required: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} (test tool)",
            "parameters": {
                "type": "object",
                "properties": {arg: {"type": kind} for arg, kind in required.items()},
                "required": list(required),
            },
        },
    }


# -- completions --------------------------------------------------------------------------------


async def test_text_reply_echoes_the_model_and_estimates_usage(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.reply("Olá! Seu pedido saiu para entrega.")

    completion = await client.chat.completions.create(
        model="gpt-4.1-nano", messages=user("cadê meu pedido?")
    )

    choice = completion.choices[0]
    assert choice.message.content == "Olá! Seu pedido saiu para entrega."
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.model == "gpt-4.1-nano"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == estimate_tokens("cadê meu pedido?")
    assert completion.usage.completion_tokens == estimate_tokens(
        "Olá! Seu pedido saiu para entrega."
    )
    assert completion.usage.total_tokens == 4 + 9
    [recorded] = llm.requests
    assert recorded.path == "/v1/chat/completions"
    assert recorded.header("authorization") == f"Bearer {API_KEY}"
    assert recorded.status == 200
    assert recorded.json is not None
    assert recorded.json["messages"] == user("cadê meu pedido?")
    assert llm.chat_requests[0].last_user_text == "cadê meu pedido?"


async def test_usage_can_be_scripted(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    llm.reply("ok", prompt_tokens=1200, completion_tokens=7)

    completion = await client.chat.completions.create(model=MODEL, messages=user("oi"))

    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (1200, 7)
    assert completion.usage.total_tokens == 1207


async def test_parallel_tool_calls_are_parsed_by_the_sdk(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.call_tools(
        ToolCall("find_customer", {"document": "[CPF_1]"}),
        ToolCall("list_orders", {"customer_id": "c-42", "limit": 3}),
    )

    completion = await client.chat.completions.create(
        model=MODEL,
        messages=user("meu CPF é [CPF_1], e meus pedidos?"),
        tools=[
            function_tool("find_customer", document="string"),
            function_tool("list_orders", customer_id="string"),
        ],
    )

    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert message.tool_calls is not None
    calls = [call for call in message.tool_calls if call.type == "function"]
    assert [call.function.name for call in calls] == ["find_customer", "list_orders"]
    assert json.loads(calls[0].function.arguments) == {"document": "[CPF_1]"}
    assert json.loads(calls[1].function.arguments) == {"customer_id": "c-42", "limit": 3}
    assert all(re.fullmatch(r"call_\w+", call.id) for call in calls)
    assert calls[0].id != calls[1].id
    assert llm.chat_requests[0].tool_names == ["find_customer", "list_orders"]


async def test_scripted_steps_are_consumed_in_order_then_the_default_reply(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.reply("primeira")
    llm.reply("segunda")
    assert llm.pending_steps == 2

    answers = [
        (await client.chat.completions.create(model=MODEL, messages=user(str(i))))
        .choices[0]
        .message.content
        for i in range(3)
    ]

    assert answers == ["primeira", "segunda", llm.default_reply]
    assert llm.pending_steps == 0


async def test_malformed_arguments_arrive_as_the_raw_string(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    raw = '{"document": "123.456'
    llm.malformed_tool_call("find_customer", raw)

    completion = await client.chat.completions.create(model=MODEL, messages=user("oi"))

    [call] = completion.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "find_customer"
    assert call.function.arguments == raw


async def test_empty_and_long_replies(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    llm.empty()
    llm.text_of_length(5000, finish_reason="length")

    empty = await client.chat.completions.create(model=MODEL, messages=user("oi"))
    long = await client.chat.completions.create(model=MODEL, messages=user("oi"))

    assert empty.choices[0].message.content == ""
    assert empty.choices[0].message.tool_calls is None
    assert len(long.choices[0].message.content or "") == 5000
    assert long.choices[0].finish_reason == "length"


async def test_streaming_is_refused_with_an_openai_error(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.reply("never sent")

    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model=MODEL, messages=user("oi"), stream=True)

    assert caught.value.param == "stream"
    assert llm.pending_steps == 1  # a refused request does not consume the script


async def test_invalid_request_gets_a_400(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model=MODEL, messages=[])

    assert caught.value.param == "messages"


# -- failures -----------------------------------------------------------------------------------


async def test_429_surfaces_as_rate_limit_error_with_retry_after(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.fail(status=429, retry_after=2)

    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model=MODEL, messages=user("oi"))

    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.type == "requests"
    assert llm.requests[0].status == 429


async def test_500_then_the_next_scripted_step(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    llm.fail(status=500)
    llm.reply("recuperado")

    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model=MODEL, messages=user("oi"))
    completion = await client.chat.completions.create(model=MODEL, messages=user("oi"))

    assert caught.value.status_code == 500
    assert caught.value.type == "server_error"
    assert completion.choices[0].message.content == "recuperado"


async def test_delay_slows_the_next_answer(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    llm.delay(0.3)
    llm.reply("devagar")
    started = time.monotonic()

    completion = await client.chat.completions.create(model=MODEL, messages=user("oi"))

    assert time.monotonic() - started >= 0.3
    assert completion.choices[0].message.content == "devagar"
    assert llm.pending_steps == 0


async def test_a_delay_longer_than_the_client_timeout_times_out(llm: FakeLLM) -> None:
    llm.delay(30)
    llm.reply("tarde demais")
    llm.reply("a tempo")

    async with client_for(llm, timeout=0.3) as impatient:
        with pytest.raises(openai.APITimeoutError):
            await impatient.chat.completions.create(model=MODEL, messages=user("oi"))
        # The delay applied to one step only.
        completion = await impatient.chat.completions.create(
            model=MODEL, messages=user("oi"), timeout=10
        )

    assert completion.choices[0].message.content == "a tempo"
    assert [r.status for r in llm.requests] == [200, 200]


async def test_hang_never_answers_until_the_client_gives_up(llm: FakeLLM) -> None:
    llm.hang()

    async with client_for(llm, timeout=0.3) as impatient:
        with pytest.raises(openai.APITimeoutError):
            await impatient.chat.completions.create(model=MODEL, messages=user("oi"))

    [recorded] = llm.requests
    assert recorded.status == 0
    assert llm.in_flight == 1  # still hanging: stop() is what releases it


async def test_auth_rejects_a_wrong_or_missing_key_without_consuming_the_script(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.reply("só com chave")

    async with client_for(llm, api_key="sk-wrong") as intruder:
        with pytest.raises(openai.AuthenticationError) as caught:
            await intruder.chat.completions.create(model=MODEL, messages=user("oi"))
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{llm.base_url}/chat/completions", json={}) as response,
    ):
        missing = response.status, await response.json()
    completion = await client.chat.completions.create(model=MODEL, messages=user("oi"))

    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert missing[0] == 401
    assert "didn't provide an API key" in missing[1]["error"]["message"]
    assert completion.choices[0].message.content == "só com chave"


async def test_unknown_paths_get_openai_404(llm: FakeLLM) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{llm.base_url}/responses", json={"model": MODEL}) as response,
    ):
        body = await response.json()

    assert response.status == 404
    assert body["error"]["message"] == "Invalid URL (POST /v1/responses)"
    assert llm.requests[0].kind == "other"


# -- responders ---------------------------------------------------------------------------------


async def test_responder_answers_when_the_script_is_empty(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.responder = lambda request: Step.reply(f"eco: {request.last_user_text}")
    llm.reply("roteiro primeiro")

    first = await client.chat.completions.create(model=MODEL, messages=user("um"))
    second = await client.chat.completions.create(model=MODEL, messages=user("dois"))

    assert first.choices[0].message.content == "roteiro primeiro"
    assert second.choices[0].message.content == "eco: dois"


async def test_async_responder_and_a_delay_before_it(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    async def responder(request: ChatRequest) -> Step:
        await asyncio.sleep(0)
        return Step.tools(ToolCall("handoff", {"reason": request.last_user_text}))

    llm.responder = responder
    llm.delay(0.2)  # no step follows: it applies to the responder's answer
    started = time.monotonic()

    completion = await client.chat.completions.create(model=MODEL, messages=user("humano"))

    assert time.monotonic() - started >= 0.2
    [call] = completion.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert json.loads(call.function.arguments) == {"reason": "humano"}


async def test_a_failing_responder_answers_500_and_is_kept(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    def broken(_request: ChatRequest) -> Step:
        raise ValueError("bug in the test's responder")

    llm.responder = broken

    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model=MODEL, messages=user("oi"))

    assert "bug in the test's responder" in caught.value.message
    assert [type(error) for error in llm.responder_errors] == [ValueError]


# -- recording and waiting ----------------------------------------------------------------------


async def test_wait_for_requests_sees_a_request_while_it_is_still_pending(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.hang()
    pending = asyncio.create_task(
        client.chat.completions.create(model=MODEL, messages=user("meu CPF é [CPF_1]"))
    )

    [recorded] = await llm.wait_for_requests(1, kind="chat")

    assert recorded.chat is not None
    assert "[CPF_1]" in recorded.chat.text()
    assert not pending.done()
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending


async def test_wait_for_requests_times_out_with_a_summary(llm: FakeLLM) -> None:
    with pytest.raises(TimeoutError, match="expected at least 1 chat requests"):
        await llm.wait_for_requests(1, timeout=0.05, kind="chat")


async def test_text_covers_contents_and_tool_call_arguments(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    await client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Você atende a Loja."},
            {"role": "user", "content": [{"type": "text", "text": "meu CPF é [CPF_1]"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "find_customer",
                            "arguments": '{"document":"[CPF_1]"}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"name": "Maria"}'},
        ],
    )

    [request] = llm.chat_requests
    sent = request.text()
    assert request.system_prompt == "Você atende a Loja."
    assert 'find_customer({"document":"[CPF_1]"})' in sent
    assert '{"name": "Maria"}' in sent
    assert not re.search(r"\d{3}\.\d{3}\.\d{3}-\d{2}", sent)


# -- audio, embeddings, models ------------------------------------------------------------------


async def test_transcription_is_scripted_and_the_upload_recorded(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    audio = b"OggS" + bytes(1000)
    llm.transcribe_as("quero a segunda via do boleto")

    scripted = await client.audio.transcriptions.create(
        file=("note.ogg", audio, "audio/ogg"), model="whisper-1", language="pt"
    )
    default = await client.audio.transcriptions.create(
        file=("other.ogg", b"x", "audio/ogg"), model="whisper-1", response_format="text"
    )

    assert scripted.text == "quero a segunda via do boleto"
    assert default == llm.transcription
    first = llm.transcriptions[0]
    assert first.path == "/v1/audio/transcriptions"
    assert first.form is not None
    assert first.form["file"] == {"filename": "note.ogg", "content_type": "audio/ogg", "size": 1004}
    assert first.form["model"] == "whisper-1"
    assert first.form["language"] == "pt"


async def test_transcription_failure(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    llm.fail_transcription(429, retry_after=1)

    with pytest.raises(openai.RateLimitError) as caught:
        await client.audio.transcriptions.create(
            file=("note.ogg", b"x", "audio/ogg"), model="whisper-1"
        )

    assert caught.value.response.headers["retry-after"] == "1"


async def test_embeddings_are_deterministic_unit_vectors(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    default = await client.embeddings.create(
        model="text-embedding-3-small", input=["boleto", "pix"]
    )
    again = await client.embeddings.create(
        model="text-embedding-3-small", input="boleto", encoding_format="float"
    )
    small = await client.embeddings.create(
        model="text-embedding-3-small", input="boleto", dimensions=16, encoding_format="float"
    )

    boleto, pix = (item.embedding for item in default.data)
    assert len(boleto) == DEFAULT_EMBEDDING_DIMENSIONS
    assert boleto == pytest.approx(embedding_vector("boleto"), abs=1e-6)  # float32 via base64
    assert again.data[0].embedding == embedding_vector("boleto")
    assert boleto != pytest.approx(pix, abs=1e-3)
    assert math.fsum(v * v for v in again.data[0].embedding) == pytest.approx(1.0)
    assert len(small.data[0].embedding) == 16
    assert default.model == "text-embedding-3-small"
    assert default.usage.prompt_tokens == estimate_tokens("boleto") + estimate_tokens("pix")


def test_embeddings_of_texts_sharing_words_are_closer_than_unrelated_ones() -> None:
    def cosine(a: str, b: str) -> float:
        pairs = zip(embedding_vector(a), embedding_vector(b), strict=True)
        return math.fsum(x * y for x, y in pairs)

    near = cosine("a cadeira chegou quebrada", "e a cadeira quebrada, vai trocar?")
    far = cosine("a cadeira chegou quebrada", "segunda via do boleto")

    assert near > 0.5
    assert abs(far) < 0.3
    assert cosine("!!!", "!!!") == pytest.approx(1.0)


async def test_models_are_listed(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    listed = [model.id async for model in client.models.list()]

    assert listed == llm.models
    assert (await client.models.retrieve("whisper-1")).id == "whisper-1"
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("gpt-99")


# -- throughput and the standalone server -------------------------------------------------------


async def test_delayed_answers_are_served_concurrently() -> None:
    requests = 50
    async with FakeLLM(delay=1.5) as llm, client_for(llm, api_key="any") as sdk:
        completions = await asyncio.gather(
            *(
                sdk.chat.completions.create(model=MODEL, messages=user(str(i)))
                for i in range(requests)
            )
        )

    assert [c.choices[0].message.content for c in completions] == [llm.default_reply] * requests
    assert llm.max_in_flight == requests


async def test_standalone_serves_the_demo_behaviour() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "atende.devtools.fake_llm",
        "--port",
        "0",
        "--behaviour",
        "demo",
        "--api-key",
        API_KEY,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        banner = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
        found = re.search(r"http://\S+/v1", banner)
        assert found, banner
        async with openai.AsyncOpenAI(
            base_url=found.group(0),
            api_key=API_KEY,
            max_retries=0,
            http_client=openai.DefaultAioHttpClient(),
        ) as sdk:
            completion = await sdk.chat.completions.create(
                model=MODEL, messages=user("meu CPF é [CPF_1]"), tools=schemas("finance")
            )
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), 30)

    [call] = completion.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "identify_customer"
    assert json.loads(call.function.arguments) == {"document": "[CPF_1]"}
    assert returncode == 0
