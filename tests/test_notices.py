"""Notices to a tenant's admins: written once per budget and month, listed by `atende notices`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from atende.assistant.agent.budget import TokenBudget
from atende.assistant.agent.config import LlmConfig
from atende.audit.notices import add_notice, list_notices
from atende.demo import ensure_tenant
from atende.kit.db import create_engine, session_factory
from atende.kit.migrate import upgrade
from atende.tenancy.scope import bind_tenant
from tests.support.process import env_for, run


async def test_that_a_spent_budget_leaves_one_notice_that_the_cli_lists(
    database_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        tenant_id = await ensure_tenant(sessions, "demo", "Loja Demo")
        config = LlmConfig(base_url="http://x/v1", model="m", monthly_token_budget=0)
        unlimited = LlmConfig(base_url="http://x/v1", model="m")
        assert await TokenBudget(sessions).spent(tenant_id, unlimited) is None
        # Two processes notice the same spent budget, each in a turn: one notice, not two.
        written = []
        for _ in range(2):
            notice = await TokenBudget(sessions).spent(tenant_id, config)
            assert notice is not None
            async with sessions() as session:
                bind_tenant(session, tenant_id)
                written.append(
                    await add_notice(
                        session, tenant_id, key=notice.key, kind=notice.kind, message=notice.text
                    )
                )
                await session.commit()
        assert written == [True, False]
        found = await list_notices(sessions, tenant_id, mark_read=False)
        assert [n.kind for n in found] == ["token_budget"]
        assert found[0].read_at is None
    finally:
        await engine.dispose()
    env = env_for(database_url, tmp_path / "var")
    listed = run(["notices", "--tenant", "demo"], env)
    assert "new" in listed
    assert "[token_budget]" in listed
    assert "limite mensal" in listed
    again = run(["notices", "--tenant", "demo"], env)
    assert "new" not in again  # the first listing marked it read
