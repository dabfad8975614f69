# Every target installs what it needs, idempotently: a fresh clone runs `make test` and `make lint` directly.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# SAM CLI's own venv, inside .venv/ (so git and ruff ignore it and `make clean` removes it): its pins clash with dev.txt's.
SAM_VENV := $(VENV)/sam
SAM := $(SAM_VENV)/bin/sam
STAMPS := .stamps
JS_TESTS := tests/js
SITE := static_site
SITE_SOURCES := $(wildcard $(SITE)/package.json $(SITE)/package-lock.json $(SITE)/index.html $(SITE)/*.ts) \
	$(shell find $(SITE)/src $(SITE)/public -type f 2>/dev/null)

AUTH ?= LambdaAuthorizer

.PHONY: help dev embedded sam-api publish install install-js install-browser install-site install-sam test test-fast lint bench \
	soak emulator canary clean install-ministack test-deploy test-deploy-broken lock

# One entry per target a user runs (tests/integration/test_readme.py checks every .PHONY target but install* has one).
help:
	@echo "usage: make TARGET [VARIABLE=value ...]; every target first installs what it needs into .venv (once)."
	@echo "The project's CLIs (python -m tvm_users, momento_tvm, devstack) are in .venv: . .venv/bin/activate"
	@echo ""
	@echo "  make dev         the whole app offline: Momento emulator, moto, local API, chat site (Ctrl-C stops it)"
	@echo "                   AUTH=LambdaAuthorizer (the default: Basic logins) | Open (anonymous guests) | AmazonCognito"
	@echo "                   ports: API_PORT=3000 SITE_PORT=8000 MOMENTO_GRPC_PORT=8080 MOMENTO_WEB_PORT=8081"
	@echo "                   MOTO_PORT=5000 (0 = a free port); TOKEN_TTL_SECONDS=60 to watch renewals;"
	@echo "                   ALLOWED_ORIGINS=http://localhost:5173 (extra CORS origins, comma-separated)"
	@echo "  make embedded    the example app with its own login (examples/fastapi_chat) and the emulator, offline"
	@echo "                   ports: EMBEDDED_PORT=3100 MOMENTO_GRPC_PORT=8080 MOMENTO_WEB_PORT=8081; TOKEN_TTL_SECONDS"
	@echo "  make sam-api     the template under SAM CLI's sam local start-api, in Docker, offline"
	@echo "                   AUTH=LambdaAuthorizer | Open; ports: API_PORT MOMENTO_GRPC_PORT MOMENTO_WEB_PORT MOTO_PORT"
	@echo "  make emulator    only the Momento emulator; ports: MOMENTO_GRPC_PORT=8080 (gRPC) MOMENTO_WEB_PORT=8081"
	@echo "                   CACHE_NAME=chat (the cache it holds; comma-separated for more)"
	@echo "  make test        install everything needed, then run the whole test suite (what CI runs, with lint)"
	@echo "  make test-fast   the unit tier only (tests/unit: no socket, no process, under 30 s)"
	@echo "  make test-deploy sam deploy of every mode to MiniStack (a local AWS on 127.0.0.1), checked, then deleted"
	@echo "  make test-deploy-broken  those checks against deliberately broken copies: each must fail (opt-in)"
	@echo "  make lint        ruff, mypy, the tier policy check, the site's typecheck, cfn-lint, docs/openapi.yaml and the"
	@echo "                  site's types generated from it (static_site/src/apiTypes.ts: npm run api-types)"
	@echo "  make bench       one table of every benchmark against its floor; BENCH_ARGS='--quick --rows cold,warm'"
	@echo "  make soak        bounded reliability run of the whole offline stack, PASS/FAIL per phase; SOAK_ARGS=--quick"
	@echo "  make canary      one canary run (mint, subscribe, publish, receive): STACK=<name> [REGION=<region>] invokes"
	@echo "                   the stack's canary function; no STACK: against make dev's emulator (MOMENTO_GRPC_PORT)"
	@echo "  make publish     after sam deploy: build the site and publish it to the stack; STACK=<name> [REGION=<region>]"
	@echo "  make lock        recompile the Python locks from their .in files, every version kept;"
	@echo "                   UPGRADE=name[,name] moves those packages to their newest release (requirements/README.md)"
	@echo "  make clean       remove .venv, the stamps, node_modules and the builds"
	@echo "  make help        this list"

$(STAMPS):
	@mkdir -p $(STAMPS)

# Installs say what they do: one line per package pip fetches (errors and warnings pass through on stderr).
PIP_FLAGS := --disable-pip-version-check --progress-bar off
PIP_PROGRESS := sed -u -n -e 's/^Collecting \([^ ]*\).*/  \1/p' -e 's/^Processing [^ ]*\/\([^/ ]*\).*/  \1/p' \
	-e 's/^Installing collected packages.*/  installing them.../p'

# A lock is the whole closure with every file hashed, so it installs with --no-deps (pip 23.2, which a Python 3.11 venv
# starts with, refuses a dependency's extras in hash-checking mode otherwise); `pip check` then fails, saying what is
# missing, if the closure is not whole. Silent when it is.
PIP_LOCKED := --require-hashes --no-deps
PIP_CHECK = out=$$($(1) -m pip check) || { echo "$$out" >&2; exit 1; }

# Every Python lock (requirements/*.txt, each function's requirements.txt, the runtime image's) is compiled with hashes
# from the .in beside it by `make lock`, and its first line records that .in's sha256: a lock older than its .in stops
# every install here, in one line (tools/requirement_locks.py, standard library only: it runs before .venv exists).
LOCK_FILES := $(wildcard $(shell $(PYTHON) tools/requirement_locks.py files 2>/dev/null))
$(STAMPS)/locks: tools/requirement_locks.py $(LOCK_FILES) | $(STAMPS)
	@$(PYTHON) tools/requirement_locks.py check
	@touch $@

# Recompile every lock from its .in with uv (the dev lock's version), keeping every version; UPGRADE=name[,name]
# moves those packages to their newest release. Then `make install` and `make test`.
lock: | $(STAMPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) tools/requirement_locks.py lock $(if $(UPGRADE),--upgrade '$(UPGRADE)')

# Python: a venv with every pinned package; the library (momento_tvm, the one thing pyproject.toml packages)
# installed editable; and the project's own tools, which are never packaged, on the venv's path by a .pth file.
DEV_TOOL_DIRS := local authorizers/credentials tools
$(STAMPS)/python: requirements/dev.txt pyproject.toml | $(STAMPS)/locks
	@echo "Installing Python packages into .venv (first run: about a minute)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(PY) -m pip install $(PIP_FLAGS) $(PIP_LOCKED) -r requirements/dev.txt | $(PIP_PROGRESS)
	@$(PY) -m pip install $(PIP_FLAGS) --quiet --no-deps -e .
	@$(PY) -c 'import pathlib, sys, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "momento_tvm_dev_tools.pth")\
		.write_text("".join(str(pathlib.Path(d).resolve()) + "\n" for d in sys.argv[1:]))' $(DEV_TOOL_DIRS)
	@$(call PIP_CHECK,$(PY))
	@touch $@

# Node.js 20.19+ or 22.12+ (what Vite 8 needs), checked before each npm step: missing or too old, one line saying what
# to install, and make fails (a script rather than a target, so it runs exactly when npm is about to).
CHECK_NODE := sh tools/check_node.sh

# JavaScript test dependencies (the real Momento SDKs and a bundler), pinned by their lock file.
$(STAMPS)/js: $(JS_TESTS)/package.json $(JS_TESTS)/package-lock.json | $(STAMPS)
	@$(CHECK_NODE)
	@echo "Installing the JavaScript test packages into $(JS_TESTS)/node_modules (first run: about 20 s)..."
	@cd $(JS_TESTS) && npm ci --no-audit --no-fund
	@cd $(JS_TESTS) && npm run --silent build
	@touch $@

# The chat site, built to static_site/dist (served by `make dev`, published by `make publish`).
$(STAMPS)/site: $(SITE_SOURCES) | $(STAMPS)
	@if [ -f $(SITE)/package.json ]; then \
		$(CHECK_NODE) && \
		echo "Installing the site's npm packages and building it into $(SITE)/dist (first run: about 30 s)..." && \
		cd $(SITE) && npm ci --no-audit --no-fund && npm run --silent build; \
	else echo "no static_site/package.json: make dev serves its placeholder page"; fi
	@touch $@

# Debian's chromium for the browser tests (Playwright cannot download its own browser here).
$(STAMPS)/browser: | $(STAMPS)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium for the browser tests (first run: a minute or two)..." && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is missing: run 'sudo apt-get install -y chromium'"; exit 1; fi
	@touch $@

# The whole application offline, served from template.yaml (ports: API_PORT, SITE_PORT, MOMENTO_GRPC_PORT,
# MOMENTO_WEB_PORT, MOTO_PORT). Ctrl-C stops everything.
dev: install install-site
	$(PY) -m devstack --auth $(AUTH)

# The example chat app with its own login (examples/fastapi_chat: FastAPI, uvicorn) and the Momento emulator, offline
# (ports: EMBEDDED_PORT, MOMENTO_GRPC_PORT, MOMENTO_WEB_PORT; TOKEN_TTL_SECONDS=60 to watch renewals). Ctrl-C stops it.
embedded: install install-site
	$(PY) -m devstack.embedded

# aws-sam-cli, every package pinned (requirements/sam.txt), in its own venv.
$(SAM): requirements/sam.txt | $(STAMPS)/python
	@echo "Installing SAM CLI into $(SAM_VENV) (first run: about a minute)..."
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	@set -o pipefail; $(SAM_VENV)/bin/python -m pip install $(PIP_FLAGS) $(PIP_LOCKED) -r requirements/sam.txt \
		| $(PIP_PROGRESS)
	@$(call PIP_CHECK,$(SAM_VENV)/bin/python)
	@touch $@

# What `sam local` needs, offline and idempotently (root: apt-get, dockerd, debootstrap): docker.io, and the Lambda
# Python 3.13 x86_64 image built here if docker lacks it (images cannot be pulled). A dockerd started for the build is
# stopped again. Not root and something missing: it says what to run, and fails.
install-sam: install $(SAM)
	$(PY) -m sam_local setup

# The template under `sam local start-api` (x86_64 build, emulator and moto reachable over the Docker bridge; ports:
# API_PORT, MOMENTO_GRPC_PORT, MOMENTO_WEB_PORT, MOTO_PORT). Ctrl-C stops everything it started. No Cognito locally.
sam-api: install-sam
	$(PY) -m sam_local api --auth $(AUTH)

# After `sam deploy`: build the site, write its config.js from the stack outputs, sync it to S3, invalidate CloudFront.
publish: install install-site
	@test -n "$(STACK)" || { echo "usage: make publish STACK=<stack name> [REGION=<region>]"; exit 2; }
	$(PY) -m site_tools publish --stack $(STACK) $(if $(REGION),--region $(REGION))

# The canary's one line, exit 1 on failure (docs/deploy.md, The canary): STACK=<name> invokes the deployed
# CanaryFunction (no key here); no STACK, the same check against make dev's emulator (MOMENTO_GRPC_PORT, default 8080).
canary: install
	@$(PY) -m canary $(if $(STACK),--stack '$(STACK)')$(if $(REGION), --region '$(REGION)')

install: $(STAMPS)/python
install-js: $(STAMPS)/js
install-browser: $(STAMPS)/browser
install-site: $(STAMPS)/site

# tests/sam/ (sam local start-api and invoke, in Docker) run here too: install-sam fails loudly where they cannot.
test: install install-js install-browser install-site install-sam install-ministack
	$(PY) -m pytest
	cd $(SITE) && npm test --silent

# MiniStack (a local AWS, requirements/ministack.txt) for tests/deploy, in its own venv made with Python 3.13 (found as
# local/sam_local finds it; none: one line, and it fails): it runs the functions' cp313 wheels on its own interpreter.
MINISTACK_VENV := $(VENV)/ministack
MINISTACK := $(MINISTACK_VENV)/bin/ministack
$(MINISTACK): requirements/ministack.txt | $(STAMPS)/python
	@python313=$$($(PY) tests/deploy/python313.py) || exit 1; \
	echo "Installing MiniStack into $(MINISTACK_VENV) (first run: about 40 s)..."; \
	{ test -x $(MINISTACK_VENV)/bin/python || "$$python313" -m venv $(MINISTACK_VENV); } || exit 1; \
	set -o pipefail; $(MINISTACK_VENV)/bin/python -m pip install $(PIP_FLAGS) $(PIP_LOCKED) \
		-r requirements/ministack.txt | $(PIP_PROGRESS)
	@$(call PIP_CHECK,$(MINISTACK_VENV)/bin/python)
	@touch $@

install-ministack: $(MINISTACK)

# `sam deploy` of every AuthenticationMethod to MiniStack on 127.0.0.1 as docs/deploy.md gives it, the deployed API
# exercised, the site published, the stack deleted (tests/deploy/README.md). Part of `make test`.
test-deploy: install install-site $(SAM) install-ministack
	$(PY) -m pytest tests/deploy

# Opt-in, not in `make test`: the deploy checks against deliberately broken copies of the project, each of which must
# fail (an output renamed, an authorizer letting a wrong password in, a dependency removed, ...).
test-deploy-broken: install install-site $(SAM) install-ministack
	$(PY) tests/deploy/broken.py

# The unit tier only (tests/unit): no socket, no process, no moto, under 30 s; its conftest.py refuses the rest, and
# it passes under `unshare -n`. tests/functional (moto, subprocesses, cfn-lint, the package index) runs in `make test`.
test-fast: install
	$(PY) -m pytest tests/unit

lint: install install-site
	cd $(SITE) && npm run --silent typecheck
	$(PY) -m openapi_spec_validator docs/openapi.yaml
	cd $(SITE) && npm run --silent check-api-types
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m mypy --strict functions/token_vending/app.py
	$(PY) -m mypy --strict authorizers/credentials/app.py
	$(PY) -m mypy --strict functions/canary/app.py functions/canary/canary_check.py tools/canary.py
	$(PY) -m momento_tvm check-policy functions/token_vending/policy.yaml examples/fastapi_chat/policy.yaml
	$(VENV)/bin/cfn-lint template.yaml --append-rules cfn_lint_serverless.rules

# One table, each row beside its floor from the same run (127.0.0.1 only, under 5 minutes; BENCH_ARGS=--quick).
# SAM CLI for the Lambda-like cold rows (bench/faithful.py: `sam build` on pyenv's Python 3.13, cached in .aws-sam/bench).
bench: install install-browser install-site $(SAM)
	$(PY) bench/bench.py $(BENCH_ARGS)

# Load, fan-out, faults and a logs check against a stack of its own on free ports (127.0.0.1, under 10 minutes).
soak: install
	$(PY) bench/soak.py $(SOAK_ARGS)

# Only the Momento emulator (ports: MOMENTO_GRPC_PORT, MOMENTO_WEB_PORT; unset: its defaults, 8080 and 8081), with
# the cache CACHE_NAME (comma-separated for more; unset: chat, the cache docs/emulator.md and docs/embedding.md use).
emulator: install
	CACHE_NAME='$(or $(CACHE_NAME),chat)' $(PY) -m momento_emulator $(if $(MOMENTO_GRPC_PORT),--grpc-port $(MOMENTO_GRPC_PORT))$(if $(MOMENTO_WEB_PORT), --web-port $(MOMENTO_WEB_PORT))

clean:
	rm -rf $(VENV) $(STAMPS) .aws-sam/sam-local .aws-sam/deploy-test $(JS_TESTS)/node_modules $(JS_TESTS)/dist $(SITE)/node_modules $(SITE)/dist
