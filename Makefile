# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench setup browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The admin console's browser test drives Debian's chromium through Playwright (which may
# not download browsers of its own here). Installing it needs root and Debian's archive.
browser:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

run: $(STAMP)
	mkdir -p var/nats var/valkey
	$(BIN)/mimo init-env
	$(BIN)/mimo urls
	$(BIN)/honcho start

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
