# The two commands of the README. Both set up what they need on a fresh machine first.
#   make check [TARGET=local|prod|path/to/target.yaml] [PYTEST_ARGS=...]
#   make test
SHELL := /bin/bash
TARGET ?= local
PYTEST_ARGS ?=
VENV := .venv
PYTHON := $(VENV)/bin/python
READY := $(VENV)/.ready

.PHONY: check test lint bootstrap clean

$(READY): pyproject.toml constraints.txt scripts/bootstrap
	scripts/bootstrap
	touch $@

bootstrap: $(READY)

# The main job: the checks against TARGET (default: the embedded reference deployment).
check: $(READY)
	rm -rf reports/allure-results
	$(PYTHON) -m pytest --target=$(TARGET) $(PYTEST_ARGS)

# The suite's own tests, with loopback as the only network (scripts/private-network).
test: $(READY)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy
	scripts/private-network $(PYTHON) -m pytest tests --alluredir=reports/test-allure-results $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) reports/allure-results reports/test-allure-results reports/verdict.json
