# The two commands a new user needs: `make run` (the main job) and `make test`.
# Both create or reuse .venv, install kubebook editable with its test extras,
# install missing Debian packages, and build (once, cached) the local control plane.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kubebook-installed
KUBEBOOK := $(BIN)/kubebook
ARCHIVE ?= reports
SYSTEM_PACKAGES := haproxy

.PHONY: run test lint setup system-deps cluster-build clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

system-deps:
	bash scripts/ensure-debian-packages.sh $(SYSTEM_PACKAGES)

cluster-build: $(STAMP)
	$(KUBEBOOK) cluster build

test: $(STAMP) system-deps cluster-build
	$(BIN)/pytest

run: $(STAMP) system-deps cluster-build
	$(KUBEBOOK) cluster up
	$(KUBEBOOK) schedule run-all --archive $(ARCHIVE)

lint: $(STAMP)
	$(BIN)/ruff check lib tests benchmarks tools scripts

clean-venv:
	rm -rf $(VENV)
