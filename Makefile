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
# Matrix products that do not depend on MKL's thread choice (src/s2accompanist/numerics.py).
export MKL_CBWR ?= AUTO,STRICT

.PHONY: setup repro test bench real-music base-vae base-dit base-judge gpu-check reliability readme-tables compare drift profile clean-reports help browser
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

# Two pytest processes at once: the end-to-end DAG runs (mostly one busy core) and every other test
# (one torch thread). The e2e log is printed when both are done; either failing fails the target,
# and "no tests collected" (exit 5) counts as success. The tests that need a whole second DAG run
# (determinism between two clean runs, the secrets scan of a whole run, SIGKILL in every kind of
# stage) are left to `make reliability`: with the kill test the suite took 25 min of its 20.
E2E_LOG := $(VENV)/e2e-tests.log
test: setup browser
	@$(PY) -m pytest -p no:cacheprovider -m "e2e and not second_clean_run" > $(E2E_LOG) 2>&1 & e2e=$$!; \
	$(PY) -m pytest -m "not e2e"; rest=$$?; wait $$e2e; e2e_rc=$$?; \
	echo "==================== end-to-end tests ($(E2E_LOG)) ===================="; cat $(E2E_LOG); \
	for rc in $$rest $$e2e_rc; do if [ $$rc -ne 0 ] && [ $$rc -ne 5 ]; then exit $$rc; fi; done; echo "both test runs passed"

bench: setup
	$(PY) bench/run.py

# Lead sheets and structure on real music (issue 17): real scores from music21's corpus rendered by our
# synthesizer into data/cache/real_music/ (reused), scored against the scores' truth. Writes
# reports/real_music/real_music_{leadsheet,segmentation}.{md,csv}; offline, about 15 min on 2 cores.
real-music: setup
	$(PY) bench/real_music.py

# The default profile's base autoencoder (vae.pretrained), trained outside the DAG on a synthetic
# corpus of its own and versioned in data/base/ with its report (sha256, settings, wall time).
# About an hour on 2 cores; `dvc repro` never reruns it. BASE_VAE_ARGS="--steps 50" is a quick check.
BASE_VAE_ARGS ?=
base-vae: setup
	$(PY) -m s2accompanist.training.base_vae $(BASE_VAE_ARGS)

# The default profile's base DiT (dit.pretrained), trained outside the DAG on the base corpus in the
# base autoencoder's latent space and versioned in data/base/ with its report. Run base-vae first
# when the autoencoder changes. About 25 minutes on 2 cores; BASE_DIT_ARGS="--steps 20" is a quick check.
BASE_DIT_ARGS ?=
base-dit: setup
	$(PY) -m s2accompanist.training.base_dit $(BASE_DIT_ARGS)

# The evaluation's judge (evaluate.embedder.backend: judge): a reference CLAP trained on a synthetic
# corpus of its own (seed 2000) with hashed-word text features, versioned in data/judge/ with its
# report (sha256, held-out retrieval and tagging). `dvc repro` never retrains it. About 8 minutes on 2
# cores; BASE_JUDGE_ARGS="--songs 20 --epochs 1" is a quick check.
BASE_JUDGE_ARGS ?=
base-judge: setup
	$(PY) -m s2accompanist.training.base_judge $(BASE_JUDGE_ARGS)

# On a GPU machine: the paper DiT's bf16 training step (throughput, MFU, peak memory), the paper
# VAE and a guided generation, written to reports/perf.md. Needs only torch (no venv, no set-up:
# a lent GPU may have its own Python and no network), so it runs with GPU_PYTHON, not the venv.
GPU_PYTHON ?= python3
gpu-check:
	$(GPU_PYTHON) bench/gpu_check.py

# Copy the result tables of the last `dvc repro` into README.md (between its results markers).
readme-tables: setup
	$(PY) -m s2accompanist.reporting.readme

# After `make repro`: every metric of this run against the committed run, with both machines and
# the measured drift as tolerance (reports/compare.md), and both runs' training curves
# (reports/compare_plots/index.html). AGAINST=<git revision> compares with another commit's run.
AGAINST ?= HEAD
compare: setup
	$(PY) -m s2accompanist.reporting.compare --against $(AGAINST)
	dvc plots diff $(AGAINST) --out reports/compare_plots
	@echo "training curves, committed run against this one: reports/compare_plots/index.html"

# How far metrics move on this machine when only threads or instruction set change: the tolerance
# `make compare` uses (reports/drift.{json,md}). DRIFT_PROFILE=smoke (about 15 min) or default.
DRIFT_PROFILE ?= smoke
drift: setup
	$(PY) bench/drift.py --profile $(DRIFT_PROFILE)

# The reproducibility and fault-tolerance tests, summarised in reports/reliability.md (23 min on 2 cores, measured 2026-11-25).
reliability: setup
	$(PY) bench/reliability_report.py

# make profile PROFILE=smoke|paper|default
profile: setup
	$(PY) -m s2accompanist.profiles $(PROFILE)
