# Every target sets itself up: a fresh machine needs only Python and the package registries.
# Set-up is stamped, so repeated runs are fast and change nothing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
ADVISOR := $(VENV)/bin/advisor
TORCH_STAMP := $(VENV)/.torch-2.13.0
SETUP_STAMP := $(VENV)/.setup

.PHONY: setup run test lint bench catalog clean docs constraints

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first, from the pinned CPU build: a bare `torch` pulled in later would fetch gigabytes.
$(TORCH_STAMP): | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0 -c constraints.txt
	touch $@

# constraints.txt pins every dependency, so two installs a month apart get the same versions.
$(SETUP_STAMP): pyproject.toml constraints.txt $(TORCH_STAMP)
	$(PY) -m pip install --quiet -e '.[test,postgres]' -c constraints.txt
	touch $@

# Re-pin after changing dependencies in pyproject.toml (review the diff before committing).
constraints: setup
	{ sed -n 1,2p constraints.txt; $(PY) -m pip freeze --exclude-editable \
	  | grep -v -e '^llm-advisor' -e ' @ ' | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/'; } \
	  > constraints.new && mv constraints.new constraints.txt

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

# Style, types, the dependency direction (import-linter contracts in pyproject.toml), and the
# generated command reference: docs/commands.md must match what `make docs` would write.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	@tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	$(PY) -c "from bot.commands import reference_markdown; print(reference_markdown(), end='')" > "$$tmp"; \
	if ! diff -u docs/commands.md "$$tmp"; then \
	  echo "docs/commands.md is out of date: run 'make docs' and commit it"; exit 1; fi

bench: catalog
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .advisor .pytest_cache .mypy_cache .ruff_cache *.egg-info

docs: setup
	$(PY) -c "from bot.commands import reference_markdown; print(reference_markdown(), end='')" > docs/commands.md
	$(PY) -c "from bot.adapters.slack_manifest import manifest_yaml; print(manifest_yaml(), end='')" > bot/adapters/slack_manifest.yaml
