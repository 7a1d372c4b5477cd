from __future__ import annotations

import pytest

from atende.assistant.nlu import Nlu, default_nlu


@pytest.fixture(scope="session")
def nlu() -> Nlu:
    """The process-wide model, trained once for the whole session (about 3 s)."""
    model = default_nlu()
    model.warm_up()
    return model
