# One-line setup: `make test` / `make demo` create .venv, install the pinned requirements and the project
# itself (`pip install -e .`, so `import smplerx` works from any directory) when .venv is missing or older
# than the requirement files, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
DEV_STAMP := $(VENV)/.dev-requirements-installed

.PHONY: test demo venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

test: $(DEV_STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) tools/run_demo.py

clean:
	rm -rf .cache .pytest_cache output
