# gridsys: `make run` sets everything up and serves the app; `make test` sets up and runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app gridsys
HOST ?= 127.0.0.1
PORT ?= 8000
THREADS ?= 8

.PHONY: run test bench stop setup os-deps db migrate demo translations messages

setup: os-deps $(VENV)/.installed node_modules/.installed translations var/secret_key

os-deps:
	@bash scripts/install-os-deps.sh

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]' -c constraints.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

translations: $(VENV)/.installed
	@$(VENV)/bin/pybabel -q compile -d gridsys/translations

var/secret_key:
	mkdir -p var
	umask 077 && $(PY) -c 'import secrets; print(secrets.token_urlsafe(48))' > $@

# The private PostGIS cluster under var/ (skipped when DATABASE_URL points elsewhere).
db: setup
	@if [ -z "$$DATABASE_URL" ]; then $(PY) -m gridsys.localdb start >/dev/null && echo "private PostGIS running (var/pg)"; fi

migrate: db
	$(FLASK) db upgrade

demo: migrate
	@if $(FLASK) db is-empty; then $(FLASK) demo load; else echo "database has data: demo not reloaded"; \
		$(FLASK) categories load; fi

run: demo
	@$(FLASK) demo accounts
	@echo "Ctrl-C stops the server; 'make stop' then stops the database"
	$(PY) -m gridsys.serve --host $(HOST) --port $(PORT) --threads $(THREADS)

test: db
	$(PY) -m pytest $(PYTEST_ARGS)

bench: db
	@if [ "$(SCALE)" = city ]; then $(PY) -m bench city-build; fi
	GRIDSYS_BENCH_SCALE=$(SCALE) $(PY) -m bench

# Load with faults (issue 13): workers log incidents with resends while leaders poll and sweeps run,
# then a database restart, a killed worker, slow clients; checks nothing acknowledged was lost or doubled.
# Options: make load LOAD_ARGS="--duration 60 --server waitress" (python -m bench.load --help).
.PHONY: load
load: db
	$(PY) -m bench.load $(LOAD_ARGS)

stop:
	@if [ -x $(PY) ]; then $(PY) -m gridsys.localdb stop; fi

# Refresh the catalogue after adding UI text: extracts every _() and merges into zh (then translate).
messages: $(VENV)/.installed
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k _l -o var/messages.pot .
	$(VENV)/bin/pybabel -q update -i var/messages.pot -d gridsys/translations --no-fuzzy-matching
