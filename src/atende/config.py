"""Settings, read once from the environment (prefix ``ATENDE_``) and passed down explicitly."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Turns in flight per process when a model answers (see ``Settings.turn_concurrency``).
LLM_TURN_CONCURRENCY = 500


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


def async_database_url(value: str) -> str:
    """Accept the URLs people paste from their provider and pick the async driver for them."""
    if value.startswith("postgres://"):
        value = "postgresql://" + value.removeprefix("postgres://")
    if value.startswith("postgresql://"):
        return "postgresql+asyncpg://" + value.removeprefix("postgresql://")
    if value.startswith("sqlite://") and not value.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + value.removeprefix("sqlite://")
    return value


#: The databases Atende has drivers for (pyproject's dependencies).
_DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")


def database_location(value: str) -> str:
    """A database given as a URL (``postgresql://…``, ``sqlite:///…``) or as the path of a SQLite
    file (``./var/demo_erp.db``), as an async SQLAlchemy URL. Anything else is a ValueError whose
    message says, in one line, what is accepted."""
    if "://" not in value:
        if Path(value).is_dir():
            raise ValueError(f"{value!r} is a directory; give a file, e.g. ./var/demo_erp.db")
        return f"sqlite+aiosqlite:///{Path(value).expanduser()}"
    url = async_database_url(value)
    scheme = url.split("://", 1)[0]
    if scheme not in _DATABASE_SCHEMES:
        raise ValueError(
            f"{scheme!r} is not a database Atende can use; give a SQLite file path "
            "(./var/demo_erp.db) or a URL starting with sqlite:/// or postgresql://"
        )
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATENDE_", extra="ignore")

    env: Environment = Environment.development
    #: SQLAlchemy async URL. Default: an embedded SQLite file under ./var/.
    database_url: str = "sqlite+aiosqlite:///./var/atende.db"
    #: Unset: in-process queue and locks (one process). Redis adapters arrive with scale-out.
    redis_url: str | None = None

    #: Unset base URL: the offline engine answers. Any OpenAI-compatible provider otherwise.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    llm_max_tokens: int = Field(default=600, ge=16, le=8192)
    #: One model call; the whole turn (all calls and tools) has ``llm_turn_budget_seconds``.
    llm_request_timeout_seconds: float = Field(default=8.0, gt=0)
    llm_turn_budget_seconds: float = Field(default=12.0, gt=0)
    llm_max_tool_rounds: int = Field(default=4, ge=1, le=10)
    #: Placeholders instead of CPF, CNPJ, phones and e-mails in what the provider sees.
    llm_redact_pii: bool = True
    #: Tokens per tenant and calendar month; unset: unlimited (tenants may set their own).
    llm_monthly_token_budget: int | None = Field(default=None, ge=0)
    #: Long-term semantic recall (earlier sessions found by meaning, through the provider's
    #: ``/embeddings``); off by default, tenants may turn it on for themselves.
    llm_recall: bool = False
    llm_embedding_model: str = "text-embedding-3-small"
    #: Embeddings from another provider than the chat (unset: the chat provider and key).
    llm_embedding_base_url: str | None = None
    llm_embedding_api_key: SecretStr | None = None
    #: Memories of earlier sessions added to the prompt, and the cosine similarity they need.
    llm_recall_limit: int = Field(default=3, ge=1, le=20)
    llm_recall_min_score: float = Field(default=0.35, ge=-1.0, le=1.0)

    #: An OpenAI-compatible ``/audio/transcriptions`` endpoint for voice notes; unset: customers
    #: who send audio are asked to write.
    transcribe_base_url: str | None = None
    transcribe_api_key: SecretStr | None = None
    transcribe_model: str = "whisper-1"
    #: Voice notes larger than this are not downloaded (WhatsApp allows 16 MB).
    transcribe_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    #: Fernet key that encrypts channel secrets at rest. Required in production; in development
    #: and tests a key is generated once under ./var/ so that `make run` needs no setup.
    secret_key: SecretStr | None = None
    #: Keys used before ``secret_key`` (comma-separated): still accepted to decrypt, never to
    #: encrypt, while `atende secrets rotate` moves what is stored to the current key.
    previous_secret_keys: SecretStr | None = None
    var_dir: Path = Path("./var")

    #: Where customers and providers reach this server (links to boleto PDFs go out with it).
    public_url: str = "http://127.0.0.1:8000"
    #: Where the trained NLU model is cached between processes; default: var_dir/cache.
    nlu_cache_dir: Path | None = None
    #: The embedded demo ERP's own database (`atende demo`); default: a SQLite file in var_dir.
    demo_erp_url: str | None = None

    log_level: str = "INFO"
    #: "json" or "console"; default depends on the environment.
    log_format: str | None = None

    #: Messages of one contact arriving within this window are answered as one turn.
    burst_window_seconds: float = Field(default=2.0, ge=0.0, le=10.0)
    #: A burst is never held longer than this after its first fragment.
    burst_max_seconds: float = Field(default=6.0, ge=0.0, le=30.0)
    session_timeout_minutes: float = Field(default=30.0, gt=0)

    #: Concurrent turns and deliveries per process; unset: see turn_concurrency/send_concurrency.
    worker_concurrency: int | None = Field(default=None, ge=1, le=2048)
    sender_concurrency: int | None = Field(default=None, ge=1, le=2048)
    #: Delivery attempts before an outbound message is marked failed.
    send_max_attempts: int = Field(default=6, ge=1, le=50)
    send_backoff_base_seconds: float = Field(default=0.5, gt=0)
    send_backoff_max_seconds: float = Field(default=60.0, gt=0)
    send_timeout_seconds: float = Field(default=10.0, gt=0)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, gt=0)

    #: Calls to the business's systems (ERP, store): per-attempt timeout, attempts on transient
    #: errors, the longest backoff between them, and the breaker per connector and tenant.
    erp_timeout_seconds: float = Field(default=5.0, gt=0)
    erp_attempts: int = Field(default=3, ge=1, le=10)
    erp_backoff_max_seconds: float = Field(default=2.0, gt=0)
    erp_breaker_failures: int = Field(default=5, ge=1)
    erp_breaker_reset_seconds: float = Field(default=30.0, gt=0)

    #: A job whose handler raises (a turn, a send, a kept request) is tried again after this many
    #: seconds, doubling up to the maximum; after ``job_max_attempts`` failures in a row it is
    #: given up and its work marked failed (docs/operations.md, "Jobs that keep failing").
    job_max_attempts: int = Field(default=8, ge=1, le=100)
    job_retry_base_seconds: float = Field(default=1.0, gt=0)
    job_retry_max_seconds: float = Field(default=300.0, gt=0)

    #: Requests kept while the business's system is down are tried again after this many
    #: seconds, doubling up to the maximum, and given up after ``deferred_max_age_hours``.
    deferred_retry_base_seconds: float = Field(default=15.0, gt=0)
    deferred_retry_max_seconds: float = Field(default=300.0, gt=0)
    deferred_max_age_hours: float = Field(default=24.0, gt=0)

    #: Webhook bodies above this size are refused with 413 before any parsing.
    webhook_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: HTTP server: a request's line and headers must arrive within this many seconds of the
    #: connection opening (or of the request's first byte); its body within this many seconds of
    #: the headers; an idle keep-alive connection is closed after ``http_keep_alive_seconds``.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)
    http_keep_alive_seconds: int = Field(default=5, ge=1)

    # The demo tenant's WhatsApp Cloud channel (`atende demo`). Development defaults, documented
    # in the README; a real deployment sets its own.
    demo_whatsapp_phone_number_id: str = "100000000000001"
    demo_whatsapp_app_secret: SecretStr = SecretStr("demo-app-secret")
    demo_whatsapp_verify_token: SecretStr = SecretStr("demo-verify-token")
    demo_whatsapp_access_token: SecretStr = SecretStr("demo-access-token")
    demo_whatsapp_graph_url: str = "http://127.0.0.1:8081"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return async_database_url(value)

    @field_validator("demo_erp_url")
    @classmethod
    def _demo_erp_location(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return database_location(value.strip())

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def turn_concurrency(self) -> int:
        # With the offline engine a turn is pure CPU and database work, which SQLite's single
        # connection serialises anyway: one turn at a time answers as fast as more would, and
        # leaves the event loop to the webhooks (measured in docs/benchmarks.md). On PostgreSQL
        # a few turns overlap their round trips; 64 answered no faster and held webhook acks
        # behind them for seconds (benchmarks/drain.py). An LLM turn
        # mostly waits on the network (1 to 2 s a model call): 500 in flight is what one process
        # sustains at 300 turns/s (docs/benchmarks.md, agent).
        if self.worker_concurrency:
            return self.worker_concurrency
        if self.llm_enabled:
            return LLM_TURN_CONCURRENCY
        return 1 if self.is_sqlite else 4

    @property
    def send_concurrency(self) -> int:
        # Sends wait on the provider's HTTP answer (hundreds of ms at Meta): keep many in flight.
        return self.sender_concurrency or (16 if self.is_sqlite else 64)

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)
