# Slipcase developer tasks. `make help` lists them.

VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
QUEUES      ?= cpu,gpu
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv demo test lint worker serve clean clean-all

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

venv: $(STAMP)  ## create .venv and install requirements-dev.txt (again only when requirements change)

# One pip call, so that torch and transformers are resolved together.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

demo: venv  ## migrate, seed demo data, run a worker and the dev server (DEMO_SERVE=0: smoke-test the worker and stop)
	scripts/demo.sh

test: venv  ## run the test suite (pass options with PYTEST_ARGS="-k name -x")
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv  ## ruff lint, ruff format check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

worker: venv  ## run a Celery worker in the foreground for QUEUES (default cpu,gpu)
	$(VENV)/bin/celery -A integrity worker -Q $(QUEUES) --loglevel INFO

serve: venv  ## run the development server on 127.0.0.1:8000
	$(PY) manage.py runserver 127.0.0.1:8000

clean:  ## remove caches and runtime files (keeps the database and media in var/)
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .mypy_cache .ruff_cache .pytest_cache var/celery var/run var/log var/static

clean-all: clean  ## also remove var/ (database, media) and the virtualenv
	rm -rf var $(VENV)
