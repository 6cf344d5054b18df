# PostDesk — one command per job. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
RASA      := $(VENV)/bin/rasa
STAMP     := $(VENV)/.installed
MODEL     := models/postdesk.tar.gz
export PYTHONWARNINGS ?= ignore::DeprecationWarning
export TF_CPP_MIN_LOG_LEVEL ?= 2
export SQLALCHEMY_SILENCE_UBER_WARNING ?= 1
export RASA_TELEMETRY_ENABLED ?= false

# What a model is trained from: retrain only when one of these changed.
TRAIN_INPUTS := config.yml domain.yml $(shell find data -type f 2>/dev/null) \
                bot/nlu/postal_entities.py bot/nlu/intent_blend.py bot/nlu/scoped_fallback.py \
                bot/dialogue/cached_ted.py \
                $(addprefix bot/text/,tracking.py phones.py gazetteer.py lexicon.py pinyin.py)

.PHONY: help install system-packages train run cluster test unit evaluate bench loadtest lint seed clean

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv on Python 3.10 and install the pinned requirements

$(STAMP): requirements.txt
	@py=$$(bash .ci/find-python) || { \
	  echo "No Python 3.10 found. Rasa 3.6 runs on Python 3.10 only (the system python3 is too new)."; \
	  echo "Install it, e.g. 'pyenv install 3.10.13' (then this project's .python-version selects it),"; \
	  echo "or 'apt-get install python3.10 python3.10-venv', or set PYTHON=/path/to/python3.10."; \
	  exit 1; }; \
	echo "Using $$py ($$($$py --version 2>&1))"; \
	[ -x $(PY) ] && $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' || { rm -rf $(VENV); $$py -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip==24.0
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

$(MODEL): $(STAMP) $(TRAIN_INPUTS)
	@mkdir -p models
	$(RASA) train --fixed-model-name postdesk --out models --quiet
	@touch $(MODEL)

train: $(MODEL) ## Train the model (only when data, config or domain changed)

seed: $(STAMP) ## Create the mail store and the demo mail (idempotent)
	@mkdir -p var
	$(PY) -m bot.workorders seed --database-url "$$($(PY) -c 'from bot.config import load_settings; print(load_settings().database_url)')" $(SEED_FLAGS)
	$(PY) -m bot.proactive seed $(filter --refresh,$(SEED_FLAGS))

run: SEED_FLAGS = --refresh --demo
run: $(MODEL) seed ## Install, train if needed, seed, and start the Rasa server and action server
	$(PY) -m bot.launcher --demo

cluster: $(MODEL) ## N Rasa replicas + M action servers behind HAProxy on PostgreSQL and Redis (CLUSTER_FLAGS="--replicas 2 --action-servers 1")
	$(PY) -m bot.cluster run $(CLUSTER_FLAGS)

system-packages: ## Install the Debian packages the tests' servers and browser need, when missing (root)
	@bash .ci/system-packages

test: $(MODEL) system-packages ## Install, train if needed, and run the whole test suite
	$(PY) -m pytest -q tests

unit: $(STAMP) ## The fast loop: every test that needs no trained model, no server and no browser (2 processes)
	$(PY) -m pytest -q -n 2 -m "not model and not server and not browser" tests

evaluate: $(MODEL) ## Accuracy and macro-F1 per intent and register (held-out, realistic; SEALED=1 adds the sealed part) beside a TF-IDF baseline, under reports/
	$(PY) -m bot.nlu.evaluate --model $(MODEL) --data tests/nlu --out reports $(if $(SEALED),--sealed)

bench: $(MODEL) ## Print NLU latency, turn throughput, training time, peak memory, and the reports on a year of data (SQLite, PostgreSQL)
	$(PY) -m bot.bench --model $(MODEL)
	$(PY) -m bot.bench.reports
	$(PY) -m bot.bench.proactive

loadtest: $(MODEL) ## Open-loop load on REST and WeChat from a stack of its own: turns/s, p50/p95/p99, lost/duplicated/reordered (LOADTEST_FLAGS="--rate 5 --duration 30")
	$(PY) -m bot.loadtest --start-stack $(LOADTEST_FLAGS)

lint: $(STAMP) ## ruff (pyflakes, pycodestyle, import order, docstrings) and mypy on bot/ and actions/, and Rasa's data validation
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy
	$(RASA) data validate --quiet

clean: ## Remove models, reports and the local database
	rm -rf models reports results var .rasa
