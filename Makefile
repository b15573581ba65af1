# One-window exchange bus. `make demo` and `make test` do all the set-up on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
KAFKA   := $(BIN)/python deploy/kafka/localkafka.py

.PHONY: help install test unit integration lint typecheck demo \
        kafka-fetch kafka-up kafka-down kafka-status kafka-cluster-up kafka-cluster-down \
        postgres-up postgres-down \
        bench bench-publish bench-join clean chromium

help:
	@echo "make demo            run the bus on embedded defaults (local Kafka, SQLite)"
	@echo "make test            install what the tests need and run them all"
	@echo "make unit            fast tests, no network"
	@echo "make integration     tests against the real broker"
	@echo "make kafka-up        start a single local Kafka broker (KRaft) on 127.0.0.1"
	@echo "make kafka-cluster-up  start three local brokers (RF 3, min.insync.replicas 2)"
	@echo "make kafka-down / kafka-cluster-down / kafka-status"
	@echo "make postgres-up     install (Debian package) and start PostgreSQL on 127.0.0.1"
	@echo "make bench-publish   publisher throughput against raw kafka-python"
	@echo "make bench-join      join worker throughput and latency against an aiokafka passthrough"
	@echo "make bench-join-secured  the join worker on the secured broker against the plain one"
	@echo "make lint typecheck  ruff and mypy"

$(STAMP): pyproject.toml setup.py exchange/worker/_record_codec.c
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

kafka-fetch: install
	$(KAFKA) fetch

kafka-up: kafka-fetch
	$(KAFKA) up

kafka-down: install
	$(KAFKA) down

kafka-status: install
	$(KAFKA) status

.PHONY: kafka-secure-up
kafka-secure-up: kafka-fetch  # SASL/SCRAM + ACLs; passwords in var/kafka/secure/credentials.json
	$(BIN)/python deploy/kafka/secure.py up

kafka-cluster-up: kafka-fetch
	$(KAFKA) cluster-up

kafka-cluster-down: install
	$(KAFKA) cluster-down

postgres-up:
	deploy/postgres/pg.sh up

postgres-down:
	deploy/postgres/pg.sh down

test: install kafka-fetch postgres-up chromium
	$(BIN)/pytest

unit: install
	$(BIN)/pytest -m unit

integration: install kafka-fetch postgres-up
	$(BIN)/pytest -m integration

# Debian's Chromium (+ a CJK font) for the e2e page tests: playwright drives it, no download.
chromium:
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium fonts-wqy-zenhei; }

lint: install
	$(BIN)/ruff check exchange producers consumers tests

typecheck: install
	$(BIN)/mypy

demo: install kafka-fetch
	$(BIN)/exchange demo

.PHONY: fault-suite
fault-suite: install kafka-fetch  # every fault scenario, full traffic, one verifier line each
	$(BIN)/python -m exchange.faults.suite --size full

bench: bench-publish bench-join

bench-join: install kafka-fetch
	$(BIN)/python -m exchange.worker.bench

.PHONY: bench-join-secured
bench-join-secured: install kafka-fetch
	$(BIN)/python -m exchange.worker.bench_secured

bench-publish: install kafka-fetch
	$(BIN)/python -m producers.bench

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .hypothesis
