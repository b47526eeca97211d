# Every target sets itself up: a fresh machine needs only Python and the package registries.
# Set-up is stamped, so repeated runs are fast and change nothing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
ADVISOR := $(VENV)/bin/advisor
TORCH_STAMP := $(VENV)/.torch-2.13.0
SETUP_STAMP := $(VENV)/.setup

.PHONY: setup run test lint bench catalog clean docs

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first, from the pinned CPU build: a bare `torch` pulled in later would fetch gigabytes.
$(TORCH_STAMP): | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	touch $@

$(SETUP_STAMP): pyproject.toml $(TORCH_STAMP)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

setup: $(SETUP_STAMP)

catalog: setup
	$(ADVISOR) catalog load

run: catalog
	@$(ADVISOR) index rebuild
	@$(ADVISOR) serve

test: catalog
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; \
	exit $$rc

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: catalog
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .advisor .pytest_cache .mypy_cache .ruff_cache *.egg-info

docs: setup
	$(PY) -c "from bot.commands import reference_markdown; print(reference_markdown(), end='')" > docs/commands.md
	$(PY) -c "from bot.adapters.slack_manifest import manifest_yaml; print(manifest_yaml(), end='')" > bot/adapters/slack_manifest.yaml
