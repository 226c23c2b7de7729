# Two commands on a fresh machine (Python 3.11 and pip are all it needs):
#   make repro   set up, then run the whole pipeline (`dvc repro`) on params.yaml's profile
#   make test    set up, then run the test suite (what .ci/run calls)
# A second run skips every set-up step that is already done.

VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# One place for pins: pyproject.toml. torch is installed first, alone, and every later install is
# constrained to it, so nothing can pull a CUDA build of torch.
TORCH_PIN := $(shell $(PYTHON) -c "import tomllib; print(next(d for d in tomllib.load(open('pyproject.toml','rb'))['project']['dependencies'] if d.startswith('torch=')))")
NO_DEPS := $(shell $(PYTHON) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml','rb'))['tool']['s2accompanist']['no-deps']))")
INSTALLED := $(VENV)/.installed
KERNEL := $(VENV)/share/jupyter/kernels/s2accompanist/kernel.json

export PATH := $(abspath $(VENV))/bin:$(PATH)
export DVC_NO_ANALYTICS := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export JUPYTER_RUNTIME_DIR := $(abspath $(VENV))/jupyter-runtime
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup repro test bench reliability readme-tables profile clean-reports help browser
help:
	@sed -n '1,5p' Makefile

setup: $(INSTALLED) $(KERNEL) .dvc/config

$(PY):
	@$(PYTHON) -c "import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 'Python 3.11 is required; set PYTHON=/path/to/python3.11')"
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet "$(TORCH_PIN)"
	echo "$(TORCH_PIN)" > $(VENV)/torch-constraint.txt
	$(PY) -m pip install --quiet -c $(VENV)/torch-constraint.txt -e .
	$(PY) -m pip install --quiet --no-deps $(NO_DEPS)
	@! $(PY) -m pip show --quiet torchaudio torchvision 2>/dev/null || (echo "torchaudio/torchvision got installed; they break lightning on CPU torch" && exit 1)
	touch $@

$(KERNEL): | $(INSTALLED)
	$(PY) -m ipykernel install --sys-prefix --name s2accompanist --display-name "Python (s2accompanist)"

.dvc/config: | $(INSTALLED)
	test -d .dvc || dvc init $$(git rev-parse --git-dir >/dev/null 2>&1 || echo --no-scm)
	dvc config core.analytics false

repro: setup
	dvc repro

# The listening-page test opens the report in headless Chromium (the Debian package); without it that test skips.
browser:
	@if command -v chromium >/dev/null 2>&1; then \
	  echo "found $$(chromium --version 2>/dev/null)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; \
	else \
	  echo "chromium is not installed and installing it needs root: run sudo apt-get install -y chromium (until then tests/reporting/test_listening_page_browser.py is skipped)"; \
	fi

# Two pytest-xdist workers: the end-to-end DAG runs (one group: they share the smoke runs) on one,
# every other test on the other. The tests that need a second clean DAG run (determinism between two
# clean runs, the secrets scan of a whole run) are left to `make reliability`, which runs everything.
test: setup browser
	$(PY) -m pytest -n 2 --dist loadgroup -m "not second_clean_run"; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

bench: setup
	$(PY) bench/run.py

# Copy the result tables of the last `dvc repro` into README.md (between its results markers).
readme-tables: setup
	$(PY) -m s2accompanist.reporting.readme

# The reproducibility and fault-tolerance tests, summarised in reports/reliability.md (about 15 min on 2 cores).
reliability: setup
	$(PY) bench/reliability_report.py

# make profile PROFILE=smoke|paper|default
profile: setup
	$(PY) -m s2accompanist.profiles $(PROFILE)
