# One entry point for each habit. Everything runs on this machine: no Docker needed.
SHELL := /bin/bash
BROKER ?= rabbitmq
PY := .venv/bin/python
export BROKER

USERS ?= 50
SPAWN_RATE ?= 10
DURATION ?= 60s

.PHONY: setup python-env dapr ferretdb hey packages secrets run infra-up infra-down infra-status test test-unit test-e2e test-brokers lint fanout load bench

## setup: install and build everything this project needs (idempotent; a cold run builds Dapr)
setup: packages python-env dapr ferretdb hey secrets

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

hey:
	@scripts/install-hey.sh

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

## test-brokers: the whole e2e suite again on Redis Streams and on MQTT (component files only)
test-brokers: setup
	@for broker in redis mqtt; do \
	  echo "[test-brokers] the e2e suite on BROKER=$$broker"; \
	  BROKER=$$broker $(PY) -m pytest tests/e2e -q -m "not broker_swap" || exit 1; \
	done

## fanout: the notifications fan-out check against a running system (make run in another terminal)
fanout:
	$(PY) bench/notifications_fanout.py

## load: simulated shoppers (Locust, headless, on CPU 1) against a running system (make run):
##   make load USERS=50 DURATION=60s
load:
	@curl -sf -o /dev/null --max-time 3 http://127.0.0.1:8000/api/health || \
	  { echo "[load] the shop is not running (or not healthy): start it with 'make run' in another terminal"; exit 1; }
	@[ -x .venv/bin/locust ] || { echo "[load] locust is missing: run 'make setup'"; exit 1; }
	PYTHONPATH=. taskset -c 1 .venv/bin/locust -f bench/locustfile.py --headless --only-summary \
	  --host http://127.0.0.1:8000 --users $(USERS) --spawn-rate $(SPAWN_RATE) --run-time $(DURATION) --stop-timeout 10

## bench: the performance figures (starts and stops the system itself, ~4 min; stop make run first)
bench:
	$(PY) -m bench

lint:
	$(PY) -m ruff check services tests scripts bench
	$(PY) -m ruff format --check services tests scripts bench
	$(PY) -m mypy services
