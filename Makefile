# The client strategy workbook. `make help` lists the targets and variables.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

DATA ?=
MAPPING ?=
AS_OF ?=
OUT ?= reports
HOLDOUT_WEEKS ?=
PARAMS ?=
SIZE ?= default
PSEUDONYMISE ?=
CELL_TIMEOUT ?= 1800
SEED ?= 20261123

.DEFAULT_GOAL := help

$(VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -r requirements.txt
	@touch $@

.PHONY: help venv data run pdf screenshot test test-heavy test-system system-packages lab lint strip clean bench real acceptance

help: ## show this help
	@echo "Client strategy workbook"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-16s %s\n", $$1, $$2}'
	@echo
	@echo "Variables (make run ...):"
	@echo "  DATA=<folder|file.duckdb|url>  input tables (default: the bundled sample)"
	@echo "  MAPPING=<yaml>                 mapping for data in another layout (data/mappings/)"
	@echo "  AS_OF=YYYY-MM-DD               end of the analysed period (default: latest complete quarter)"
	@echo "  OUT=<dir>                      output root (default: reports/)"
	@echo "  HOLDOUT_WEEKS=N                back-test holdout in weeks (default 26; 0 = off)"
	@echo "  PARAMS='name=value ...'        other notebook parameters (see: make params)"
	@echo "  PSEUDONYMISE=1                 client and person names replaced by stable codes in every output"
	@echo "  CELL_TIMEOUT=seconds           per-cell timeout of a run (default 1800)"
	@echo "  SIZE=small|default|large       sample size for make data"

venv: $(VENV)/.installed ## create .venv from the pinned requirements.txt (editable package)

data: venv ## build the sample data into data/sample (SIZE=small|default|large)
	$(PY) -m clientstrategy.sample --out data/sample$(if $(filter-out default,$(SIZE)),-$(SIZE)) --size $(SIZE) --seed $(SEED)

run: venv ## validate the input and run every notebook into OUT/<quarter>
	$(PY) -m clientstrategy.cli run --data "$(DATA)" --mapping "$(MAPPING)" --as-of "$(AS_OF)" --out "$(OUT)" \
		--holdout-weeks "$(HOLDOUT_WEEKS)" --pseudonymise "$(PSEUDONYMISE)" --timeout $(CELL_TIMEOUT) $(foreach p,$(PARAMS),--param '$(p)')

pdf: venv ## the board pack: OUT/<quarter>/board_pack.pdf from the latest run under OUT (Chromium's print; make system-packages installs chromium)
	$(PY) -m clientstrategy.boardpack pdf --out "$(OUT)"

screenshot: venv ## docs/img/summary.png, the README's picture: the summary page of the latest run under OUT (after make run)
	$(PY) -m clientstrategy.boardpack screenshot --out "$(OUT)" --png docs/img/summary.png

params: venv ## list every notebook's parameters
	$(PY) -m clientstrategy.cli params

test: venv ## run the test suite (unit, planted truth, published results, notebooks end to end)
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not heavy" --doctest-modules tests lib/clientstrategy

test-heavy: venv ## long checks kept out of make test
	$(PY) -m pytest -q -m heavy

# The browser, JupyterLab and PostgreSQL tests need Debian's chromium and postgresql. They are part of make
# test and skip there when the packages are absent; CI (.ci/run) installs them and sets
# CLIENTSTRATEGY_SYSTEM_TESTS=required, under which a missing package fails the tests instead.
SYSTEM_PACKAGES := chromium postgresql openjdk-17-jre-headless

system-packages: ## install the Debian packages chromium, postgresql and a Java 17 runtime (Spark) if missing (apt-get; root or sudo)
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "System packages present: $(SYSTEM_PACKAGES)"; exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "error: install$$missing with your system's package manager (no apt-get here)" >&2; exit 1; fi; \
	sudo=""; if [ "$$(id -u)" != 0 ]; then sudo="sudo"; fi; \
	echo "Installing$$missing with apt-get"; \
	$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing

test-system: venv system-packages ## install chromium, postgresql and Java if missing, then run the browser (pages, board pack), JupyterLab, postgres and Spark tests
	CLIENTSTRATEGY_SYSTEM_TESTS=required $(PY) -m pytest -q tests/test_browser.py tests/test_jupyterlab.py tests/test_postgres.py \
		tests/test_features.py::test_spark_gives_identical_results_to_duckdb \
		tests/test_features.py::test_spark_refuses_nanosecond_parquet_clearly \
		tests/test_features.py::test_whole_run_on_spark_gives_the_duckdb_figures

BENCH_SIZES ?= default x4 x16
BENCH_VENV ?= /tmp/clientstrategy-bench-venv

bench: venv ## time, peak memory and aggregation throughput at 1x, 4x, 16x the sample; purchase-model fits beside PyMC-Marketing (reports/bench.json, .png)
	@test -x $(BENCH_VENV)/bin/python || { python3 -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/pip install -q pymc-marketing; } \
	  || echo "PyMC-Marketing could not be installed in $(BENCH_VENV): the bench runs without it"
	$(PY) -m clientstrategy.bench --sizes $(BENCH_SIZES) --out $(OUT) --pymc-python $(BENCH_VENV)/bin/python

lab: venv ## open JupyterLab on the notebooks (the venv's kernel; a notebook opened alone first runs the earlier ones it needs)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

lint: venv ## ruff over the package and tests
	$(VENV)/bin/ruff check lib tests

strip: venv ## strip outputs from the notebooks (the tests refuse committed outputs)
	$(PY) -m clientstrategy.strip notebooks/*.ipynb

acceptance: ## the shared acceptance checks on the committed HEAD
	../shared/acceptance/run

clean: ## remove generated data, reports and caches (keeps .venv)
	rm -rf data/sample/tables data/sample/truth reports/*/ reports/index.html .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# make real: every public dataset through its mapping (written with the mappings, issue 6)
-include Makefile.real
