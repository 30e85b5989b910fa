# One-line setup: `make test` / `make demo` create .venv, install the pinned requirements and the project
# itself (`pip install -e .`, so `import smplerx` works from any directory) when .venv is missing or older
# than the requirement files, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
DEV_STAMP := $(VENV)/.dev-requirements-installed
APP_STAMP := $(VENV)/.app-requirements-installed
DEPLOY_STAMP := $(VENV)/.deploy-requirements-installed
# `make app APP_ARGS="--pretrained_model smpler_x_h32 --port 8080"`: flags of main/app.py
APP_ARGS ?=

.PHONY: test demo app venv clean

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

$(APP_STAMP): $(STAMP) requirements-app.txt
	$(PY) -m pip install --quiet -r requirements-app.txt
	touch $(APP_STAMP)

$(DEPLOY_STAMP): $(STAMP) requirements-deploy.txt
	$(PY) -m pip install --quiet -r requirements-deploy.txt
	touch $(DEPLOY_STAMP)

# the browser tests of the web demo need the app's packages too; the ONNX tests the deploy packages
test: $(DEV_STAMP) $(APP_STAMP) $(DEPLOY_STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) tools/run_demo.py

app: $(APP_STAMP)
	$(PY) main/app.py $(APP_ARGS)

clean:
	rm -rf .cache .pytest_cache output
