# Two commands for a fresh machine: `make lab` (the course) and `make test` (the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# JupyterLab refuses to start as root unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup lab test test-fast browser hub release benchmark student-edition clean

setup: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml jupyter/overrides.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	# JupyterLab set up for the course: no "get Jupyter news?" pop-up greeting every student
	install -D -m 644 jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $@

# Serve the whole repo (nbgrader's Validate and Assignments need the course dir inside the server's
# root; passing a notebook's path would make notebooks/ the root) and open lesson 00.
lab: setup
	$(BIN)/jupyter lab $(ROOT_FLAG) --ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/notebooks/00_tour.ipynb

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

# The JupyterHub round trip (tests/e2e/test_hub_round_trip.py): the hub's proxy from npm, and Debian's
# python3 for the students' servers (the venv's own Python lives where other users cannot enter).
hub:
	@command -v configurable-http-proxy >/dev/null || $(SUDO) npm install -g --no-fund --no-audit configurable-http-proxy@5.3.0
	@test -x /usr/bin/python3 || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3)

test: setup browser hub
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not e2e"

release: setup
	$(BIN)/grader release

benchmark: setup
	$(BIN)/python -m benchmarks.train_step

# The folder students clone (no solutions, reference bodies compiled): OUT=path, default artifacts/student-edition
student-edition: setup
	$(BIN)/grader student-edition $(or $(OUT),artifacts/student-edition)

clean:
	rm -rf $(VENV) course artifacts
