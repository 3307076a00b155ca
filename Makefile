# Servicebay — `make run` to try it, `make test` to test it. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DATA_DIR ?= var

# The suite runs on PostgreSQL + Redis (started by scripts/services.sh when absent).
TEST_ENV := DEBUG=0 SECRET_KEY=test-only-secret-key-not-for-production \
	ALLOWED_HOSTS=localhost,127.0.0.1,testserver SITE_URL=http://testserver \
	DATABASE_URL=postgres://servicebay:servicebay@127.0.0.1:5432/servicebay \
	REDIS_URL=redis://127.0.0.1:6379/0 SERVICEBAY_DATA_DIR=$(CURDIR)/var/test

.PHONY: help install install-dev assets run migrate demo kubernetes cluster cluster-stop test lint fmt services check-migrations print-test-env bench-instances bench-broker-sync bench-osb-server brokers clean

help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed  ## Create .venv with the pinned runtime requirements

install-dev: $(VENV)/.installed-dev  ## ...plus the test and lint requirements

static/vendor/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	rm -rf static/vendor && mkdir -p static/vendor/bootstrap-icons
	cp -r node_modules/bootstrap/dist static/vendor/bootstrap
	cp -r node_modules/bootstrap-icons/font/bootstrap-icons.min.css node_modules/bootstrap-icons/font/fonts static/vendor/bootstrap-icons/
	touch $@

assets: static/vendor/.stamp  ## Vendor Bootstrap and its icons from npm into static/vendor (no CDN)

$(DATA_DIR)/secret_key:
	mkdir -p $(DATA_DIR)
	$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	chmod 600 $@

RUN_ENV := DEBUG=$${DEBUG:-1} SECRET_KEY_FILE=$(CURDIR)/$(DATA_DIR)/secret_key SITE_URL=http://127.0.0.1:$(PORT)

migrate: install $(DATA_DIR)/secret_key  ## Apply database migrations
	$(RUN_ENV) $(PY) manage.py migrate --noinput

demo: migrate  ## Load the demo organizations, users and the "chat" service type
	$(RUN_ENV) $(PY) manage.py seed_demo
	$(RUN_ENV) $(PY) manage.py seed_catalog
	$(RUN_ENV) $(PY) manage.py seed_marketplace
	$(RUN_ENV) $(PY) manage.py seed_brokers

cluster:  ## Build (once, cached) and start the local Kubernetes control plane on 127.0.0.1
	bash scripts/cluster/cluster.sh start

cluster-stop:  ## Stop the local control plane and remove its state
	bash scripts/cluster/cluster.sh stop

# $KUBECONFIG wins; else the local control plane; else run without Kubernetes (said plainly).
kubernetes: migrate
	@if [ -n "$${KUBECONFIG:-}" ]; then \
		echo "Kubernetes: using KUBECONFIG=$$KUBECONFIG"; \
	elif ! bash scripts/cluster/cluster.sh start >/dev/null; then \
		echo "Kubernetes is off: the local control plane could not start (see above); running without it."; \
	fi
	@$(RUN_ENV) $(PY) manage.py register_local_cluster

run: install assets demo kubernetes  ## Install, migrate, load demo data, start web + worker + beat
	@echo
	@echo "  Servicebay is starting at  http://127.0.0.1:$(PORT)/"
	@echo "  API docs:                  http://127.0.0.1:$(PORT)/api/docs/"
	@echo "  Queue: $${REDIS_URL:-embedded (no server; a real Celery worker process)}"
	@echo "  Database: $${DATABASE_URL:-SQLite at $(DATA_DIR)/servicebay.sqlite3}"
	@echo
	@$(RUN_ENV) $(PY) manage.py seed_demo | sed 's/^/  /'
	@echo "  Try: log in as bob, Catalog → Chat → Deploy (or: sbay provision chat my-chat --plan small --wait)"
	@echo
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(RUN_ENV) $(VENV)/bin/honcho start -f Procfile -p $(PORT)

services:  ## Install and start PostgreSQL, Redis and Chromium when absent (Debian packages)
	bash scripts/services.sh all

lint: install-dev  ## ruff check + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install-dev  ## Format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check-migrations: install-dev
	$(TEST_ENV) $(PY) manage.py check --fail-level WARNING
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

test: install-dev assets services lint check-migrations  ## Lint, system checks, migrations check, and the whole suite on PostgreSQL + Redis + Kubernetes
	bash scripts/cluster/cluster.sh build || [ $$? -eq 3 ]  # first build ~10 min, then cached; 3 = no Go: kube tests skip
	bash scripts/stripe-mock.sh build >/dev/null  # Stripe's official mock (Go, cached); the marketplace tests need it
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

brokers: install  ## Run the example OSB brokers: PostgreSQL on :8601, RabbitMQ on :8602 (127.0.0.1)
	bash scripts/services.sh postgres
	bash scripts/services.sh rabbitmq
	$(PY) -m brokers.demo serve  # user broker / broker-secret ($$BROKER_USERNAME / $$BROKER_PASSWORD)

bench-instances: install-dev  ## Benchmark: provision 200 instances on the local control plane
	$(PY) bench/bench_instances.py --count $${COUNT:-200}

bench-broker-sync: install-dev  ## Benchmark: sync a broker catalog of 500 offerings × 5 plans (first sync, unchanged resync)
	$(TEST_ENV) $(PY) bench/bench_broker_sync.py --offerings $${OFFERINGS:-500} --plans $${PLANS:-5}

bench-osb-server: install-dev  ## Benchmark: Servicebay's OSB broker API vs an openbrokerapi broker (catalog GET, provision PUT; < 2 min)
	$(TEST_ENV) $(PY) bench/bench_osb_server.py --workers $${WORKERS:-4} --seconds $${SECONDS_PER_SCENARIO:-6}

print-test-env:
	@echo $(TEST_ENV)

clean:  ## Remove the virtualenv, vendored assets and local data
	rm -rf $(VENV) static/vendor node_modules var
