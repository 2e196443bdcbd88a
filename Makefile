# FlowAuth: `make run` serves, `make test` tests. Nothing needs to be running.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate redis-start redis-stop bench bench-dpop clean serve

$(STAMP): requirements/base.txt requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput

run: migrate
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Tests run with DEBUG off, as in production; the key below exists only for them.
test: install
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-flowauth-test-only-key-5f0c9d2e7b8a41f3a6c2d9e0b1f4a7c8d3e6b9f2a5c8e1d4} \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

redis-start: install
	$(BIN)/python -m flowauth.embedded_redis start

redis-stop: install
	$(BIN)/python -m flowauth.embedded_redis stop

# Minutes, not seconds: FlowAuth against simplejwt and DRF in one run; writes bench/REPORT.md.
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/dpop.py

# A DPoP-bound GET against a Bearer GET, in-process (a minute); writes bench/DPOP.md.
bench-dpop: install
	$(BIN)/python bench/dpop.py

clean:
	-$(BIN)/python -m flowauth.embedded_redis stop
	rm -rf var

# The production stack without Docker: gunicorn on HOST:PORT against DATABASE_URL
# and REDIS_URL (set them; SECRET_KEY too). Schedule `manage.py flush_expired_tokens`
# hourly from cron (see the README's "Deployment").
serve: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/gunicorn flowauth.wsgi:application --bind $(HOST):$(PORT) --workers 2 --threads 4 --worker-class gthread

# Lint: ruff (pinned in requirements/dev.txt, configured in pyproject.toml).
.PHONY: lint
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
