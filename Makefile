# Set-up and the two everyday commands (see README "Quick start").
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test test-fast install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when the package metadata or the pins change.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make demo: install, train TRPO on CartPole-v1 (progress bar), print the summary, write the curve PNG
demo: install
	$(BIN)/trpo train CartPole-v1 --algo trpo --total-steps 100000 --seed 0 --run-dir runs/demo --overwrite
	@echo "plot it again any time: $(BIN)/trpo plot runs/demo -o runs/demo/learning_curve.png"

## make test: install with the test extras and run the whole suite (learning tests included)
test: install-test
	$(BIN)/python -m pytest -n 2 --timeout 900 tests

## make test-fast: everything but the slow learning tests
test-fast: install-test
	$(BIN)/python -m pytest -n 2 -m "not slow" tests

clean:
	rm -rf $(VENV) runs .pytest_cache
