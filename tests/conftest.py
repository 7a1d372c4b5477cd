from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from atende.config import Environment, Settings
from atende.devtools.fake_graph import FakeGraph
from atende.main import Container
from tests.support import databases
from tests.support.app import ACCESS_TOKEN, Seeded, seed

# Property-based tests: on a laptop each run explores new examples (and replays the failures it
# saved in .hypothesis/); in CI the same examples every run, so a red build is reproducible and a
# green one does not turn red by chance. Example counts stay per test, sized for 2 cores.
hypothesis_settings.register_profile("dev", print_blob=True)
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if databases.IN_CI else "dev")
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    databases.require_postgres()
    name = f"atende_test_{os.getpid()}"
    databases.create_pg_database(name)
    yield name
    databases.drop_pg_database(name)


@pytest.fixture(scope="session")
def pgvector_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[databases.PgvectorServer]:
    """A PostgreSQL with pgvector, started once and only for the tests that ask for it."""
    server = databases.PgvectorServer(tmp_path_factory.mktemp("pgvector"))
    server.create_database("atende")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Every database-backed test runs on both engines."""
    if request.param == "sqlite":
        return databases.sqlite_copy(sqlite_template, tmp_path)
    name: str = request.getfixturevalue("pg_database")
    databases.truncate_pg(name)
    return databases.pg_url(name)


@pytest.fixture(scope="session")
def nlu_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained NLU model for the whole run (and for the processes tests start).

    Under pytest-xdist every worker has its own base temp folder inside one shared per-run folder;
    the cache lives in that shared folder so that the workers load the model one of them trained.
    The cache file is written aside and renamed, so two workers training at once is only wasted
    work, never a torn file.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / "nlu-cache"
    path.mkdir(exist_ok=True)
    os.environ["ATENDE_NLU_CACHE_DIR"] = str(path)
    return path


@pytest.fixture
def settings(database_url: str, tmp_path: Path, nlu_cache: Path) -> Settings:
    return Settings(
        nlu_cache_dir=nlu_cache,
        env=Environment.test,
        database_url=database_url,
        var_dir=tmp_path / "var",
        burst_window_seconds=0.0,
        worker_concurrency=8,
        sender_concurrency=8,
        send_backoff_base_seconds=0.01,
        send_backoff_max_seconds=0.05,
        breaker_failure_threshold=3,
        breaker_reset_seconds=0.3,
        send_timeout_seconds=2.0,
    )


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph(access_token=ACCESS_TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    built = Container(settings)
    yield built
    await built.aclose()


@pytest.fixture
async def seeded(container: Container, graph: FakeGraph) -> Seeded:
    return await seed(container, graph.url)
