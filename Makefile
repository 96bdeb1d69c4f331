# What developers and CI run. `make run` and `make test` are the whole set-up on a fresh machine.
# Installs come from requirements.lock (every dependency pinned, with hashes): a new release
# elsewhere never changes what a user gets. `make lock` re-resolves after editing pyproject.toml;
# `make upgrade` takes the newest releases and runs the tests, to find drift before users do.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
STAMP := $(VENV)/.installed
DEPS := $(VENV)/.deps

.PHONY: install run test lint bench lock upgrade clean

# the venv holds exactly what the lock says (made anew when the lock changes)
$(DEPS): $(LOCK)
	@command -v $(PY) >/dev/null || { echo "Python 3.11+ is needed: apt-get install python3 python3-venv"; exit 1; }
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed ($(PY) is older): apt-get install python3.11 python3.11-venv, or make PY=python3.11"; exit 1; }
	$(PY) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	@touch $(DEPS)

# ... and Headwater itself, once the lock is known to match pyproject.toml
$(STAMP): $(DEPS) pyproject.toml
	@$(BIN)/python scripts/lock.py --check
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/headwater serve

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

test: install
	bash scripts/test.sh

bench: install
	bash scripts/bench.sh

lock: $(DEPS)
	$(BIN)/python scripts/lock.py
	$(MAKE) install

upgrade: $(DEPS)
	$(BIN)/python scripts/lock.py --upgrade
	$(MAKE) test

clean:
	rm -rf $(VENV) .venv-gbstats .venv-bqemulator .pytest_cache .mypy_cache .ruff_cache
