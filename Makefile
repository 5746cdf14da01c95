# Laurel: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-unit test-integration test-e2e bench fuzz load package analytics clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## Start the whole platform locally on an embedded AWS emulator (Ctrl-C stops it).
run: install
	$(BIN)/python -m local

## The whole suite: unit, integration (moto), infra (package + cfn-lint), end-to-end (local stack over HTTP),
## on two workers (each with its own emulator and local stack).
test: install
	$(BIN)/python -m pytest -n 2

test-unit: install
	$(BIN)/python -m pytest tests/unit

test-integration: install
	$(BIN)/python -m pytest tests/integration

test-e2e: install
	$(BIN)/python -m pytest tests/e2e

## DynamoDB requests and capacity units per operation, import time, artifact size, member import, tier
## recalculation, and hot items raced by 8, 32 and 128 clients on the strict emulator.
bench: install package
	$(BIN)/python -m bench

## Schemathesis against the served OpenAPI document on a fresh local stack: zero 5xx, zero schema breaks.
fuzz: install
	$(BIN)/python -m fuzz

## A bounded locust run against a fresh local stack on the strict emulator: p50/p95/p99 latency, throughput and errors.
load: install
	$(BIN)/python -m load

## Deployable SAM template and one artifact per function, in build/.
package: install
	$(BIN)/python -m infra.package

## Export the running local stack's table (beside `make run`) as DynamoDB exports it, and run the named queries
## of infra/athena/ over it with DuckDB (docs/analytics.md; ARGS="--program ID --member ID" adds a statement).
analytics: install
	$(BIN)/python -m local.export $(ARGS)

clean:
	rm -rf build .pytest_cache
