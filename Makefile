# The platform's commands. `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JARS := .cache/kafka/libs/.resolved-from
BROKERS ?=
PYTEST_ARGS ?=

.PHONY: help setup system-deps test test-unit bench lint format demo kafka-up kafka-down kafka-status clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: system-deps $(STAMP) $(JARS) ## venv, Python packages and Kafka jars (idempotent)

system-deps: ## Debian packages the platform needs (Java, Maven, Mosquitto, Chromium, PostgreSQL), installed only if missing
	@./scripts/system-deps.sh

$(STAMP): pyproject.toml
	@test -d $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $@

$(JARS): infra/pom.xml | $(STAMP)
	$(PY) -m infra kafka jars

test: setup ## the whole suite: unit tests, then integration tests against a real Kafka it starts
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup ## unit tests only (no broker)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

bench: setup ## benchmarks on a scratch broker, side by side with their references (docs/benchmarks.md)
	$(PY) -m bench $(BENCH_ARGS)

lint: setup ## ruff format check, ruff lint, mypy
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: setup ## rewrite the code in the house style
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

demo: setup ## the whole platform until Ctrl-C (BROKERS=3; DEMO_SECONDS=N: run, check, stop; docs/demo.md)
	$(PY) -m infra demo $(if $(BROKERS),--brokers $(BROKERS))

kafka-up: setup ## start the local Kafka cluster (BROKERS=1 or 3; default: as recorded, else 1)
	$(PY) -m infra kafka up $(if $(BROKERS),--brokers $(BROKERS))

kafka-down: ## stop the local Kafka cluster (its data stays; WIPE=1 deletes it)
	@if [ -x $(PY) ]; then $(PY) -m infra kafka down $(if $(WIPE),--wipe); \
	else echo "no .venv: nothing of ours can be running"; fi

kafka-status: ## brokers, controller, topics, ISR and consumer-group lag
	$(PY) -m infra kafka status

clean: kafka-down ## stop Kafka and delete data/, the venv and caches
	rm -rf data $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
