# The one task runner: people and .ci/run call the same targets.
#   make install     a venv with the package and its dev tools (compiles the engine with mypyc)
#   make check       ruff (lint and format) and mypy on every package
#   make test        the whole test suite, the README's command (Kafka tests start a local broker)
#   make test-fast   what needs no broker and takes seconds (-m "not kafka and not slow")
#   make test-browser  the page at / in headless Chromium (apt-get install chromium chromium-driver)
#   make bench       the load harness, quick (docs/performance.md has the full runs)
#   make demo        the whole system on one machine
#   make broker      a local Kafka (KRaft) on 127.0.0.1:9092; make broker-stop stops it
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python

.PHONY: install check test test-fast test-browser bench demo broker broker-stop

# uv resolves and installs the same packages pip would, from the same registry, in a fraction of
# pip's time (4 min 17 s down to about 2 min on a 2-core machine, most of it mypyc's build of the
# engine): CI installs from nothing on every run. Pinned, so every machine installs alike.
UV_VERSION := 0.13.9

install:
	python3 -m venv $(VENV)
	$(BIN)/pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(PYTHON) -q -e '.[dev]'

check:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test:
	$(PYTHON) -m pytest

test-fast:
	$(PYTHON) -m pytest -m "not kafka and not slow" -q

test-browser:
	$(PYTHON) -m pytest tests/browser -q

bench:
	$(BIN)/omnistock bench all --quick

demo:
	$(BIN)/omnistock demo

broker:
	bash docker/kafka-local.sh start

broker-stop:
	bash docker/kafka-local.sh stop
