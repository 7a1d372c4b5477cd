"""The SQLite database holds customers' messages: readable by its owner only, like secret.key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from atende.kit.db import create_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_that_a_new_sqlite_database_and_its_wal_are_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask, which leaves new files world-readable
    try:
        path = tmp_path / "var" / "atende.db"
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE t (x INTEGER)"))
                await connection.execute(text("INSERT INTO t VALUES (1)"))
            assert mode(path) == 0o600
            wal = path.with_name(path.name + "-wal")
            assert wal.exists()
            assert mode(wal) == 0o600
        finally:
            await engine.dispose()
    finally:
        os.umask(previous)


async def test_that_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    # An operator's own choice (a group that backs it up) is not overridden.
    path = tmp_path / "atende.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert mode(path) == 0o640
