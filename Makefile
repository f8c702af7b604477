# Dossier tracking — developer and operator entry points. `make help` lists them.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
GEN := packages/dossier_contracts/dossier_contracts/gen
PROTOS := $(wildcard proto/dossier/v1/*.proto)

.PHONY: help install lock test-tools browser helm proto proto-check proto-baseline infra-up infra-down cluster-up cluster-down run stop status test test-unit lint bench bench-core bench-intake bench-processing bench-metrics bench-e2e bench-reports clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# uv installs the whole workspace from uv.lock (every package pinned, with hashes); uv itself comes from
# requirements-uv.txt (pinned, with hashes) into its own small venv under .cache.
UV_VERSION := $(shell sed -n 's/^uv==\([0-9.]*\).*/\1/p' requirements-uv.txt)
UV_HOME := .cache/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
export UV_PYTHON := $(PY)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
MANIFESTS := pyproject.toml uv.lock $(wildcard packages/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)

$(UV): requirements-uv.txt
	rm -rf $(UV_HOME) && $(PY) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install -q --only-binary :all: --require-hashes -r requirements-uv.txt

$(VENV)/.installed: $(MANIFESTS) | $(UV)
	$(UV) sync --locked --all-packages
	touch $@

install: $(VENV)/.installed ## install every workspace member, dev tools and bench packages into .venv from uv.lock

lock: $(UV) ## re-resolve uv.lock after editing a pyproject.toml (other pins stay as they are)
	$(UV) lock

proto: $(VENV)/.installed ## regenerate Python code from proto/ (pinned grpcio-tools + mypy-protobuf)
	rm -rf $(GEN) && mkdir -p $(GEN)
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=$(GEN) --mypy_out=$(GEN) \
	  --plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy $(PROTOS)
	find $(GEN) -type d -exec touch {}/__init__.py \;
	sed -i 's/^from dossier\.v1 import/from dossier_contracts.gen.dossier.v1 import/' $(GEN)/dossier/v1/*.py $(GEN)/dossier/v1/*.pyi

BUF_VERSION := 1.75.0
BUF := .cache/buf/node_modules/.bin/buf

$(BUF):
	mkdir -p .cache/buf && cd .cache/buf && npm install --no-save --no-audit --no-fund -s @bufbuild/buf@$(BUF_VERSION)

DCLINT := .cache/dclint/node_modules/.bin/dclint

$(DCLINT):
	mkdir -p .cache/dclint && cd .cache/dclint && npm install --no-save --no-audit --no-fund -s dclint@3.1.0

# Helm for the chart tests (deploy/helm): built from its Go module by the Go toolchain.
HELM_VERSION := v4.3.2
HELM_STAMP := .cache/helm/.installed-$(HELM_VERSION)

$(HELM_STAMP):
	rm -rf .cache/helm && mkdir -p .cache/helm
	GOBIN=$(CURDIR)/.cache/helm go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
	touch $@

helm: $(HELM_STAMP) ## install the pinned Helm into .cache/helm (Go module, `go install`)

browser: ## install Debian's chromium and chromium-driver for the console's browser tests (when missing)
	deploy/scripts/browser.sh install

test-tools: $(BUF) $(DCLINT) $(HELM_STAMP) browser ## fetch the test tools (buf, Compose schema from npm; Helm from the Go proxy; chromium from Debian)

proto-check: proto $(BUF) ## generated code up to date, buf lint, no breaking change against proto/baseline.binpb
	git diff --exit-code -- $(GEN)
	cd proto && ../$(BUF) lint && ../$(BUF) breaking --against baseline.binpb

proto-baseline: $(BUF) ## accept the current schemas as the new compatibility baseline (after review)
	cd proto && ../$(BUF) build -o baseline.binpb

infra-up: ## start Kafka, PostgreSQL (and install Prometheus and Alertmanager) for local runs and tests
	deploy/scripts/postgres.sh start
	deploy/scripts/kafka.sh start
	deploy/scripts/prometheus.sh install
	deploy/scripts/alertmanager.sh install

infra-down: ## stop what infra-up started
	deploy/scripts/kafka.sh stop
	deploy/scripts/postgres.sh stop
	deploy/scripts/prometheus.sh stop
	deploy/scripts/alertmanager.sh stop

cluster-up: ## start the local 3-node Kafka cluster (SASL_SSL, SCRAM, ACLs; RF 3, min ISR 2) on :19092-19094
	deploy/scripts/kafka-cluster.sh start

cluster-down: ## stop the local 3-node Kafka cluster (its data, CA and passwords stay in .run/kafka-cluster)
	deploy/scripts/kafka-cluster.sh stop

run: install infra-up ## start Kafka, PostgreSQL, Prometheus, Alertmanager and the three services; print their URLs
	deploy/scripts/prometheus.sh start
	deploy/scripts/alertmanager.sh start
	deploy/scripts/services.sh start

stop: ## stop the services and the infrastructure started by `make run`
	-deploy/scripts/services.sh stop
	$(MAKE) infra-down

status: ## show what is running
	-deploy/scripts/kafka.sh status
	-deploy/scripts/postgres.sh status
	-deploy/scripts/prometheus.sh status
	-deploy/scripts/alertmanager.sh status
	-deploy/scripts/services.sh status

test: install test-tools infra-up ## run the whole test suite against real Kafka, PostgreSQL and Prometheus
	$(BIN)/pytest -q -p no:cacheprovider --durations=30

test-unit: install test-tools ## run the unit tests only (no services needed; buf, dclint and helm from test-tools)
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

lint: install ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy packages services tools

bench: bench-core bench-intake bench-processing bench-metrics bench-e2e bench-reports ## run every benchmark; figures go to BENCHMARKS.md

bench-core: install ## 1,000,000 legal deadlines vs a bare datetime loop
	$(BIN)/python bench/bench_calendar.py

bench-intake: install infra-up ## intake events/s (batch, single) vs a bare aiokafka producer loop
	$(BIN)/python bench/bench_intake.py

bench-processing: install infra-up ## processing events/s vs a bare asyncpg COPY of the same rows
	$(BIN)/python bench/bench_processing.py

bench-metrics: install infra-up ## /metrics scrape time for 10,000 agencies vs bare prometheus-client
	$(BIN)/python bench/bench_metrics.py

bench-e2e: install infra-up ## HTTP → report throughput, latency, quarter replay vs a bare Kafka loop
	$(BIN)/python bench/bench_e2e.py

bench-reports: install infra-up ## Biểu 06 report time at 0.3-10 M dossiers, storage, projector under reports
	$(BIN)/python bench/bench_reports.py

clean: ## remove caches and local run state (not the Kafka jars)
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache
