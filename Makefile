# The two commands: `make dev` runs the app, `make test` runs the tests. Both bootstrap
# everything they need on a fresh machine (a venv, the Python packages, Debian's chromium).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# The suite runs on TEST_WORKERS pytest-xdist workers, each with its own database and Redis
# (docs/testing.md); much of it waits on servers and subprocesses, so more workers than cores.
# TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 3
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS)

.PHONY: dev reset test test-fast test-services lint bench chromium contract-deps clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# VERBOSE=1 shows the worker's and the scheduler's routine logs too (else in instance/logs/).
dev: $(STAMP)
	APP_ENV=development $(BIN)/referrals dev $(if $(VERBOSE),--verbose,)

# Delete what `make dev` keeps in instance/ (the app's database, embedded Redis and key, the
# devstore's shops, orders, codes and mailbox): the next `make dev` starts both afresh.
reset: $(STAMP)
	APP_ENV=development $(BIN)/referrals reset

test: $(STAMP) chromium contract-deps lint
	$(PYTEST)

# Without the browser tests (still fails on CI, where they must run).
test-fast: $(STAMP) lint
	$(PYTEST) -m "not e2e"

# The same suite against PostgreSQL + Redis servers (what .ci/run adds when they answer).
# Worker gwN uses the database <name>_gwN (created when missing) and Redis db <n>+N.
test-services: $(STAMP) chromium contract-deps
	$(PYTEST)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m tests.bench
	$(BIN)/python -m tests.bench.processing --count 2000
	$(BIN)/python -m tests.bench.ack
	$(BIN)/python -m tests.bench.reward_latency --referrals 200
	$(BIN)/python -m tests.bench.worker_overhead
	$(BIN)/python -m tests.bench.customers_page
	$(BIN)/python -m tests.bench.api
	$(BIN)/python -m tests.bench.realtime
	$(BIN)/python -m tests.bench.conversations
	$(BIN)/python -m tests.bench.inbox
	$(BIN)/python -m tests.bench.conversation_extras

# Extract the marked messages (babel.cfg) and merge them into every catalogue; translate the
# new entries in shopify_app/translations/<lang>/LC_MESSAGES/messages.po (the app compiles them
# when it starts; tests/test_i18n.py fails on a missing, fuzzy or untranslated message).
translations: $(STAMP)
	mkdir -p instance && $(BIN)/pybabel extract -F babel.cfg --no-location --sort-output -k _l -o instance/messages.pot .
	$(BIN)/pybabel update -i instance/messages.pot -d shopify_app/translations --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date --no-wrap

chromium:
	@scripts/ensure-chromium.sh

contract-deps:
	@scripts/ensure-contract-deps.sh

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache tests/e2e/screenshots tests/contract/node_modules
