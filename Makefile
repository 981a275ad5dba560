# One-command set-up: a virtual environment with the pinned CPU torch first, then the package.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-slow lint check-wheel bench clean

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The main job: a short AC-SMFG training run with the default config (ARGS=... adds Hydra overrides).
run: $(STAMP)
	$(BIN)/deep-smfg train $(ARGS)

# the suite on TEST_WORKERS processes (pytest-xdist): 2 = the CI machine's cores; TEST_WORKERS=0 runs it in this one
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m slow $(ARGS)

# pyflakes, pycodestyle, isort and bugbear rules (pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check .

# The wheel, installed into a fresh environment, runs from outside the tree (docs/installing.md; 1-1.5 min).
check-wheel:
	PY=$(PY) bash scripts/check_wheel.sh

bench: $(STAMP)
	$(BIN)/python scripts/bench_exact.py
	$(BIN)/python scripts/bench_throughput.py
	$(BIN)/python scripts/bench_throughput.py --game continuous_pricing

clean:
	rm -rf $(VENV) runs outputs
