"""Composition root: settings → adapters → services → app and workers, wired once, here only."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

import atende.models  # noqa: F401 - registers every table before the first query
from atende.assistant.agent.admin import any_tenant_uses_llm
from atende.assistant.agent.budget import TokenBudget
from atende.assistant.agent.config import LlmConfig
from atende.assistant.agent.engine import AgentEngine
from atende.assistant.dialogue.engine import DialogueEngine
from atende.assistant.faq import FaqIndex
from atende.assistant.nlu import Nlu
from atende.assistant.port import Engine
from atende.assistant.recall import RecallStore
from atende.assistant.voice import Transcriber
from atende.business.links import BoletoLinks, public_url_problem
from atende.business.registry import ConnectorRegistry
from atende.business.service import BusinessService
from atende.channels.directory import ChannelDirectory
from atende.channels.sandbox.sender import SandboxSender
from atende.channels.sandbox.service import SandboxService
from atende.channels.types import ChannelSender
from atende.channels.whatsapp.client import GraphClient
from atende.channels.whatsapp.sender import WhatsAppSender
from atende.config import LLM_TURN_CONCURRENCY, Environment, Settings
from atende.connectors.demo import demo_database_url
from atende.connectors.resilience import ConnectorPolicy
from atende.conversations.resume import ResumeProcessor
from atende.conversations.service import RESUME, ChannelLookup, TurnProcessor, TurnSettings
from atende.deferred.orders import ORDER, OrderLedger
from atende.deferred.policy import RetryPolicy
from atende.ingest.service import TURN, IngestService
from atende.kit.db import create_engine, session_factory
from atende.kit.logging import get_logger
from atende.kit.notify import MemoryNotifier
from atende.kit.priority import IngestFirst
from atende.kit.secrets import SecretUnreadable, load_secret_box
from atende.outbox.sender import OutboxSender, SendSettings
from atende.outbox.service import SEND
from atende.pipeline import SWEEP_LIMIT, mark_in_doubt, recover
from atende.queue.memory import MemoryLocks, MemoryQueue
from atende.queue.worker import Retry, Worker
from atende.tenancy.profiles import TenantProfiles

log = get_logger(__name__)

_NLUS: dict[Path, Nlu] = {}


def shared_nlu(cache_dir: Path) -> Nlu:
    """One NLU per process and cache folder: trained once, or loaded from the cache."""
    return _NLUS.setdefault(cache_dir.resolve(), Nlu(cache_dir=cache_dir))


def llm_defaults(settings: Settings) -> LlmConfig:
    return LlmConfig(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        request_timeout_seconds=settings.llm_request_timeout_seconds,
        turn_budget_seconds=settings.llm_turn_budget_seconds,
        max_tool_rounds=settings.llm_max_tool_rounds,
        redact_pii=settings.llm_redact_pii,
        monthly_token_budget=settings.llm_monthly_token_budget,
        recall=settings.llm_recall,
        embedding_model=settings.llm_embedding_model,
        embedding_base_url=settings.llm_embedding_base_url,
        embedding_api_key=(
            settings.llm_embedding_api_key.get_secret_value()
            if settings.llm_embedding_api_key
            else None
        ),
        recall_limit=settings.llm_recall_limit,
        recall_min_score=settings.llm_recall_min_score,
    )


class Container:
    """Everything a process needs, built from settings. Roles decide what runs, not what exists."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        if settings.redis_url:
            log.warning(
                "ATENDE_REDIS_URL is set but Redis adapters are not available yet; "
                "using the in-process queue"
            )
        self.settings = settings
        self.db: AsyncEngine = create_engine(settings.database_url)
        self.sessions = session_factory(self.db)
        self.box = load_secret_box(settings)
        self.queue = MemoryQueue()
        self.locks = MemoryLocks()
        self.notifier = MemoryNotifier()
        self.directory = ChannelDirectory(self.sessions, self.box)
        self.graph = GraphClient(timeout_seconds=settings.send_timeout_seconds)
        self.senders: dict[str, ChannelSender] = {
            "whatsapp": WhatsAppSender(self.graph),
            "sandbox": SandboxSender(),
        }
        self.erp_registry = ConnectorRegistry(
            self.sessions,
            demo_erp_url=settings.demo_erp_url or demo_database_url(settings.var_dir),
            box=self.box,
            policy=ConnectorPolicy(
                timeout=settings.erp_timeout_seconds,
                attempts=settings.erp_attempts,
                backoff_max=settings.erp_backoff_max_seconds,
                breaker_failures=settings.erp_breaker_failures,
                breaker_reset=settings.erp_breaker_reset_seconds,
            ),
        )
        # One maker of boleto PDF links for the Business API and both engines' tools alike.
        self.pdf_links = BoletoLinks(self.box, settings.public_url, self.erp_registry)
        problem = public_url_problem(settings.public_url)
        if problem and settings.env is Environment.production:
            log.warning(
                "ATENDE_PUBLIC_URL cannot be opened by customers: boleto PDF links will not work",
                public_url=settings.public_url,
                problem=problem,
            )
        self.profiles = TenantProfiles(self.sessions)
        self.faq = FaqIndex(self.sessions)
        self.nlu = shared_nlu(settings.nlu_cache_dir or Path(settings.var_dir) / "cache")
        self.offline = DialogueEngine(
            nlu=self.nlu,
            registry=self.erp_registry,
            profiles=self.profiles,
            faq=self.faq,
            pdf_links=self.pdf_links,
        )
        self.token_budget = TokenBudget(self.sessions)
        # The agent answers tenants with a model configured (globally or in their settings) and
        # hands every other turn, and every failure, to the offline engine.
        self.agent = AgentEngine(
            fallback=self.offline,
            nlu=self.nlu,
            registry=self.erp_registry,
            profiles=self.profiles,
            faq=self.faq,
            box=self.box,
            defaults=llm_defaults(settings),
            budget=self.token_budget,
            recall=RecallStore(self.sessions),
            pdf_links=self.pdf_links,
        )
        self.engine: Engine = engine or self.agent
        self.transcriber = (
            Transcriber(
                base_url=settings.transcribe_base_url,
                api_key=settings.transcribe_api_key.get_secret_value()
                if settings.transcribe_api_key
                else "none",
                model=settings.transcribe_model,
            )
            if settings.transcribe_base_url
            else None
        )
        self.retry_policy = RetryPolicy(
            base_delay=settings.deferred_retry_base_seconds,
            max_delay=settings.deferred_retry_max_seconds,
            max_age=timedelta(hours=settings.deferred_max_age_hours),
        )
        # SQLite has one connection for everything: let webhooks go first (kit/priority.py).
        self.priority = IngestFirst() if settings.is_sqlite else None
        # On PostgreSQL webhooks write through a pool of their own: with the workers' pool busy
        # answering a backlog, an acknowledgement waited for a connection behind them (seconds
        # of p99 in benchmarks/drain.py). SQLite has one connection: IngestFirst orders it.
        self.ingest_db: AsyncEngine | None = (
            None if settings.is_sqlite else create_engine(settings.database_url, pool_size=2)
        )
        self.ingest = IngestService(
            session_factory(self.ingest_db) if self.ingest_db is not None else self.sessions,
            self.queue,
            priority=self.priority,
        )
        turn_settings = TurnSettings(
            burst_window=settings.burst_window_seconds,
            burst_max=settings.burst_max_seconds,
            session_timeout=timedelta(minutes=settings.session_timeout_minutes),
            deferred=self.retry_policy,
        )
        channels = ChannelLookup(self.directory, self.senders)
        self.turns = TurnProcessor(
            sessions=self.sessions,
            queue=self.queue,
            channels=channels,
            engine=self.engine,
            settings=turn_settings,
            notifier=self.notifier,
            priority=self.priority,
            transcriber=self.transcriber,
            transcribe_max_bytes=settings.transcribe_max_bytes,
        )
        self.resumes = ResumeProcessor(
            sessions=self.sessions,
            queue=self.queue,
            channels=channels,
            engine=self.engine,
            settings=turn_settings,
            notifier=self.notifier,
        )
        self.orders = OrderLedger(
            self.sessions, self.erp_registry, self.queue, self.retry_policy, self.notifier
        )
        self.outbox = OutboxSender(
            sessions=self.sessions,
            queue=self.queue,
            directory=self.directory,
            senders=self.senders,
            settings=SendSettings(
                max_attempts=settings.send_max_attempts,
                backoff_base=settings.send_backoff_base_seconds,
                backoff_max=settings.send_backoff_max_seconds,
                breaker_failures=settings.breaker_failure_threshold,
                breaker_reset=settings.breaker_reset_seconds,
            ),
            notifier=self.notifier,
            priority=self.priority,
        )
        self.sandbox = SandboxService(
            sessions=self.sessions,
            directory=self.directory,
            ingest=self.ingest,
            notifier=self.notifier,
        )
        self.business = BusinessService(self.erp_registry, self.pdf_links, self.orders)
        self.workers: list[Worker] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False

    async def _turn_concurrency(self) -> int:
        # Settings alone cannot see models configured per tenant (`atende llm`): on SQLite those
        # tenants' turns, waiting a second or two on the model each, would queue one behind the
        # other. A tenant configured after the start needs a restart (or the variable).
        configured = self.settings.turn_concurrency
        if self.settings.worker_concurrency or self.settings.llm_enabled:
            return configured
        try:
            per_tenant = await any_tenant_uses_llm(self.sessions, self.agent.defaults, self.box)
        except (SQLAlchemyError, OSError):
            # Not migrated yet, or not reachable (asyncpg raises OSError itself): start anyway,
            # not ready; the readiness check reports it.
            return configured
        except SecretUnreadable:
            # A tenant's key encrypted with another ATENDE_SECRET_KEY: its turns will say so;
            # the other tenants must still be served.
            log.warning("a tenant's model settings cannot be decrypted")
            return configured
        if per_tenant and configured < LLM_TURN_CONCURRENCY:
            log.info(
                "a tenant answers with a model: turns run concurrently",
                turns=LLM_TURN_CONCURRENCY,
            )
            return LLM_TURN_CONCURRENCY
        return configured

    async def start_workers(
        self, *, recover_pending: bool = True, sweep_seconds: float = 60.0
    ) -> None:
        """Start the turn and send workers. ``recover_pending`` re-enqueues what the database says
        is unfinished (on start and then every ``sweep_seconds``); `atende chat` turns it off so
        that it never answers another process's customers."""
        turns = await self._turn_concurrency()
        retry = Retry(
            max_attempts=self.settings.job_max_attempts,
            base=self.settings.job_retry_base_seconds,
            ceiling=self.settings.job_retry_max_seconds,
        )
        self.workers = [
            Worker(
                kind=TURN,
                queue=self.queue,
                locks=self.locks,
                handler=self.turns.handle,
                give_up=self.turns.give_up,
                retry=retry,
                concurrency=turns,
            ),
            Worker(
                kind=SEND,
                queue=self.queue,
                locks=self.locks,
                handler=self.outbox.handle,
                give_up=self.outbox.give_up,
                retry=retry,
                concurrency=self.settings.send_concurrency,
            ),
            Worker(
                kind=RESUME,
                queue=self.queue,
                locks=self.locks,
                handler=self.resumes.handle,
                give_up=self.resumes.give_up,
                retry=retry,
                concurrency=turns,
                # Never beside one of the conversation's own turns.
                lock_as=TURN,
            ),
            Worker(
                kind=ORDER,
                queue=self.queue,
                locks=self.locks,
                handler=self.orders.handle,
                give_up=self.orders.give_up,
                retry=retry,
                concurrency=2,
            ),
        ]
        if self.engine is self.agent or isinstance(self.engine, DialogueEngine):
            # Train the NLU before the first customer waits for it (CPU-bound: off the loop).
            await asyncio.to_thread(self.nlu.warm_up)
        for worker in self.workers:
            worker.start()
        if recover_pending:
            try:
                await mark_in_doubt(self.sessions)
                await recover(self.sessions, self.queue)
                recovered = True
            except Exception:
                # The database may come up after us: stay alive (not ready) and keep trying.
                log.exception("start-up recovery failed; will retry")
                recovered = False
            self._sweeper = asyncio.create_task(
                self._sweep(sweep_seconds, recovered=recovered), name="sweeper"
            )

    async def _sweep(self, every: float, *, recovered: bool) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                if not recovered:
                    await mark_in_doubt(self.sessions)
                await recover(
                    self.sessions, self.queue, limit=None if not recovered else SWEEP_LIMIT
                )
                recovered = True
            except Exception:
                log.exception("recovery sweep failed")

    async def ready(self) -> dict[str, bool]:
        checks = {"database": False, "queue": False}
        with contextlib.suppress(Exception):
            async with self.db.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = True
        with contextlib.suppress(Exception):
            checks["queue"] = await self.queue.ping()
        return checks

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.ingest.close()
        for worker in self.workers:
            await worker.stop()
        await self.queue.close()
        await self.graph.close()
        await self.erp_registry.aclose()
        await self.agent.aclose()
        if self.transcriber is not None:
            await self.transcriber.aclose()
        await self.db.dispose()
        if self.ingest_db is not None:
            await self.ingest_db.dispose()
