# Every target installs what it needs, idempotently: a fresh clone runs `make test` and `make lint` directly.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
JS_TESTS := tests/js

.PHONY: help install install-js install-browser test test-fast lint bench emulator clean

help:
	@echo "make test      install everything needed, then run the whole test suite"
	@echo "make lint      ruff, mypy"
	@echo "make emulator  run the local Momento emulator (ports 8080 gRPC, 8081 grpc-web)"
	@echo "make bench     run the benchmarks under bench/"

$(STAMPS):
	mkdir -p $(STAMPS)

# Python: a venv with every pinned package, and this project installed (editable) into it.
$(STAMPS)/python: requirements/dev.txt pyproject.toml | $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# JavaScript test dependencies (the real Momento SDKs and a bundler), pinned by their lock file.
$(STAMPS)/js: $(JS_TESTS)/package.json $(JS_TESTS)/package-lock.json | $(STAMPS)
	cd $(JS_TESTS) && npm ci --no-audit --no-fund --loglevel=error
	cd $(JS_TESTS) && npm run --silent build
	touch $@

# Debian's chromium for the browser tests (Playwright cannot download its own browser here).
$(STAMPS)/browser: | $(STAMPS)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is missing: run 'sudo apt-get install -y chromium'"; exit 1; fi
	touch $@

install: $(STAMPS)/python
install-js: $(STAMPS)/js
install-browser: $(STAMPS)/browser

test: install install-js install-browser
	$(PY) -m pytest

# Unit tests only: no SDK processes, no browser.
test-fast: install
	$(PY) -m pytest tests/unit

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m mypy --strict functions/token_vending/app.py
	$(PY) -m mypy --strict authorizers/credentials/app.py
	$(PY) -m momento_tvm check-policy functions/token_vending/policy.yaml
	$(VENV)/bin/cfn-lint template.yaml

bench: install
	$(PY) bench/topic_latency.py
	$(PY) bench/vending_latency.py

emulator: install
	$(PY) -m momento_emulator

clean:
	rm -rf $(VENV) $(STAMPS) $(JS_TESTS)/node_modules $(JS_TESTS)/dist
