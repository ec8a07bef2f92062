# Large Models: From Neurons to Business. The README documents the two commands:
#   make book   build the website into _build/html from the committed notebook outputs
#   make test   lint, unit tests, nbval over every notebook, student copies executed,
#               strict book build, site checks in a browser
# Everything runs in .venv, created and filled from requirements*.txt on first use.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

# The book's runs are offline: libraries must not try the model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONHASHSEED := 0
# One compute thread per process. nbval runs two notebooks at once on two cores; with
# PyTorch's and OpenBLAS's default of one thread per core, four spinning threads share
# two cores and a notebook can run several times slower. Committed outputs are made
# with the same setting (make execute), so their numbers match nbval's.
export OMP_NUM_THREADS := 1
# The same arithmetic on every x86-64 processor with AVX2, so that outputs committed on
# one machine match nbval's on another: MKL, PyTorch's kernels, oneDNN and NumPy take
# their AVX2 code paths even where AVX-512 exists, and TensorFlow its oneDNN-free kernels.
# TensorFlow's C++ INFO lines describe the machine, not the lesson: they are not logged.
export MKL_CBWR := AVX2
export ATEN_CPU_CAPABILITY := avx2
export ONEDNN_MAX_CPU_ISA := AVX2
export TF_ENABLE_ONEDNN_OPTS := 0
export TF_CPP_MIN_LOG_LEVEL := 1
# NumPy's own AVX-512 loops (exp, log, sums, ...) likewise stay off.
export NPY_DISABLE_CPU_FEATURES := X86_V4 AVX512_ICL AVX512_SPR

.PHONY: book test install lint unit nbval student student-check site-build site-check \
	execute execute-all freeze clean

book: $(INSTALLED)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "The website is in $(CURDIR)/_build/html (open _build/html/index.html)."

test: $(INSTALLED) lint unit nbval student-check site-build site-check
	@echo "make test: all checks passed."

install: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(INSTALLED)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: $(INSTALLED)
	$(BIN)/pytest tests --ignore=tests/site --ignore=tests/student -q

nbval: $(INSTALLED)
	$(BIN)/pytest --nbval $(NOTEBOOKS) --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -n 2 --dist loadfile -q

# Student copies for a class: _student/ and _student.zip (scripts/student_copies.py).
student: $(INSTALLED)
	$(BIN)/python scripts/student_copies.py

# Each student copy executes up to and through its exercises (unanswered, they fail
# with the checker's message); two notebooks at a time, as nbval runs.
student-check: $(INSTALLED)
	$(BIN)/pytest tests/student -n 2 -q

site-build: $(INSTALLED)
	rm -rf _build/html
	$(BIN)/jupyter-book build . --warningiserror --keep-going

site-check: $(INSTALLED)
	$(BIN)/pytest tests/site -q

# Re-execute notebooks in place to refresh their committed outputs:
#   make execute NB=notebooks/01_rise_of_large_models.ipynb
execute: $(INSTALLED)
	@test -n "$(NB)" || { echo "usage: make execute NB=notebooks/NN_name.ipynb"; exit 2; }
	$(BIN)/python tests/execute_notebook.py $(NB)

execute-all: $(INSTALLED)
	$(BIN)/python tests/execute_notebook.py $(NOTEBOOKS)

# Re-resolve requirements.in in a fresh environment and rewrite requirements.txt.
freeze:
	rm -rf /tmp/lmbook-freeze && $(PYTHON) -m venv /tmp/lmbook-freeze
	/tmp/lmbook-freeze/bin/pip install --quiet -r requirements.in
	{ sed -n '/^#/p' requirements.txt | sed '/^# Top-level/,$$d'; \
	  echo "# Top-level packages: requirements.in. Installed without dependencies: requirements-nodeps.txt."; \
	  /tmp/lmbook-freeze/bin/pip freeze | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > requirements.txt
	@echo "requirements.txt rewritten; run make test from a clean clone."

clean:
	rm -rf _build _student _student.zip .pytest_cache .ruff_cache
