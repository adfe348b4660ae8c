# process-monitor developer entry points. `make help` lists them.
# Everything a fresh machine needs is installed by `make setup` (idempotent; fast when warm).

PYTHON ?= python3
export PM_TOOLS_CACHE ?= $(HOME)/.cache/process-monitor/tools

.PHONY: help setup test lint quickstart

help:
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

setup: ## install Debian packages, Python packages and the Go-built tools (cached by version)
	bash tools/setup.sh

lint: ## ruff over the whole tree
	$(PYTHON) -m ruff check .

test: setup ## run every test layer (what .ci/run runs)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest -ra

# --- agent ---------------------------------------------------------------------------------------------------
.PHONY: agent-test agent-once
agent-test: ## agent unit tests (fake procfs) and real-/proc tests
	$(PYTHON) -m pytest -q tests/agent
agent-once: ## run the agent once with the catch-all config and print the exposition
	PYTHONPATH=agent $(PYTHON) -m process_monitor_agent -config.path examples/agent/catch-all.yaml -once-to-stdout-delay 1s

# --- local control plane -------------------------------------------------------------------------------------
.PHONY: tools cluster-up cluster-down cluster-status
NODES ?= 3
REAL_NODES ?= 0

tools: ## build the Go tools pinned in tools/versions.env (cached in $(PM_TOOLS_CACHE); warm run does nothing)
	bash tools/build-go-tools.sh

cluster-up: ## start (or reuse) the local control plane on 127.0.0.1 with NODES fake nodes (default 3); REAL_NODES=1 adds a real kubelet node
	PYTHONPATH=tools $(PYTHON) -m localcluster up --nodes $(NODES) --real-nodes $(REAL_NODES) --state-dir .cluster

cluster-down: ## stop the local control plane started by cluster-up (each component by its PID)
	PYTHONPATH=tools $(PYTHON) -m localcluster down --state-dir .cluster

cluster-status: ## show the local control plane's components, server and Ready nodes
	PYTHONPATH=tools $(PYTHON) -m localcluster status --state-dir .cluster

# --- operator ------------------------------------------------------------------------------------------------
.PHONY: operator-test operator-golden operator-bench
operator-test: ## operator: renderer/unit tests and integration tests on the local control plane
	$(PYTHON) -m pytest -q tests/operator

operator-golden: ## operator: regenerate renderer golden files (review the diff!)
	PM_UPDATE_GOLDEN=1 $(PYTHON) -m pytest -q tests/operator/test_render.py

operator-bench: ## operator: apply->Ready latency and steady-state writes (RSS bench: python bench/operator_rss.py)
	$(PYTHON) bench/operator_latency.py
	$(PYTHON) bench/operator_steady_writes.py --duration 120


# --- packaging / quick start ---------------------------------------------------------------------------------
.PHONY: quickstart-down sync-crds images
quickstart: setup ## fresh machine: local cluster with a real node, images, chart; operator and agent run as real pods
	$(PYTHON) tools/quickstart.py up

quickstart-down: ## uninstall the quick start's release and stop the local control plane and its real node
	$(PYTHON) tools/quickstart.py down

sync-crds: ## copy the canonical crds/processmonitor.yaml into the chart (a test checks they are identical)
	cp crds/processmonitor.yaml charts/process-monitor/crds/processmonitor.yaml

images: ## build both images (docker build if a Docker engine answers, else buildah) and load them into the real node
	PYTHONPATH=tools $(PYTHON) -m localcluster images --state-dir .cluster


# --- prometheus ----------------------------------------------------------------------------------------------

.PHONY: test-prometheus prometheus-generated

test-prometheus: ## promtool, real-Prometheus and prometheus-operator tests (tests/prometheus)
	$(PYTHON) -m pytest -ra tests/prometheus

prometheus-generated: ## regenerate dashboards/process-monitor{,-gpu}.json and the example rules file
	PYTHONPATH=operator:agent $(PYTHON) -m process_monitor_operator.cli dashboard > dashboards/process-monitor.json
	PYTHONPATH=operator:agent $(PYTHON) -m process_monitor_operator.cli dashboard --gpu \
	  > dashboards/process-monitor-gpu.json
	PYTHONPATH=operator:agent $(PYTHON) -m process_monitor_operator.cli render --rules \
	  -f examples/prometheus/processmonitor-with-alerts.yaml > examples/prometheus/process-monitor.rules.yaml

# --- benchmarks ----------------------------------------------------------------------------------------------
.PHONY: bench-agent bench-reload bench-reload-flood bench-realnode-reload test-side-by-side

test-side-by-side: ## agent vs process-exporter (Debian 0.7.10, upstream v0.8.7) on the real /proc (tests/agent_real)
	$(PYTHON) -m pytest -q tests/agent_real

BENCH_PROCS ?= 2000 10000
BENCH_SCRAPES ?= 20

bench-agent: ## agent vs process-exporter: CPU per scrape and peak RSS at 2,000 and 10,000 processes (bench/README.md)
	for n in $(BENCH_PROCS); do $(PYTHON) bench/agent_scrape.py --procs $$n --scrapes $(BENCH_SCRAPES) || exit 1; done

bench-reload: ## agent reload latency over 20 kubelet-style ConfigMap swaps, p50/p95 (bench/README.md)
	$(PYTHON) bench/reload_latency.py --swaps 20

bench-realnode-reload: ## on the real node: ProcessMonitor change -> file swapped -> served, p50/p95 over 10 changes
	$(PYTHON) bench/realnode_reload.py --changes 10

bench-reload-flood: ## cost of 10,000 POST /-/reload in 10 s, with and without -web.enable-lifecycle (bench/README.md)
	$(PYTHON) bench/reload_flood.py --config large
	$(PYTHON) bench/reload_flood.py --config catch-all
