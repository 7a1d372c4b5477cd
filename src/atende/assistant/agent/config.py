"""Which model answers a tenant: the process's defaults (``ATENDE_LLM_*``) overridden per tenant
(``tenants.settings["llm"]``, API key Fernet-encrypted like every other secret)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from atende.kit.secrets import SecretBox

#: USD per million tokens (input, output), for the cost estimate in the audit trail. Unknown
#: models cost 0 unless the tenant sets ``price_in``/``price_out``; prices drift, so the table is
#: a default, not a bill.
PRICES: Mapping[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "google/gemini-2.0-flash-001": (0.10, 0.40),
    "google/gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.5-flash": (0.30, 2.50),
    # Embeddings (recall): input tokens only.
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
    "google/gemini-embedding-001": (0.15, 0.0),
    "gemini-embedding-001": (0.15, 0.0),
}


#: The tenant's keys, Fernet-encrypted in ``tenants.settings["llm"]``.
SECRET_KEYS = ("api_key", "embedding_api_key")
#: What a tenant may set in ``tenants.settings["llm"]`` besides ``enabled`` and the keys.
TENANT_KEYS = (
    "base_url",
    "model",
    "temperature",
    "max_tokens",
    "request_timeout_seconds",
    "turn_budget_seconds",
    "max_tool_rounds",
    "redact_pii",
    "monthly_token_budget",
    "price_in",
    "price_out",
    "recall",
    "embedding_base_url",
    "embedding_model",
    "recall_limit",
    "recall_min_score",
)


@dataclass(frozen=True, slots=True)
class LlmConfig:
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    temperature: float = 0.2
    max_tokens: int = 600
    #: One model call; the whole turn has ``turn_budget_seconds``.
    request_timeout_seconds: float = 8.0
    turn_budget_seconds: float = 12.0
    max_tool_rounds: int = 4
    #: Replace CPF, CNPJ, phones and e-mails with placeholders before anything reaches the model.
    redact_pii: bool = True
    #: Tokens (in + out) per calendar month; None: unlimited.
    monthly_token_budget: int | None = None
    price_in: float | None = None
    price_out: float | None = None
    #: Long-term semantic recall through the provider's ``/embeddings`` (``assistant.recall``).
    recall: bool = False
    #: Unset: the chat provider (``base_url`` and ``api_key``) serves the embeddings too.
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    embedding_model: str = "text-embedding-3-small"
    recall_limit: int = 3
    recall_min_score: float = 0.35

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.model)

    def embeddings(self) -> LlmConfig:
        """Where recall's embeddings go: their own provider when set, else the chat one."""
        if not self.embedding_base_url:
            return self
        return replace(self, base_url=self.embedding_base_url, api_key=self.embedding_api_key)

    def cost(self, tokens_in: int, tokens_out: int, embedding_tokens: int = 0) -> float:
        default_in, default_out = PRICES.get(self.model or "", (0.0, 0.0))
        price_in = self.price_in if self.price_in is not None else default_in
        price_out = self.price_out if self.price_out is not None else default_out
        price_embedding = PRICES.get(self.embedding_model, (0.0, 0.0))[0]
        return (
            tokens_in * price_in + tokens_out * price_out + embedding_tokens * price_embedding
        ) / 1_000_000

    def for_tenant(self, settings: Mapping[str, Any], box: SecretBox) -> LlmConfig:
        """This config with the tenant's ``llm`` settings applied (``{"enabled": false}`` turns
        the LLM off for the tenant)."""
        own = dict(settings.get("llm") or {})
        if own.get("enabled") is False:
            return replace(self, base_url=None, model=None)
        changes: dict[str, Any] = {key: own[key] for key in TENANT_KEYS if key in own}
        for secret in SECRET_KEYS:
            if own.get(secret):
                changes[secret] = box.decrypt(str(own[secret]))
        return replace(self, **changes) if changes else self
