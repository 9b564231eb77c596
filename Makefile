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
# Ctrl-C (or SIGTERM) stops the server; the processes started here are stopped by their pids on the way out.
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --base-url http://$(HOST):$(PORT)
	@$(BIN)/python manage.py chain_devnode & devnode=$$!; \
	$(BIN)/python manage.py db_worker & worker=$$!; \
	$(BIN)/python manage.py chain_process --every 10 & rails=$$!; \
	trap 'kill $$worker $$rails $$devnode 2>/dev/null; wait $$worker $$rails $$devnode 2>/dev/null' EXIT; \
	trap 'exit 0' INT TERM; \
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

## lint: ruff, then mypy with the Django and DRF stubs (configured in pyproject.toml)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy .

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles .pytest_cache .hypothesis
