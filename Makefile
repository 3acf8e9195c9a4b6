# eucaim-lab: everything a fresh machine needs, from this file.
#   make lab    set up .venv, seed the local node with the demo cohort (if empty), start JupyterLab
#   make test   set up .venv and run every test
#   make demo   seed the local node and run the whole workflow headless
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
LOCK := environments/requirements.lock
STAMP := $(VENV)/.eucaim-installed
PYTEST_ARGS ?=

EXT := extensions/eucaim-jupyterlab

.PHONY: all lab test test-python test-extension demo venv system extension lock clean

all: venv

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade "pip>=23"
	# pyradiomics 3.0.1 builds only without build isolation, after numpy/setuptools/wheel are installed
	$(PIP) install $$(grep -E '^(numpy|setuptools|wheel)==' $(LOCK))
	$(PIP) install --no-build-isolation pyradiomics==3.0.1
	$(PIP) install -r $(LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

venv: $(STAMP)

# bubblewrap for the sandboxed kernels: installed where we can (root + apt), else stop with instructions
system:
	@bash environments/install-system.sh

# the JupyterLab extension: jlpm install + build, editable install into .venv (incremental)
extension: venv
	$(MAKE) -C $(EXT) install PY=$(abspath $(PY))

lab: venv system extension
	$(VENV)/bin/eucaim-lab demo --if-empty
	$(VENV)/bin/eucaim-lab lab

demo: venv system
	$(VENV)/bin/eucaim-lab demo --headless

# front-end unit tests and browser tests first, then pytest (its summary closes the run)
test: venv system extension
	@status=0; \
	$(MAKE) -C $(EXT) test PY=$(abspath $(PY)) || status=1; \
	$(PY) -m pytest $(PYTEST_ARGS) || status=1; \
	exit $$status

test-python: venv system
	$(PY) -m pytest $(PYTEST_ARGS)

test-extension: venv system extension
	$(MAKE) -C $(EXT) test PY=$(abspath $(PY))

# regenerate the pinned environment from environments/dev.in (kernel.in + development tools)
lock:
	rm -rf /tmp/eucaim-lock-venv && $(PYTHON) -m venv /tmp/eucaim-lock-venv
	/tmp/eucaim-lock-venv/bin/pip install -q numpy setuptools wheel
	/tmp/eucaim-lock-venv/bin/pip install -q --no-build-isolation pyradiomics==3.0.1
	/tmp/eucaim-lock-venv/bin/pip install -q -r environments/dev.in
	{ echo "# Pinned kernel + development environment for eucaim-lab (from environments/dev.in). Regenerate with: make lock"; \
	  /tmp/eucaim-lock-venv/bin/pip freeze --all | grep -viE '^(pyradiomics|eucaim|-e |pip==)'; } > $(LOCK)

clean:
	rm -rf $(VENV) build *.egg-info
	$(MAKE) -C $(EXT) clean
