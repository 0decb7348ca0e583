# jobdash — developer commands. `make help` lists them.
SHELL := bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Workers for the tests without a browser; browser tests run one at a time
# (each drives a server and a Chromium, and timing matters to them).
JOBS ?= 2

.PHONY: help install system-deps run test lint format typecheck unit bench screenshots lock clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# requirements.lock pins every package `make test` installs, so a new upstream
# release cannot change a deployment unnoticed; `make lock` refreshes it.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install jobdash with its test tools

system-deps: ## Install Debian's chromium and kcat when missing (browser and Kafka tests)
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v kcat >/dev/null || missing="$$missing kcat"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing fonts-dejavu-core >/dev/null; \
	fi

run: $(STAMP) ## Serve the dashboard on the simulated backend (http://localhost:5006/app)
	$(BIN)/panel serve app.py --port $${PORT:-5006}

test: $(STAMP) system-deps lint typecheck ## Lint, type-check and run every test (unit, Kafka, browser)
	$(BIN)/pytest -m "not browser" -n $(JOBS) $(PYTEST_ARGS)
	$(BIN)/pytest -m browser $(PYTEST_ARGS)

unit: $(STAMP) ## Run the tests that need no browser
	$(BIN)/pytest -m "not browser" -n $(JOBS) $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check; import-linter's layer contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP) ## mypy (strict) over src/
	$(BIN)/mypy

bench: $(STAMP) ## Run the benchmarks; each prints its figures last
	@for b in benchmarks/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

screenshots: $(STAMP) system-deps ## Regenerate the browser screenshot baselines
	$(BIN)/pytest tests/browser -m screenshot --update-screenshots

lock: ## Re-resolve pyproject.toml's dependencies and rewrite requirements.lock
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[test]'
	{ echo "# Exact versions installed by 'make test'. Refresh with 'make lock'."; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v '^jobdash'; } > requirements.lock
	rm -rf .lock-venv
	@echo "requirements.lock updated; review with git diff and commit it"

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
