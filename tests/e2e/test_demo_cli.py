"""`atende demo` with the demo ERP's database where the README says it can be: a path or a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.process import env_for, run


def test_that_the_demo_erp_can_live_at_a_file_path(database_url: str, tmp_path: Path) -> None:
    erp = tmp_path / "elsewhere" / "demo_erp.db"
    env = env_for(database_url, tmp_path / "var", ATENDE_DEMO_ERP_URL=str(erp))
    run(["migrate"], env)
    assert "demo tenant ready" in run(["demo"], env)
    assert erp.is_file()
    assert not (tmp_path / "var" / "demo_erp.db").exists()


def test_that_a_demo_erp_location_that_is_no_database_gets_one_line(tmp_path: Path) -> None:
    env = env_for("sqlite:///unused.db", tmp_path, ATENDE_DEMO_ERP_URL="https://erp.example.com")
    with pytest.raises(AssertionError) as failure:
        run(["demo"], env)
    error = str(failure.value).split("failed:\n", 1)[1].strip()
    assert error.splitlines() == [
        "Error: ATENDE_DEMO_ERP_URL: 'https' is not a database Atende can use; give a SQLite file"
        " path (./var/demo_erp.db) or a URL starting with sqlite:/// or postgresql://"
    ]
