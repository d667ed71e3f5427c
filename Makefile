# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
SDK1_VENV := .venv-openai1
RUN_STAMP := $(VENV)/.run-installed
TEST_STAMP := $(VENV)/.test-installed
SDK1_STAMP := $(SDK1_VENV)/.installed
# The code_interpreter sandbox's own Python (numpy, pandas, matplotlib), bound read-only into sessions.
SANDBOX_RUNTIME := $(CURDIR)/var/sandbox-runtime
SANDBOX_STAMP := $(SANDBOX_RUNTIME)/.installed
export SANDBOX_PYTHON := $(SANDBOX_RUNTIME)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check
# The official Node SDK, for tests/node (npm ci from tests/node/package-lock.json; needs node and npm).
NODE_STAMP := tests/node/node_modules/.package-lock.json

.PHONY: run worker test test-sqlite test-postgres test-sdk1 lint clean demo-model system-packages

run: $(RUN_STAMP) $(SANDBOX_STAMP) demo-model
	$(VENV)/bin/python -m console.launcher

# Only a Celery worker, joining a deployment from another machine with the same environment
# (DATABASE_URL, REDIS_URL, FILE_STORAGE=s3 and the S3_*/AWS_* settings; see docs/deploy.md).
worker: $(RUN_STAMP) $(SANDBOX_STAMP)
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || { echo "make worker joins a deployment: set DATABASE_URL and REDIS_URL (docs/deploy.md)"; exit 1; }
	$(VENV)/bin/python -m celery -A console worker --pool threads --concurrency $${WORKER_CONCURRENCY:-200} \
		--loglevel $${LOG_LEVEL:-INFO} --without-gossip --without-mingle

# The built-in demo model (docs/models.md): when no provider is set (neither LLM_BASE_URL nor
# LLM_PROVIDERS) and EMBEDDED_MODEL is not 0, installs it once (builds llama-cpp-python: about
# 3-4 minutes, with progress); afterwards a check of well under a second. `make run` goes on if it fails.
demo-model: | $(RUN_STAMP)
	@$(VENV)/bin/python -m console.demo_model install

test: system-packages lint test-sqlite test-postgres test-sdk1

# The programs the suite drives (redis-server, bubblewrap, tinyproxy, chromium, node, a compiler):
# installed when root, else named, before any test runs.
system-packages:
	@bash tests/system-packages.sh

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check console tests bench
	$(VENV)/bin/ruff format --check console tests bench
	$(VENV)/bin/mypy console

# The whole suite on SQLite, with openai==3.57.0.
test-sqlite: system-packages $(TEST_STAMP) $(SANDBOX_STAMP) $(NODE_STAMP)
	VAR_DIR=$(CURDIR)/var/test-sqlite DATABASE_URL= $(VENV)/bin/python -m pytest

# The whole suite again on PostgreSQL: TEST_POSTGRES_URL if set, else an embedded PostgreSQL 18.
test-postgres: system-packages $(TEST_STAMP) $(SANDBOX_STAMP) $(NODE_STAMP)
	VAR_DIR=$(CURDIR)/var/test-postgres $(VENV)/bin/python -m tests.postgres $(VENV)/bin/python -m pytest

# The SDK tests again with openai==1.65.5 (the client.beta.vector_stores generation).
test-sdk1: system-packages $(SDK1_STAMP)
	VAR_DIR=$(CURDIR)/var/test-sdk1 DATABASE_URL= $(SDK1_VENV)/bin/python -m pytest tests/sdk

$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) || { echo "Could not create a virtualenv: install Python 3.11+ with venv (Debian: apt-get install python3-venv)."; exit 1; }

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install $(PIP_FLAGS) -e .
	@touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[test,local-embeddings,agents]' 'openai==3.57.0'
	$(VENV)/bin/python -m console.demo_model install --always
	@touch $@ $(RUN_STAMP)

$(SANDBOX_STAMP): | $(RUN_STAMP)
	$(VENV)/bin/python -m console.sandbox.runtime $(SANDBOX_RUNTIME)
	@touch $@

$(NODE_STAMP): tests/node/package-lock.json | system-packages
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(SDK1_VENV)/bin/python:
	@$(PYTHON) -m venv $(SDK1_VENV)

$(SDK1_STAMP): pyproject.toml | $(SDK1_VENV)/bin/python
	$(SDK1_VENV)/bin/pip install $(PIP_FLAGS) -e '.[test]' 'openai==1.65.5'
	@touch $@

clean:
	rm -rf $(VENV) $(SDK1_VENV) var/test-* tests/node/node_modules
