# What developers and CI run. `make run` and `make test` are the whole set-up on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= postgres,redis,lake,test,dev
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11+ is needed: apt-get install python3 python3-venv"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/headwater serve

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: install
	bash scripts/test.sh

bench: install
	bash scripts/bench.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
