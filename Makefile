# FlowAuth: `make run` serves, `make test` tests. Nothing needs to be running.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One stamp per requirements file: `make run` installs only the runtime
# (base.txt); `make test` adds dev.txt, `make bench` adds bench.txt.
BASE_STAMP := $(VENV)/.installed-base
DEV_STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run worker test test-scaleout soak soak-long lint install install-dev install-bench migrate redis-start redis-stop bench bench-dpop clean serve wheel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(BASE_STAMP): requirements/base.txt | $(BIN)/python
	$(BIN)/pip install -r requirements/base.txt
	touch $@

$(DEV_STAMP): requirements/dev.txt $(BASE_STAMP)
	$(BIN)/pip install -r requirements/dev.txt
	touch $@

$(BENCH_STAMP): requirements/bench.txt $(BASE_STAMP)
	$(BIN)/pip install -r requirements/bench.txt
	touch $@

# The runtime only: what `make run` and `make serve` need.
install: $(BASE_STAMP)
# The runtime plus the test tools (pytest, Playwright, schemathesis, ...).
install-dev: $(DEV_STAMP)
install-bench: $(BENCH_STAMP)

migrate: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput

# The server and a task worker (mail, notifications) together; Ctrl-C stops both.
run: migrate
	@if [ -z "$$REDIS_URL" ]; then \
		echo "== Redis: the embedded server at $$($(BIN)/python -c 'from flowauth import embedded_redis; print(embedded_redis.url())')"; \
		echo "   it keeps running after the server stops; stop it with: make redis-stop"; \
	else echo "== Redis: REDIS_URL (not the embedded server)"; fi
	DEBUG=$${DEBUG:-1} $(BIN)/python -m flowauth.devrun $(HOST):$(PORT)

# The task worker alone (production: run it beside gunicorn, as many as needed).
worker: migrate
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py db_worker

# Tests run with DEBUG off, as in production; the key below exists only for them.
test: install-dev
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-flowauth-test-only-key-5f0c9d2e7b8a41f3a6c2d9e0b1f4a7c8d3e6b9f2a5c8e1d4} \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

# Slow: Sentinel failover and PostgreSQL standby promotion with servers the tests start themselves
# (Debian's redis-server, redis-sentinel; PostgreSQL 15 binaries). Excluded from `make test`.
test-scaleout: install-dev
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-flowauth-test-only-key-5f0c9d2e7b8a41f3a6c2d9e0b1f4a7c8d3e6b9f2a5c8e1d4} \
		$(BIN)/python -m pytest -m scaleout -s -p no:randomly --timeout 300 $(PYTEST_ARGS)

# Slow (9-10 minutes on 2 cores): the cross-process next-request loop 3,000 times over TCP and the
# embedded Redis' unix socket, and a reader in a network namespace behind a delayed link (needs root).
# Excluded from `make test`; prints the counts. LOG_LEVEL keeps the per-session log lines out of them.
soak: install-dev
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-flowauth-test-only-key-5f0c9d2e7b8a41f3a6c2d9e0b1f4a7c8d3e6b9f2a5c8e1d4} LOG_LEVEL=WARNING \
		timeout 840 $(BIN)/python -m pytest -m soak -s -p no:randomly --timeout 600 $(PYTEST_ARGS)

# The same with 10,000 iterations in all (4,000 default and 1,000 strict per transport):
# about 25 minutes on 2 cores, so not a CI step; 45 minutes is the hard stop.
soak-long: install-dev
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-flowauth-test-only-key-5f0c9d2e7b8a41f3a6c2d9e0b1f4a7c8d3e6b9f2a5c8e1d4} LOG_LEVEL=WARNING \
		SOAK_DEFAULT_ITERATIONS=4000 SOAK_STRICT_ITERATIONS=1000 \
		timeout 2700 $(BIN)/python -m pytest -m soak -s -p no:randomly --timeout 900 $(PYTEST_ARGS)

redis-start: install
	$(BIN)/python -m flowauth.embedded_redis start

redis-stop: install
	$(BIN)/python -m flowauth.embedded_redis stop

# Minutes, not seconds: FlowAuth against simplejwt and DRF in one run; writes bench/REPORT.md.
bench: install-bench
	command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/dpop.py
	$(BIN)/python bench/write_cost.py

# A DPoP-bound GET against a Bearer GET, in-process (a minute); writes bench/DPOP.md.
bench-dpop: install
	$(BIN)/python bench/dpop.py
	$(BIN)/python bench/write_cost.py

# dist/flowauth-<version>-py3-none-any.whl: the flowauth, accounts and tokens
# packages; extras [verifier] (a sibling service) and [server] (FlowAuth itself).
# pip builds it in an isolated environment with the setuptools pinned in pyproject.toml.
wheel: $(BIN)/python
	rm -rf build dist/flowauth-*.whl
	$(BIN)/pip wheel --no-deps --wheel-dir dist .
	rm -rf build

clean:
	-$(BIN)/python -m flowauth.embedded_redis stop
	rm -rf var build dist *.egg-info

# The production stack without Docker: gunicorn on HOST:PORT against DATABASE_URL
# and REDIS_URL (set them; SECRET_KEY too). Schedule `manage.py flush_expired_tokens`
# hourly from cron (see docs/operations.md).
serve: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/gunicorn flowauth.wsgi:application --bind $(HOST):$(PORT) --workers 2 --threads 4 --worker-class gthread

# Lint: ruff (pinned in requirements/dev.txt, configured in pyproject.toml).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
