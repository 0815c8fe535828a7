# Set-up and the two everyday commands (see README "Quick start").
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test test-fast test-floor install install-test clean results lint docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when the package metadata or the pins change.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

# The tests take the bench extra too: sb3-contrib's TRPO is an independent reference for one test.
$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[test,bench,docs]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make demo: install, train TRPO on CartPole-v1 (progress bar), print the summary, write the curve PNG
demo: install
	$(BIN)/trpo train CartPole-v1 --algo trpo --total-steps 100000 --seed 0 --run-dir runs/demo --overwrite
	@echo "plot it again any time: $(BIN)/trpo plot runs/demo -o runs/demo/learning_curve.png"

## make lint: ruff (the rule set: pyproject.toml [tool.ruff]) and mypy ([tool.mypy]) on src/
lint: install-test
	$(BIN)/ruff check src && $(BIN)/mypy

## make docs: the documentation site into site/ (mkdocs.yml; strict: a broken link, a missing file or a
## failed API page fails it). Serve it while editing: .venv/bin/mkdocs serve
docs: install-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet

## make test: install with the test extras, lint, build the docs site, and run the whole suite (learning tests included)
test: install-test lint docs
	$(BIN)/python -m pytest -n 2 --timeout 900 tests

## make test-floor: the test suite again (all but the slow learning tests and the Ray sampler's) on the oldest
## torch and Gymnasium the package declares (pyproject: torch>=2.4, gymnasium>=1.1; the versions:
## constraints-floor.txt), in its own venv. torch 2.4 comes from PyPI as its CUDA build (~3 GB
## download, once per venv). Deselected there: the bitwise-resume state comparisons (gymnasium
## 1.1's PassiveEnvChecker creates its check-once flag `checked_data_reuse` lazily, so a resumed
## env's wrapper state holds one flag more; metrics and parameters are still bitwise equal).
FLOOR_VENV := .venv-floor
test-floor:
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --disable-pip-version-check -q -c constraints-floor.txt -e '.[test,bench]'
	$(FLOOR_VENV)/bin/python -c "import torch, gymnasium; print('floor: torch', torch.__version__, 'gymnasium', gymnasium.__version__)"
	$(FLOOR_VENV)/bin/python -m pytest -n 2 --timeout 900 -m "not slow" --ignore tests/rollout/test_ray_sampler.py \
	    --deselect "tests/reliability/test_rel_resume.py::test_exact_resume_in_fresh_process_is_bitwise[sync]" \
	    --deselect "tests/test_recurrent.py::test_recurrent_resume_is_bitwise" \
	    tests

## make test-fast: everything but the slow learning tests
test-fast: install-test
	$(BIN)/python -m pytest -n 2 -m "not slow" tests

## make results: rewrite the generated blocks of README.md and docs/ from the committed raw records
## (benchmarks/pages.py; tests/test_results_pages.py fails when a committed page differs)
results: install-test
	$(BIN)/python benchmarks/pages.py

clean:
	rm -rf $(VENV) $(FLOOR_VENV) runs .pytest_cache .mypy_cache .ruff_cache
