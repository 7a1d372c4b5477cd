"""`atende faq add | list | remove`: a tenant's FAQ documents from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from atende.cli import main
from atende.demo import ensure_tenant
from atende.kit.db import create_engine, session_factory


async def _tenant(url: str, slug: str) -> None:
    engine = create_engine(url)
    try:
        await ensure_tenant(session_factory(engine), slug, slug.title())
    finally:
        await engine.dispose()


def test_that_faq_documents_can_be_added_listed_and_removed(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATENDE_DATABASE_URL", database_url)
    asyncio.run(_tenant(database_url, "acme"))
    document = tmp_path / "estacionamento.md"
    document.write_text("## Estacionamento\nConvênio na Rua Augusta, 1400.\n", encoding="utf-8")
    cli = CliRunner()

    added = cli.invoke(main, ["faq", "add", str(document), "--tenant", "acme"])
    assert added.exit_code == 0, added.output
    assert added.output == "1 passage indexed from estacionamento.md\n"

    listed = cli.invoke(main, ["faq", "list", "--tenant", "acme"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith("estacionamento.md\t1 passage\t")

    removed = cli.invoke(main, ["faq", "remove", "estacionamento.md", "--tenant", "acme"])
    assert removed.exit_code == 0, removed.output
    assert removed.output == "estacionamento.md removed (1 passage)\n"
    again = cli.invoke(main, ["faq", "remove", "estacionamento.md", "--tenant", "acme"])
    assert again.exit_code == 1
    assert "no FAQ document named 'estacionamento.md'" in again.output
    empty = cli.invoke(main, ["faq", "list", "--tenant", "acme"])
    assert empty.output == "no FAQ documents (add one with `atende faq add FILE`)\n"
