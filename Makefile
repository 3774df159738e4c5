# Two entry points for a fresh machine: `make demo` and `make test`.
# Each installs what it needs first (Debian's chromium when root and absent, the project in .venv).
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench

$(STAMP): pyproject.toml
	bash scripts/install.sh
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/recore-connector demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# each benchmark prints its figures against a baseline measured in the same run
bench: $(STAMP)
	@for b in benchmarks/*_bench.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done
