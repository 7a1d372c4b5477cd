"""The `atende` command."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import atende
from atende.config import Environment, Settings
from atende.kit.logging import configure_logging
from atende.kit.secrets import SecretKeyInvalid


def _nlu_command() -> click.Command:
    from atende.assistant.nlu.command import nlu_command

    return nlu_command


T = TypeVar("T")


def _with_tenant(settings: Settings, slug: str, work: Callable[[Any, str], Awaitable[T]]) -> T:
    """Run ``work(sessions, tenant_id)`` against the configured database for tenant ``slug``."""
    from sqlalchemy import select

    # Every table must be in the metadata before the first flush, or a foreign key to a model
    # this command never imported (messages -> channels) cannot be resolved.
    import atende.models  # noqa: F401
    from atende.kit.db import create_engine, session_factory
    from atende.kit.errors import AtendeError
    from atende.tenancy.models import Tenant

    async def run() -> T:
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        try:
            async with sessions() as session:
                tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
            if tenant_id is None:
                raise click.ClickException(f"no tenant {slug!r}")
            return await work(sessions, tenant_id)
        except AtendeError as error:
            raise click.ClickException(error.detail) from None
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as error:
        # One line per setting, named as the operator wrote it, instead of pydantic's report.
        raise click.ClickException(
            "; ".join(
                f"ATENDE_{'_'.join(str(p) for p in e['loc']).upper()}: "
                + str(e["msg"]).removeprefix("Value error, ")
                for e in error.errors()
            )
        ) from None


def _logging(settings: Settings, *, quiet: bool = False) -> None:
    fmt = settings.log_format or ("json" if settings.env is Environment.production else "console")
    configure_logging(level="WARNING" if quiet else settings.log_level, json=fmt == "json")


class _Commands(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SecretKeyInvalid as error:
            # A configuration mistake: one line saying what to set, not a traceback.
            raise click.ClickException(str(error)) from None


@click.group(cls=_Commands)
@click.version_option(atende.__version__, prog_name="atende")
def main() -> None:
    """Atende: AI customer service on WhatsApp and other messaging channels."""


def _require_schema(settings: Settings) -> None:
    """Commands that use the database, run before `atende migrate`, say what to do instead of
    failing on a missing table."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from atende.kit.migrate import schema_is_current

    try:
        current = asyncio.run(schema_is_current(settings.database_url))
    except (OSError, DBAPIError) as error:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise click.ClickException(
            f"cannot reach the database {where} ({reason}); check ATENDE_DATABASE_URL"
        ) from None
    if not current:
        raise click.ClickException(
            "the database has no schema or an old one: run `atende migrate` first "
            "(and `atende demo` for the demo tenant)"
        )


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from atende.kit.migrate import upgrade

    settings = _settings()
    _logging(settings)
    upgrade(settings.database_url)
    click.echo("database is up to date")


@main.command()
def demo() -> None:
    """Seed the demo tenant (sandbox channel + WhatsApp channel `demo-whatsapp`)."""
    from atende.demo import DEMO_SANDBOX, DEMO_WHATSAPP, DemoRefused, seed_demo
    from atende.kit.db import create_engine, session_factory
    from atende.kit.secrets import load_secret_box

    settings = _settings()
    _logging(settings)
    _require_schema(settings)

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await seed_demo(session_factory(engine), load_secret_box(settings), settings)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except DemoRefused as refused:
        raise click.ClickException(str(refused)) from None
    if settings.env is Environment.production:
        click.echo(f"demo tenant ready: channel {DEMO_WHATSAPP} (no sandbox in production)")
    else:
        click.echo(f"demo tenant ready: channels {DEMO_SANDBOX} and {DEMO_WHATSAPP}")


@main.command()
@click.option(
    "--role", type=click.Choice(["all", "api", "worker"]), default="all", show_default=True
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def serve(role: str, host: str, port: int, access_log: bool) -> None:
    """Run the API, the workers and the sender (all in one process by default)."""
    import uvicorn

    from atende.api import create_app
    from atende.kit.server import server_config
    from atende.main import Container

    settings = _settings()
    _logging(settings)
    container = Container(settings)
    if role == "worker":
        asyncio.run(_run_worker(container))
        return
    app = create_app(container, workers=role == "all")
    uvicorn.Server(server_config(app, settings, host=host, port=port, access_log=access_log)).run()


async def _run_worker(container: object) -> None:
    from atende.kit.runtime import settle_heap
    from atende.main import Container

    assert isinstance(container, Container)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await container.start_workers(recover_pending=True, sweep_seconds=2.0)
    settle_heap()
    try:
        await stop.wait()
    finally:
        await container.aclose()


@main.command()
@click.option(
    "--phone",
    default="+55 11 98765-4321",
    show_default=True,
    help="Speak as the customer with this phone number.",
)
@click.option("--name", default=None, help="The customer's profile name.")
@click.option("--url", default=None, help="A running server (e.g. http://127.0.0.1:8000).")
@click.option("--channel", default="demo-sandbox", show_default=True)
@click.option(
    "--token",
    default=None,
    help="The sandbox channel token (default: ATENDE_DEMO_SANDBOX_TOKEN or the demo's).",
)
@click.option(
    "--timeout",
    default=15.0,
    show_default=True,
    help="Seconds to wait for an answer before the next message.",
)
def chat(
    phone: str, name: str | None, url: str | None, channel: str, token: str | None, timeout: float
) -> None:
    """Talk to the assistant as a customer, through the whole pipeline.

    On a terminal it is a conversation; with piped input it reads one message per line and prints
    each reply as one JSON object per line."""
    from atende.chat import ChatError, HttpTransport, LocalTransport, Transport, run_chat
    from atende.demo import sandbox_token
    from atende.kit.errors import AtendeError
    from atende.main import Container

    settings = _settings()
    _logging(settings, quiet=True)
    token = token or sandbox_token()
    if not url:
        _require_schema(settings)

    async def run() -> int:
        transport: Transport
        if url:
            transport = HttpTransport(url, channel, token)
        else:
            transport = await LocalTransport.open(Container(settings), channel, token)
        try:
            return await run_chat(transport, phone=phone, name=name, timeout=timeout)
        finally:
            await transport.close()

    try:
        sys.exit(asyncio.run(run()))
    except (ChatError, AtendeError) as error:
        raise click.ClickException(str(error)) from None


@main.command("fake-graph")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int)
def fake_graph(host: str, port: int) -> None:
    """A local stand-in for Meta's Graph API that prints what Atende sends (for demos)."""
    from atende.devtools.fake_graph import main as fake_main

    fake_main(["--host", host, "--port", str(port)])


@main.command("fake-llm")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=int)
@click.option("--delay", default=0.0, show_default=True, help="Seconds before every answer.")
def fake_llm(host: str, port: int, delay: float) -> None:
    """A local OpenAI-compatible server that behaves roughly like a model (for demos; not a
    model): point ATENDE_LLM_BASE_URL at http://HOST:PORT/v1."""
    from atende.devtools.fake_llm import main as fake_main

    fake_main(["--host", host, "--port", str(port), "--delay", str(delay), "--behaviour", "demo"])


@main.command()
@click.option("--tenant", default="demo", show_default=True, help="Tenant slug.")
@click.option("--keep-unread", is_flag=True, help="Do not mark the notices as read.")
def notices(tenant: str, keep_unread: bool) -> None:
    """What the tenant's admins must know (a monthly token budget spent…), newest first."""
    from atende.audit.notices import list_notices

    settings = _settings()
    _logging(settings, quiet=True)
    found = _with_tenant(
        settings,
        tenant,
        lambda sessions, tenant_id: list_notices(sessions, tenant_id, mark_read=not keep_unread),
    )
    if not found:
        click.echo("no notices")
    for notice in found:
        state = "   " if notice.read_at else "new"
        click.echo(f"{state} {notice.created_at:%Y-%m-%d %H:%M} [{notice.kind}] {notice.message}")


@main.command("llm")
@click.option("--tenant", default="demo", show_default=True, help="Tenant slug.")
@click.option("--base-url", default=None, help="An OpenAI-compatible API, e.g. .../v1.")
@click.option("--model", default=None, help="The model's name at that provider.")
@click.option(
    "--api-key-env",
    default=None,
    metavar="VAR",
    help="Read the API key from this environment variable (stored encrypted).",
)
@click.option("--monthly-token-budget", type=int, default=None)
@click.option("--enable/--disable", default=None, help="Use the model for this tenant or not.")
@click.option(
    "--recall/--no-recall",
    default=None,
    help="Long-term semantic recall of earlier sessions (through the provider's /embeddings).",
)
@click.option("--embedding-model", default=None, help="The embeddings model used by recall.")
@click.option(
    "--embedding-base-url",
    default=None,
    help="Another OpenAI-compatible API for recall's embeddings (default: the chat one).",
)
@click.option(
    "--embedding-api-key-env",
    default=None,
    metavar="VAR",
    help="Read that API's key from this environment variable (stored encrypted).",
)
def llm_settings(
    tenant: str,
    base_url: str | None,
    model: str | None,
    api_key_env: str | None,
    monthly_token_budget: int | None,
    enable: bool | None,
    recall: bool | None,
    embedding_model: str | None,
    embedding_base_url: str | None,
    embedding_api_key_env: str | None,
) -> None:
    """Show or change the tenant's model settings (no option: show them)."""
    import json
    import os

    from atende.assistant.agent.admin import configure_llm
    from atende.kit.secrets import load_secret_box

    settings = _settings()
    _logging(settings, quiet=True)
    changes: dict[str, Any] = {
        key: value
        for key, value in {
            "base_url": base_url,
            "model": model,
            "monthly_token_budget": monthly_token_budget,
            "enabled": enable,
            "recall": recall,
            "embedding_model": embedding_model,
            "embedding_base_url": embedding_base_url,
        }.items()
        if value is not None
    }

    def key_from(variable: str | None) -> str | None:
        if variable is None:
            return None
        value = os.environ.get(variable)
        if not value:
            raise click.ClickException(f"{variable} is not set")
        return value

    api_key = key_from(api_key_env)
    embedding_api_key = key_from(embedding_api_key_env)
    box = load_secret_box(settings)
    current = _with_tenant(
        settings,
        tenant,
        lambda sessions, tenant_id: configure_llm(
            sessions,
            box,
            tenant_id,
            changes,
            api_key=api_key,
            embedding_api_key=embedding_api_key,
        ),
    )
    click.echo(json.dumps(current, ensure_ascii=False, indent=2))


@main.group()
def outbox() -> None:
    """Inspect and repair outbound delivery."""


@outbox.command("retry")
@click.argument("message_id", type=int)
@click.option("--tenant", default="demo", show_default=True, help="Tenant slug.")
def outbox_retry(message_id: int, tenant: str) -> None:
    """Send a failed outbound message again, now. If the provider is still unreachable the
    message stays in the outbox, and a running server's sweep sends it later."""
    from atende.channels.types import DeliveryStatus
    from atende.conversations.models import Message
    from atende.kit.errors import AtendeError
    from atende.main import Container
    from atende.outbox.sender import retry_failed
    from atende.outbox.service import SEND
    from atende.tenancy.scope import bind_tenant

    settings = _settings()
    _logging(settings, quiet=True)

    async def run() -> Message:
        container = Container(settings)
        try:
            tenant_id = await _tenant_id(container.sessions, tenant)
            await retry_failed(container.sessions, container.queue, tenant_id, message_id)
            # Deliver here rather than leave the job in this process's queue, which dies with it.
            if container.queue.depth(SEND):
                delivery = await container.queue.receive(SEND)
                await container.outbox.handle(delivery.job)
                await delivery.ack()
            async with container.sessions() as session:
                bind_tenant(session, tenant_id)
                row = await session.get(Message, message_id)
                assert row is not None  # retry_failed found it
                return row
        finally:
            await container.aclose()

    try:
        row = asyncio.run(run())
    except AtendeError as error:
        raise click.ClickException(error.detail) from None
    if row.status == DeliveryStatus.pending.value:
        click.echo(
            f"message {message_id} is back in the outbox (the provider did not take it yet: "
            f"{row.error_title or 'the conversation has older messages to send first'}); "
            "a running server sends it"
        )
    elif row.status in {DeliveryStatus.failed.value, DeliveryStatus.refused.value}:
        raise click.ClickException(
            f"message {message_id} {row.status} again: {row.error_code or ''} {row.error_title}"
        )
    else:
        click.echo(f"message {message_id} {row.status}")


async def _tenant_id(sessions: Any, slug: str) -> str:
    from sqlalchemy import select

    from atende.tenancy.models import Tenant

    async with sessions() as session:
        tenant_id: str | None = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tenant_id is None:
        raise click.ClickException(f"no tenant {slug!r}")
    return tenant_id


@main.group()
def secrets() -> None:
    """The key that encrypts stored secrets (ATENDE_SECRET_KEY)."""


@secrets.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored secret with ATENDE_SECRET_KEY (old keys in
    ATENDE_PREVIOUS_SECRET_KEYS); afterwards the previous keys can be dropped."""
    import atende.models  # noqa: F401 - every table, for the foreign keys
    from atende.kit.db import create_engine, session_factory
    from atende.kit.secrets import load_secret_box
    from atende.tenancy.rotation import rotate_stored_secrets

    settings = _settings()
    _logging(settings, quiet=True)

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            return await rotate_stored_secrets(session_factory(engine), load_secret_box(settings))
        finally:
            await engine.dispose()

    click.echo(f"{asyncio.run(run())} stored secrets now use the current key")


@main.group()
def token() -> None:
    """Service tokens for the Business API (`Auth-Token` header)."""


@token.command("create")
@click.option("--tenant", default="demo", show_default=True, help="Tenant slug.")
@click.option("--name", required=True, help="Who will use it, e.g. 'erp-adapter'.")
def token_create(tenant: str, name: str) -> None:
    """Create a token and print it (it is stored hashed: this is the only time it is shown)."""
    from atende.tenancy.tokens import issue_token

    settings = _settings()
    _logging(settings, quiet=True)
    click.echo(
        _with_tenant(
            settings, tenant, lambda sessions, tenant_id: issue_token(sessions, tenant_id, name)
        )
    )


@main.group()
def faq() -> None:
    """The tenant's FAQ documents, which the assistant answers business questions from."""


@faq.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", default="demo", show_default=True, help="Tenant slug.")
def faq_add(path: Path, tenant: str) -> None:
    """Index a Markdown or text document (re-adding a file replaces its earlier version)."""
    from atende.assistant.faq import FaqIndex

    settings = _settings()
    _logging(settings, quiet=True)
    content = path.read_text(encoding="utf-8")
    count = _with_tenant(
        settings,
        tenant,
        lambda sessions, tenant_id: FaqIndex(sessions).replace_document(
            tenant_id, path.name, content
        ),
    )
    click.echo(f"{count} {'passage' if count == 1 else 'passages'} indexed from {path.name}")


@faq.command("list")
@click.option("--tenant", default="demo", show_default=True, help="Tenant slug.")
def faq_list(tenant: str) -> None:
    """The tenant's FAQ documents: name, passages, when added."""
    from atende.assistant.faq import FaqIndex

    settings = _settings()
    _logging(settings, quiet=True)
    documents = _with_tenant(
        settings, tenant, lambda sessions, tenant_id: FaqIndex(sessions).documents(tenant_id)
    )
    if not documents:
        click.echo("no FAQ documents (add one with `atende faq add FILE`)")
    for document in documents:
        passages = f"{document.passages} {'passage' if document.passages == 1 else 'passages'}"
        click.echo(f"{document.name}\t{passages}\t{document.added_at:%Y-%m-%d %H:%M}")


@faq.command("remove")
@click.argument("name")
@click.option("--tenant", default="demo", show_default=True, help="Tenant slug.")
def faq_remove(name: str, tenant: str) -> None:
    """Remove a document by the name `atende faq list` shows; its passages stop answering."""
    from atende.assistant.faq import FaqIndex

    settings = _settings()
    _logging(settings, quiet=True)
    count = _with_tenant(
        settings,
        tenant,
        lambda sessions, tenant_id: FaqIndex(sessions).remove_document(tenant_id, name),
    )
    if count == 0:
        raise click.ClickException(f"no FAQ document named {name!r} (see `atende faq list`)")
    click.echo(f"{name} removed ({count} {'passage' if count == 1 else 'passages'})")


@main.command("test")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--timeout", default=15.0, show_default=True, help="Seconds to wait per answer.")
@click.option(
    "--engine",
    type=click.Choice(["llm", "offline"]),
    default=None,
    help="Fail a step another engine answered (llm: the agent fell back to the offline engine).",
)
def test_scripts(path: Path, timeout: float, engine: str | None) -> None:
    """Play YAML conversation scripts against the configured tenant's assistant (see
    docs/assistant.md); prints PASS or FAIL per script and exits 1 if any failed."""
    from atende.main import Container
    from atende.scenarios import ScriptRunner, script_paths

    settings = _settings()
    _logging(settings, quiet=True)
    _require_schema(settings)
    scripts = [(str(p), p.read_text(encoding="utf-8")) for p in script_paths(path)]

    async def run() -> int:
        container = Container(settings)
        await container.start_workers(recover_pending=False)
        failed = 0
        try:
            runner = ScriptRunner(container, timeout=timeout, engine=engine)
            for source, text in scripts:
                result = await runner.run_script(source, text)
                click.echo(f"{'PASS' if result.passed else 'FAIL'}  {result.name}  ({source})")
                for failure in result.failures:
                    click.echo(f"      {failure}")
                failed += not result.passed
        finally:
            await container.aclose()
        click.echo(f"{len(scripts) - failed} passed, {failed} failed")
        return 1 if failed else 0

    sys.exit(asyncio.run(run()))


@main.command()
@click.argument("conversation_id")
@click.option("--tenant", default="demo", show_default=True, help="Tenant slug.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per turn.")
def replay(conversation_id: str, tenant: str, as_json: bool) -> None:
    """Ask the current assistant a stored conversation's customer turns again and show where
    its answers differ from those sent then. Writes, sends and orders nothing."""
    from atende.kit.errors import AtendeError
    from atende.main import Container
    from atende.replay import ReplayError, json_lines, text_lines
    from atende.replay import replay as replay_conversation

    settings = _settings()
    _logging(settings, quiet=True)

    async def run() -> list[str]:
        container = Container(settings)
        try:
            turns = await replay_conversation(container, conversation_id, tenant=tenant)
        finally:
            await container.aclose()
        return list(json_lines(turns) if as_json else text_lines(turns))

    try:
        lines = asyncio.run(run())
    except (ReplayError, AtendeError) as error:
        raise click.ClickException(str(error)) from None
    for line in lines:
        click.echo(line)


main.add_command(_nlu_command())
