# The two set-up commands: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_REPO ?= demo-repository
PORT ?= 8501
GRPC_PORT ?= 8500
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# the build backend warns that ext-modules is experimental, once per build step: not the user's concern
QUIET_BUILD := PYTHONWARNINGS=ignore:::setuptools.config.pyprojecttoml

.PHONY: demo test reliability lint typecheck install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml requirements/constraints.txt src/moorings/codecs/_jsonnum.c src/moorings/codecs/_pow5_128.h
	@echo "Installing Moorings and its test tools into $(VENV) (a few minutes the first time)..."
	$(QUIET_BUILD) $(BIN)/python -m pip install --progress-bar off -c requirements/constraints.txt -e ".[all,dev]" \
		| grep --line-buffered -E '^(Collecting|Successfully|ERROR)'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/digits/build_repository.py $(DEMO_REPO)
	$(BIN)/moorings serve $(DEMO_REPO) --rest-port $(PORT) --grpc-port $(GRPC_PORT)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# the reliability suite at full length (30 s of load per test, 5,000 fuzz cases, a 10-minute soak:
# about 15 minutes); `make test` runs the same tests short
reliability: $(STAMP)
	MOORINGS_RELIABILITY=full nice -n 10 $(BIN)/python -m pytest tests/reliability -m reliability -v -s --timeout 1800

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO_REPO) .pytest_cache .mypy_cache .ruff_cache
