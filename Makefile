# Contract Workbench: the two commands of the README are `make audit` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: audit test test-fast lint typecheck lab bench screenshots reference-bundle clean install

audit: $(STAMP) ## create .venv, install, register the kernel, audit the embedded default
	$(BIN)/workbench audit || [ $$? -eq 1 ]

test: lint typecheck ## lint, layers, types and the whole test suite (what CI runs)
	$(BIN)/python -m pytest -q

test-fast: lint typecheck ## the same without browser, PostgreSQL, notebook execution or third-party servers
	$(BIN)/python -m pytest -q -n auto -m "not slow and not postgres and not third_party"

lint: $(STAMP) ## ruff, and the layers of the README's Layout (import-linter)
	$(BIN)/ruff check workbench tests data/schedules
	$(BIN)/ruff format --check workbench tests data/schedules
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

lab: $(STAMP) ## JupyterLab on notebooks/ with the project kernel (the [lab] extra, which `make install` installs)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

bench: $(STAMP)
	$(BIN)/python -m tests.bench

screenshots: $(STAMP) ## the four reports of a fresh audit at 800 and 1400 px (needs chromium), in reports/screenshots/
	$(BIN)/python -m tests.screenshots

reference-bundle: $(STAMP) ## re-capture the shipped bundle of `reference` when its parser or a template changed (tests/rollback/test_shipped_bundle.py says so)
	@store=$$(mktemp -d) && \
	$(BIN)/workbench probe --env reference --store "sqlite:///$$store/history.sqlite" >/dev/null && \
	$(BIN)/workbench bundle capture --env reference --release 2026.11.0 --force --store "sqlite:///$$store/history.sqlite"; \
	rc=$$?; rm -rf "$$store"; exit $$rc

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,lab]'
	$(BIN)/workbench kernel >/dev/null
	@rm -f $(VENV)/.installed-*
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
