# One entry point for each habit. Everything runs on this machine: no Docker needed.
SHELL := /bin/bash
BROKER ?= rabbitmq
# TRACING=1 also starts Zipkin (http://127.0.0.1:9411), where the sidecars send their spans.
TRACING ?= 0
# REPLICAS=N runs N replicas of every app (make run, the e2e and fault tests), HAProxy in front.
REPLICAS ?= 1
# EDGE=1 puts HAProxy in front of one replica too, with its flood guard (docs/security.md).
EDGE ?= 0
# MONITORING=1 also starts Prometheus (http://127.0.0.1:9095) with the alerts of monitoring/.
MONITORING ?= 0
PY := .venv/bin/python
export BROKER TRACING REPLICAS MONITORING EDGE

USERS ?= 50
SPAWN_RATE ?= 10
DURATION ?= 60s

.PHONY: setup python-env dapr ferretdb zipkin kafka hey prometheus packages secrets run restart infra-up infra-down infra-status test test-unit test-integration test-e2e test-browser test-brokers test-faults lint fanout load bench bench-cpu bench-sdk bench-flood bench-limiter k8s-tools test-k8s setup-containers test-compose asyncapi-tools asyncapi

## setup: install and build everything this project needs (idempotent; a cold run builds Dapr)
setup: packages python-env dapr ferretdb zipkin kafka hey prometheus k8s-tools asyncapi-tools secrets

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

hey:
	@scripts/install-hey.sh

# Prometheus and promtool (MONITORING=1, the alert-rule tests in tests/unit).
prometheus:
	@scripts/build-prometheus.sh

# helm, kubeconform and the offline schemas the chart's unit tests use (scripts/build-k8s.sh).
k8s-tools: python-env
	@PYTHON=$(PY) scripts/build-k8s.sh tools

# The official AsyncAPI parser (npm ci from tools/asyncapi/package-lock.json, cached), which
# tests/unit/test_asyncapi.py validates the event catalogue docs/asyncapi.yaml with.
asyncapi-tools:
	@scripts/asyncapi-tools.sh install

## asyncapi: regenerate the event catalogue docs/asyncapi.yaml from the event models and
## components/ (commit it; the unit tests fail while it is stale)
asyncapi: python-env
	@$(PY) scripts/asyncapi.py

# The local secrets (made once), then what docker-compose.yml reads from them (written each time).
secrets: python-env
	@$(PY) scripts/gen_secrets.py .run/secrets.json
	@$(PY) scripts/compose_files.py .run/compose

## run: start the infrastructure and the whole system under Dapr (Ctrl-C stops it)
run: setup
	@scripts/run.sh

## restart: replace the replicas of APP (an app id; every app without it) one by one, each
## drained first, while the shop runs (make run REPLICAS=2 in another terminal): a rolling restart
APP ?= all
restart:
	@$(PY) scripts/restart.py $(APP)

infra-up: setup
	@scripts/infra.sh up

infra-down:
	@scripts/infra.sh down

infra-status:
	@scripts/infra.sh status

## test: unit tests, integration tests (one component against its real database), the
## end-to-end suite against the real system, then the storefront in Chromium
test: setup
	@$(MAKE) --no-print-directory test-unit test-integration test-e2e test-browser

test-unit:
	$(PY) -m pytest tests/unit -q

test-integration:
	$(PY) -m pytest tests/integration -q

# The alert tests (marker `alerts`) wait minutes for alerts with the `for:` they ship with: they
# run once, in the default suite (RabbitMQ, one replica); REPLICAS=2 and other brokers leave them out.
E2E_SELECT := $(if $(and $(filter rabbitmq,$(BROKER)),$(filter 1,$(REPLICAS))),,-m "not alerts")
test-e2e:
	$(PY) -m pytest tests/e2e -v $(E2E_SELECT)

## test-browser: people using the storefront in headless Chromium against the real system
## (UPDATE_SCREENSHOTS=1 also retakes the README's pictures in docs/img)
test-browser:
	$(PY) -m pytest tests/browser -v

## test-brokers: the whole e2e suite again on every other broker (component files only)
BROKERS ?= redis mqtt nats kafka
test-brokers: setup
	@scripts/test-brokers.sh $(BROKERS)

## test-k8s: the Helm chart on a real Kubernetes control plane on this machine (etcd, kube-apiserver,
## controller-manager, scheduler, KWOK nodes, Dapr's injector and Sentry), no containers run. Its
## first run builds the control plane (~15 min on 2 cores, cached). Uses only its own ports: no lock.
test-k8s: setup
	@PYTHON=$(PY) scripts/build-k8s.sh cluster
	$(PY) -m pytest tests/k8s -v

## test-faults: kill -9 RabbitMQ, order-view, its daprd, restart MariaDB under a stream of orders;
## prints one reconciliation row per fault (lost, duplicated, time to recover). REPLICAS=2 adds a
## replica kill -9 of orders, order-view and notifications, and a rolling restart of every app
test-faults: setup
	$(PY) -m pytest tests/faults -v

## setup-containers: podman (config and storage under ~/.cache/dapr-shop/containers), the real
## `docker compose` built from its Go module, and a Debian base image (debootstrap); cached
setup-containers:
	@scripts/setup-containers.sh

## test-compose: docker-compose.yml, unchanged, through podman: builds the images (the apps', the
## patched daprd's, stand-ins for the upstream ones), up, tests/compose, down -v. Publishes the
## shop's ports: nothing else may run them meanwhile (stop `make run` first)
test-compose: setup setup-containers
	@scripts/test-compose.sh

## fanout: the notifications fan-out check against a running system (make run in another terminal)
fanout:
	$(PY) bench/notifications_fanout.py

## load: simulated shoppers (Locust, headless, on CPU 1 or BENCH_LOADGEN_CPUS) against a running system (make run):
##   make load USERS=50 DURATION=60s
load:
	@curl -sf -o /dev/null --max-time 3 http://127.0.0.1:8000/api/health || \
	  { echo "[load] the shop is not running (or not healthy): start it with 'make run' in another terminal"; exit 1; }
	@[ -x .venv/bin/locust ] || { echo "[load] locust is missing: run 'make setup'"; exit 1; }
	PYTHONPATH=. taskset -c $${BENCH_LOADGEN_CPUS:-1} .venv/bin/locust -f bench/locustfile.py --headless --only-summary \
	  --host http://127.0.0.1:8000 --users $(USERS) --spawn-rate $(SPAWN_RATE) --run-time $(DURATION) --stop-timeout 10

## bench: the performance figures (starts and stops the system itself, ~4 min; stop make run first)
bench:
	$(PY) -m bench

## bench-sidecars: figure 2 of make bench alone, the sidecar overhead plain and with mTLS (own ports, ~2 min)
.PHONY: bench-sidecars
bench-sidecars:
	$(PY) -m bench.sidecars

## bench-flood: another client's product list idle and during a 64-client login flood (starts and stops the system, ~1 min)
bench-flood:
	$(PY) -m bench.flood

## bench-limiter: what one rate-limit decision costs through Dapr's state store and straight to Redis (own ports, ~10 s)
bench-limiter:
	$(PY) -m bench.limiter_cost

## bench-cpu: CPU per order placed and applied, and per uncached product read, split by process (~2 min)
bench-cpu:
	$(PY) -m bench.cpu

## bench-sdk: the sidecar client against the Dapr SDK's, CPU and latency per call (~2 min; runs beside make run)
bench-sdk:
	$(PY) -m bench.sdk

lint:
	$(PY) -m ruff check services harness tests scripts bench
	$(PY) -m ruff format --check services harness tests scripts bench
	$(PY) -m mypy services harness bench scripts/restart.py
