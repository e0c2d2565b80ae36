# One entry point for each habit. Everything runs on this machine: no Docker needed.
SHELL := /bin/bash
BROKER ?= rabbitmq
# TRACING=1 also starts Zipkin (http://127.0.0.1:9411), where the sidecars send their spans.
TRACING ?= 0
PY := .venv/bin/python
export BROKER TRACING

.PHONY: setup python-env dapr ferretdb zipkin kafka packages secrets run infra-up infra-down infra-status test test-unit test-e2e test-brokers test-faults lint fanout

## setup: install and build everything this project needs (idempotent; a cold run builds Dapr)
setup: packages python-env dapr ferretdb zipkin kafka secrets

packages:
	@scripts/install-packages.sh

python-env:
	@command -v uv >/dev/null || python3 -m pip install --quiet uv==0.13.9
	@[ -x $(PY) ] || uv venv --quiet .venv --python 3.11
	@uv pip sync --quiet --python $(PY) requirements.lock
	@echo "[setup] python environment in .venv matches requirements.lock"

dapr:
	@scripts/build-dapr.sh

ferretdb:
	@scripts/build-ferretdb.sh

zipkin:
	@scripts/fetch-zipkin.sh

kafka:
	@scripts/fetch-kafka.sh

secrets: python-env
	@$(PY) scripts/gen_secrets.py .run/secrets.json

## run: start the infrastructure and the whole system under Dapr (Ctrl-C stops it)
run: setup
	@scripts/run.sh

infra-up: setup
	@scripts/infra.sh up

infra-down:
	@scripts/infra.sh down

infra-status:
	@scripts/infra.sh status

## test: unit tests, then the end-to-end suite against the real system
test: setup
	@$(MAKE) --no-print-directory test-unit test-e2e

test-unit:
	$(PY) -m pytest tests/unit -q

test-e2e:
	$(PY) -m pytest tests/e2e -v

## test-brokers: the whole e2e suite again on every other broker (component files only)
BROKERS ?= redis mqtt nats kafka
test-brokers: setup
	@scripts/test-brokers.sh $(BROKERS)

## test-faults: kill -9 RabbitMQ, order-view, its daprd, restart MariaDB under a stream of orders;
## prints one reconciliation row per fault (lost, duplicated, time to recover)
test-faults: setup
	$(PY) -m pytest tests/faults -v

## fanout: the notifications fan-out check against a running system (make run in another terminal)
fanout:
	$(PY) bench/notifications_fanout.py

lint:
	$(PY) -m ruff check services tests scripts bench
	$(PY) -m ruff format --check services tests scripts bench
	$(PY) -m mypy services
