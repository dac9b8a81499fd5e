# dealvault — set-up and everyday commands. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv web-assets demo serve-demo test lint format bench eval eval-public clean

# tests run on every core (pytest-xdist); TEST_WORKERS=0 runs them in one process
TEST_WORKERS ?= auto

$(STAMP): pyproject.toml setup.py src/dealvault/classify/_crf.c $(wildcard src/dealvault/_kernels/*.c src/dealvault/_kernels/*.h)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# the web data room's front-end files, from the npm registry (versions and hashes pinned in
# web-assets/package-lock.json), copied into the package; never from a CDN
VENDOR       := src/dealvault/web/static/vendor
VENDOR_STAMP := $(VENDOR)/.stamp
$(VENDOR_STAMP): web-assets/package.json web-assets/package-lock.json
	npm ci --prefix web-assets --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp web-assets/node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	touch $(VENDOR_STAMP)

web-assets: $(VENDOR_STAMP)

# pycanon (the independent k-anonymity checker the tests call) pins exact versions of numpy,
# pandas and typer, so it lives in a venv of its own and the tests run it as a subprocess.
CANON       := .venv-pycanon
CANON_STAMP := $(CANON)/.installed-stamp
$(CANON_STAMP):
	test -x $(CANON)/bin/python || $(PYTHON) -m venv $(CANON)
	$(CANON)/bin/python -m pip install --quiet "pycanon==1.3.6"
	touch $(CANON_STAMP)

# anonypy (the Mondrian baseline of bench/adult.py) declares no dependencies but needs pandas;
# it lives in a venv of its own, pinned here, so its pins never touch ours, and bench/adult.py
# runs it as a subprocess (bench/anonypy_run.py).
ANONYPY       := .venv-anonypy
ANONYPY_STAMP := $(ANONYPY)/.installed-stamp
$(ANONYPY_STAMP):
	test -x $(ANONYPY)/bin/python || $(PYTHON) -m venv $(ANONYPY)
	$(ANONYPY)/bin/python -m pip install --quiet "anonypy==0.2.1" "pandas==2.2.3" "numpy==2.1.3"
	touch $(ANONYPY_STAMP)

## demo: set up, then run the main job end to end on the embedded SQLite store
demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh

## serve-demo: the server on the demo store with invented, signed-up accounts (Ctrl-C stops)
serve-demo: $(STAMP) $(VENDOR_STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python scripts/serve_demo.py

## test: set up if needed, then run the whole test suite
test: $(STAMP) $(CANON_STAMP) $(VENDOR_STAMP)
	DEALVAULT_PYCANON_PYTHON="$(abspath $(CANON))/bin/python" $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --durations=15

## lint: ruff (lint + format check) and mypy --strict
lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts eval
	$(BIN)/ruff format --check src tests bench scripts eval
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## bench: run the benchmarks (one JSON line each); see docs/benchmarks.md
bench: $(STAMP) $(VENDOR_STAMP) $(ANONYPY_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/kernels.py
	$(BIN)/python bench/import.py --compare-python --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/monitor.py
	$(BIN)/python bench/incident_impact.py
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/freetext.py
	$(BIN)/python bench/masking.py
	$(BIN)/python bench/mondrian.py
	$(BIN)/python bench/adult.py
	$(BIN)/python bench/suppression_attack.py
	$(BIN)/python bench/package.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/startup.py --demo

## eval: precision and recall of PII classification on the labelled evaluation set
eval: $(STAMP)
	$(BIN)/python eval/make_eval_set.py
	$(BIN)/python eval/run_eval.py

## eval-public: precision and recall on public labelled corpora in eval/data (git-ignored;
## eval/public/SOURCES.md says where they come from); says how to get them when absent.
## CI runs only `make eval`.
eval-public: $(STAMP)
	@if ls eval/data/*/* >/dev/null 2>&1; then $(BIN)/python eval/public/run_public.py; \
	else echo "eval/data/ is empty: copy the corpora with"; \
	echo "  $(BIN)/python eval/public/fetch_public.py --mirror DIR  (git snapshots, see eval/public/SOURCES.md)"; \
	echo "  or --from DIR (a plain copy laid out <corpus>/<file>)"; fi

clean:
	rm -rf $(VENV) $(CANON) $(ANONYPY) .demo .pytest_cache .mypy_cache .ruff_cache
