# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
export TIKTOKEN_CACHE_DIR ?= $(abspath ../shared/tiktoken)

.PHONY: install build demo serve test check lint bench scaleout soak worker beat clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## Install, migrate, load the demo campaign and serve it on http://$(HOST):$(PORT)/
## (SQLite and in-process Celery unless DATABASE_URL / CELERY_BROKER_URL are set).
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## Production-like: the static files and the database schema, with the settings of the
## environment (config.settings.production; README "Production" lists the variables).
build: install
	DJANGO_SETTINGS_MODULE=config.settings.production $(BIN)/python manage.py check --deploy --fail-level WARNING
	DJANGO_SETTINGS_MODULE=config.settings.production $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DJANGO_SETTINGS_MODULE=config.settings.production $(BIN)/python manage.py migrate --noinput

## Serve production-like from the environment: gunicorn, a Celery worker and beat on
## PostgreSQL and Redis (the Procfile, run by honcho). Ctrl-C stops all three.
serve: build
	PATH="$(abspath $(BIN)):$$PATH" DJANGO_SETTINGS_MODULE=config.settings.production \
		$(BIN)/honcho start -f Procfile

## Install and run the whole test suite, after the static checks: migrations, lint, the
## layering contracts (import-linter), the OpenAPI schema and the types (mypy).
test: install check
	$(BIN)/pytest $(PYTEST_ARGS)

check: install
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.settings.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null \
		--settings=config.settings.test
	$(BIN)/mypy

lint: check

## Performance benchmarks; results land in bench/results/ (bench/README.md). BENCH_DATABASE_URL
## picks the database (default: SQLite files). The scale_*.py and scale.py benchmarks, the
## 1,000,000-seed campaign of issue 18 (BENCH_SCALE, BENCH_CLAIM_SECONDS), run on PostgreSQL
## only and are skipped otherwise; at full scale they take about an hour together.
bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/seed_import.py
	$(BIN)/python bench/browser.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/scale_mixed.py --reuse
	$(BIN)/python bench/scale_release.py
	$(BIN)/python bench/scale_quality.py
	$(BIN)/python bench/scale_sampling.py
	$(BIN)/python bench/scale_import.py

## A worker and beat beside `make demo`'s runserver (local settings; DATABASE_URL and
## CELERY_BROKER_URL from the environment). `make serve` runs the production processes.
## Scale-out check (run by CI after `make test`): two gunicorn instances, two Celery workers
## and beat on PostgreSQL and Redis, started as README "Production" says, under a bounded
## concurrent scenario; then every invariant is checked. Needs DATABASE_URL (PostgreSQL; the
## database is recreated) and CELERY_BROKER_URL.
scaleout: install
	$(BIN)/python ops/scaleout.py

## The same with faults (kill -9 of web servers and workers, mid-job) over a longer run;
## results in bench/results/soak.json.
soak: install
	$(BIN)/python ops/scaleout.py --faults --duration $${SOAK_SECONDS:-600} --results bench/results/soak.json

worker: install
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/celery -A config.celery_app worker --loglevel=INFO

beat: install
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/celery -A config.celery_app beat --loglevel=INFO

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
