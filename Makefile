# The two commands a newcomer needs: `make run` and `make test`.
# Both bootstrap .venv from the lock file (uv.lock) on a fresh clone; only python3 (3.11+) is required.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
PORT ?= 8000

.PHONY: run test check install migrate demo serve bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml uv.lock
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	# Bytecode compiled once here: the machines run Python with PYTHONDONTWRITEBYTECODE=1, so
	# otherwise every process (pytest workers, each `atende` a test starts) compiles scikit-learn,
	# SciPy and the rest from source again, about 3 s of CPU per process start.
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --quiet --compile-bytecode
	touch $@

install: $(VENV)/.installed

run: install  ## install + migrate + seed the demo tenant + serve on :8000
	$(BIN)/atende migrate
	$(BIN)/atende demo
	$(BIN)/atende serve --port $(PORT)

test: install  ## install + lint + type-check + the whole suite on SQLite and PostgreSQL
	$(BIN)/python scripts/check.py

bench: install  ## every benchmark (webhook, answer cost, NLU, turns, LLM agent, recall, FAQ); each rewrites its section of docs/benchmarks.md
	@command -v wrk >/dev/null || (apt-get install -y --no-install-recommends wrk >/dev/null 2>&1 || sudo apt-get install -y --no-install-recommends wrk)
	$(BIN)/python benchmarks/webhook.py
	$(BIN)/python benchmarks/drain.py
	$(BIN)/python benchmarks/nlu.py
	$(BIN)/python benchmarks/turn.py --rounds 30
	$(BIN)/python benchmarks/agent.py
	$(BIN)/python benchmarks/recall.py
	$(BIN)/python benchmarks/faq.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage*
