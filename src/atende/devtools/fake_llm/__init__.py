"""A local stand-in for an OpenAI-compatible API, for tests, benchmarks and demos of the LLM agent.

``server.py`` is the fake itself (real HTTP, OpenAI's wire format, scripted answers, recorded
requests); ``demo.py`` (with ``reading.py`` and ``orders.py``) is its demo behaviour, a
deterministic stand-in that drives the agent's tools through every flow of ``scenarios/`` (it is
not a model: nothing here measures answer quality); ``standalone.py`` runs it as
``atende fake-llm`` or ``python -m atende.devtools.fake_llm --port 8090 [--behaviour demo]``.
"""

from atende.devtools.fake_llm.demo import demo_responder
from atende.devtools.fake_llm.server import (
    DEFAULT_EMBEDDING_DIMENSIONS,
    DEFAULT_MODELS,
    DEFAULT_REPLY,
    DEFAULT_TRANSCRIPTION,
    ChatRequest,
    FakeLLM,
    Recorded,
    Responder,
    Step,
    ToolCall,
    embedding_vector,
    estimate_tokens,
    openai_error,
)
from atende.devtools.fake_llm.standalone import main

__all__ = [
    "DEFAULT_EMBEDDING_DIMENSIONS",
    "DEFAULT_MODELS",
    "DEFAULT_REPLY",
    "DEFAULT_TRANSCRIPTION",
    "ChatRequest",
    "FakeLLM",
    "Recorded",
    "Responder",
    "Step",
    "ToolCall",
    "demo_responder",
    "embedding_vector",
    "estimate_tokens",
    "main",
    "openai_error",
]
