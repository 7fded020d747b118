# The two commands of the README. Both set up what they need on a fresh machine first.
#   make check [TARGET=local|prod|path/to/target.yaml] [PYTEST_ARGS=...]
#   make test
#   make report [SINGLE_FILE=1]
SHELL := /bin/bash
TARGET ?= local
PYTEST_ARGS ?=
SINGLE_FILE ?=
TEST_WORKERS ?= 2
VENV := .venv
PYTHON := $(VENV)/bin/python
READY := $(VENV)/.ready

.PHONY: check test lint bootstrap clean report

$(READY): pyproject.toml constraints.txt scripts/bootstrap reports/package-lock.json
	scripts/bootstrap
	touch $@

bootstrap: $(READY)

# The main job: the checks against TARGET (default: the embedded reference deployment).
check: $(READY)
	rm -rf reports/allure-results
	$(PYTHON) -m pytest --target=$(TARGET) --junitxml=reports/junit.xml $(PYTEST_ARGS)

# The suite's own tests, with loopback as the only network (scripts/private-network). actionlint
# (from the dev extra) lints every workflow in .github/workflows first; any finding fails the build.
# Two pytest-xdist workers, each with its own reference deployments: most of a test's time is spent
# waiting on a suite run or a deployment, so two halve the wall time on two cores (the 15-minute budget).
test: $(READY)
	$(VENV)/bin/actionlint -no-color $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy
	scripts/private-network $(PYTHON) -m pytest tests -n $(TEST_WORKERS) --alluredir=reports/test-allure-results --durations=15 $(PYTEST_ARGS)

# The HTML report of the last run (reports/allure-results -> reports/allure-report/), offline, with
# trends across runs; SINGLE_FILE=1 writes one self-contained reports/allure-report.html instead.
report:
	SINGLE_FILE=$(SINGLE_FILE) scripts/report

clean:
	rm -rf $(VENV) reports/allure-results reports/test-allure-results reports/verdict.json
