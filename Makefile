# Two commands do all set-up: `make run` and `make test`. Both create .venv/ from
# requirements.lock when it is missing or stale (the lock's hash is kept in .venv/).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
export PYTHONPATH := $(CURDIR)
export AIRFLOW_HOME ?= $(CURDIR)/.local/airflow

DATE ?=
CONF ?=
INPUT ?=
HOST ?=
PIPELINE ?= main
# pytest-xdist workers for `make test`: each test file runs whole on one worker, so a module's
# fixtures (and DAG runs) are made once, and files go out in collection order, the modules that
# take minutes first (tests/conftest.py). Three on the 2-core machine it is measured on: the
# tests also wait (on jobs, polls, a browser), and with two workers the cores were idle a
# quarter of the time (10 min 30 s wall with two, 7 min 50 s with three); a fourth adds only
# contention (the same tree: 5 min 21 s with three, 5 min 27 s with four).
TEST_WORKERS ?= 3

.PHONY: venv system-tools test lint format run airflow bench lock reset clean

venv:
	@bash tools/ensure_venv.sh "$(PYTHON)" "$(VENV)" "$(UV_VERSION)"

system-tools:
	@bash tools/ensure_system_tools.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: venv system-tools lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

run: venv
	$(PY) -m tools.run_offline --pipeline "$(PIPELINE)" $(if $(DATE),--date "$(DATE)") $(if $(CONF),--conf '$(CONF)') $(if $(INPUT),--input "$(INPUT)")

airflow: venv
	$(PY) -m tools.airflow_standalone $(if $(HOST),--host "$(HOST)")

bench: venv
	$(PY) -m bench

# Regenerate the locks after editing requirements.txt (or the SDK 2 client tests' own).
lock: venv
	$(VENV)/bin/uv pip compile requirements.txt --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --no-header --generate-hashes -q -o requirements.lock
	$(VENV)/bin/uv pip compile tests/support/sagemaker_sdk2/requirements.txt --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --no-header --generate-hashes -q \
		-o tests/support/sagemaker_sdk2/requirements.lock

# The local account (emulator state, Airflow's DB, runs) starts again empty; the venv stays.
reset:
	rm -rf .local

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache
