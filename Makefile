# Every target creates .venv and installs what it needs; only Python 3.11, make and git are assumed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint serve worker bench-ledger clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

## run: migrate, load demo data, serve on http://$(HOST):$(PORT) with the order worker, a development Ethereum
## chain (chain_devnode) and the crypto-rail pass alongside (SQLite by default)
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	trap 'kill 0' EXIT INT TERM; \
	$(BIN)/python manage.py chain_devnode & \
	$(BIN)/python manage.py db_worker & \
	$(BIN)/python manage.py chain_process --every 10 & \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## test: the whole suite; SQLite by default, PostgreSQL with DATABASE_URL=postgres://...
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench-ledger: transfers/s through the ledger vs pgbench (needs DATABASE_URL=postgres://.../bench_ledger; recreates it)
bench-ledger: $(VENV)/.installed
	$(BIN)/python bench/ledger_transfers.py $(BENCH_ARGS)

## serve: production: DEBUG off, collectstatic + migrate + gunicorn (needs SECRET_KEY, ALLOWED_HOSTS; see README "Production")
serve worker: export DJANGO_SETTINGS_MODULE := config.settings.production
serve: $(VENV)/.installed
	$(BIN)/python manage.py collectstatic --noinput
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/gunicorn config.wsgi:application --bind $(HOST):$(PORT) --workers $(or $(WEB_CONCURRENCY),3) \
		--timeout 30 --graceful-timeout 30

## worker: the order worker for production (run next to `make serve`, as many as needed)
worker: $(VENV)/.installed
	$(BIN)/python manage.py db_worker

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles .pytest_cache .hypothesis
