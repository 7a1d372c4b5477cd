"""The command line as a newcomer uses it: migrate, demo, serve, chat (piped and over HTTP)."""

from __future__ import annotations

from pathlib import Path

import orjson

import atende
from tests.support.process import env_for, run, server


def replies(output: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in output.splitlines() if line.strip()]


def test_that_version_prints_the_package_version(tmp_path: Path) -> None:
    out = run(["--version"], env_for("sqlite:///unused.db", tmp_path))
    assert atende.__version__ in out


def test_that_a_scripted_chat_is_answered_line_by_line(database_url: str, tmp_path: Path) -> None:
    env = env_for(database_url, tmp_path / "var", ATENDE_BURST_WINDOW_SECONDS="0")
    assert "up to date" in run(["migrate"], env)
    assert "demo tenant ready" in run(["demo"], env)
    assert "demo tenant ready" in run(["demo"], env)  # idempotent
    script = "oi, bom dia\nqual o sentido da vida?\nquero falar com um atendente\nalô?\n"
    out = run(
        ["chat", "--phone", "+55 11 98765-4321", "--name", "Maria", "--timeout", "10"],
        env,
        stdin=script,
    )
    got = replies(out)
    texts = [str(r["text"]) for r in got]
    assert len(got) == 3  # the fourth line goes to the human queue: the bot stays silent
    assert texts[0].startswith("Olá, Maria!")
    assert "não entendi" in texts[1]
    assert "atendente humano" in texts[2]
    assert all(r["status"] == "sent" for r in got)


def test_that_chat_talks_to_a_running_server(database_url: str, tmp_path: Path) -> None:
    env = env_for(database_url, tmp_path / "var", ATENDE_BURST_WINDOW_SECONDS="0")
    run(["migrate"], env)
    run(["demo"], env)
    with server(env, tmp_path / "server.log") as process:
        import asyncio

        asyncio.run(process.ready())
        out = run(
            ["chat", "--url", process.url, "--phone", "21998765432", "--timeout", "10"],
            env,
            stdin="olá\n",
        )
        wrong = None
        try:
            run(["chat", "--url", process.url, "--token", "nope"], env, stdin="oi\n")
        except AssertionError as error:
            wrong = str(error)
    got = replies(out)
    assert len(got) == 1
    assert str(got[0]["text"]).startswith("Olá!")
    assert wrong is not None
    assert "401" in wrong


def test_that_faq_documents_and_tokens_are_managed_from_the_command_line(
    database_url: str, tmp_path: Path
) -> None:
    env = env_for(database_url, tmp_path / "var")
    run(["migrate"], env)
    run(["demo"], env)
    document = tmp_path / "politicas.md"
    document.write_text("## Garantia\nTodos os produtos têm 90 dias de garantia.\n")
    assert "1 passage indexed from politicas.md" in run(["faq", "add", str(document)], env)
    token = run(["token", "create", "--name", "erp-adapter"], env).strip()
    assert token.startswith("atd_")
