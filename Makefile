# Large Models: From Neurons to Business. The README documents the two commands:
#   make book   build the website into _build/html from the committed notebook outputs,
#               with the whole book as a PDF, English and Chinese (make pdf), and the
#               lecture slides (make slides)
#   make test   lint, unit tests, nbval over every notebook, student copies executed,
#               strict book build, the two PDFs, the slides, site checks in a browser
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
# One compute thread per process: nbval runs two notebooks at once on two cores, and with
# PyTorch's and OpenBLAS's default of one thread per core, four spinning threads would
# share two cores and a notebook could run several times slower. This is for speed only:
# outputs are compared within tolerances (tests/nbval_numbers.py), so they need not be
# made with the same threads, processor or BLAS as the run that checks them.
export OMP_NUM_THREADS := 1
# Executing and timing a notebook is done one notebook at a time, on the two cores of the
# book's budget (two minutes on 2 CPU cores), so with a thread per core, as on Colab.
execute execute-all bench: export OMP_NUM_THREADS := 2
# TensorFlow's C++ INFO lines describe the machine, not the lesson: they are not logged.
# Its oneDNN kernels announce themselves on stderr at import in a line that this level
# does not silence, so they are off; their results are within the tolerances either way.
export TF_CPP_MIN_LOG_LEVEL := 1
export TF_ENABLE_ONEDNN_OPTS := 0
# The nbval step re-executes the notebooks under other arithmetic than `make execute`
# committed them with (threads, BLAS kernels, vector width), so that an output that holds
# only on the machine it was made on fails here rather than on a learner's machine.
# Override it to try another; with more threads per notebook, run one notebook at a time:
#   make nbval PERTURB="OMP_NUM_THREADS=2" NBVAL_WORKERS=1
NBVAL_WORKERS ?= 2
# OpenBLAS's core types are x86 names: elsewhere only PyTorch's kernels are perturbed.
ifeq ($(shell uname -m),x86_64)
PERTURB ?= OPENBLAS_CORETYPE=Sandybridge ATEN_CPU_CAPABILITY=default
else
PERTURB ?= ATEN_CPU_CAPABILITY=default
endif

.PHONY: book test install lint unit nbval student student-check site-build site-check \
	execute execute-all bench freeze clean test-colab assignments assignments-zh time-grading pdf slides quizzes exams \
	instructor

book: $(INSTALLED)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	$(BIN)/python scripts/translations.py html
	@if [ -x "$${CHROMIUM:-/usr/bin/chromium}" ]; then $(MAKE) pdf slides; else echo "No" \
		"Chromium: the site's links to the book's PDF and to the slides lead nowhere until you" \
		"install it and run make pdf slides."; fi
	@echo "The website is in $(CURDIR)/_build/html (open _build/html/index.html; the Chinese" \
		"edition is in _build/html/zh)."

test: $(INSTALLED) lint unit nbval student-check site-build pdf slides site-check
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

# Numbers are compared within the tolerances of tests/nbval_numbers.py (tests/README.md).
nbval: $(INSTALLED)
	env $(PERTURB) PYTHONPATH=tests $(BIN)/pytest -p nbval_numbers --nbval $(NOTEBOOKS) \
		--nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		-n $(NBVAL_WORKERS) --dist loadfile -q

# Student copies for a class: _student/ and _student.zip (scripts/student_copies.py). The
# script needs only Python's standard library, so it runs without the environment.
student:
	$(PYTHON) scripts/student_copies.py

# The nbgrader course of a class, in _course/ (scripts/assignments.py): every chapter an
# assignment with hidden tests, released; the instructor guide's "Grading with nbgrader"
# explains the rest. _course/ holds the private seed and the gradebook: clean leaves it.
assignments: $(INSTALLED)
	$(BIN)/python scripts/assignments.py --release

# The same course from the Chinese notebooks (notebooks/zh/), in _course-zh/.
assignments-zh: $(INSTALLED)
	$(BIN)/python scripts/assignments.py --release --chinese

# Time nbgrader's autograding of each chapter's solutions into book/grading-times.csv, the
# instructor guide's grading table (scripts/time_grading.py); on a quiet machine.
time-grading: $(INSTALLED)
	$(BIN)/python scripts/time_grading.py

# Each student copy executes up to and through its exercises (unanswered, they fail
# with the checker's message), then its solutions are graded as nbgrader would; and a
# class of chapter-1 submissions is graded end to end with nbgrader. Two at a time.
student-check: $(INSTALLED)
	$(BIN)/pytest tests/student -n 2 --dist loadgroup -q

# The English website, then the Chinese one into its zh/ folder (scripts/translations.py).
site-build: $(INSTALLED)
	rm -rf _build/html
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	$(BIN)/python scripts/translations.py html

# The whole book as one PDF in each edition (scripts/book_pdf.py): the book as one HTML
# page, printed by Chromium, to _build/html/large-models-book.pdf, then the Chinese to
# _build/html/zh/large-models-book.pdf (scripts/translations.py singlehtml builds its page).
# After the website's build, which empties _build/html. Needs a CJK font (fonts-wqy-microhei).
pdf: $(INSTALLED)
	$(BIN)/jupyter-book build . --builder singlehtml --warningiserror --keep-going
	$(BIN)/python scripts/book_pdf.py
	$(BIN)/python scripts/translations.py singlehtml
	$(BIN)/python scripts/book_pdf.py --language zh_CN

# The lecture slides: a reveal.js deck per chapter from slides/*.md, and its PDF, into
# _build/html/slides/ (scripts/slides.py). After the website's build, which empties _build/html.
slides: $(INSTALLED)
	$(BIN)/python scripts/slides.py

# Instructor-only material, into _instructor/, which git ignores and the website and the
# student copies never include (scripts/teaching.py; the instructor guide's "Teaching
# materials"). Numeric questions are drawn with the private seed _instructor/quiz_seed.txt,
# made once; PUBLIC=1 uses the book's values instead.
quizzes: $(INSTALLED)
	$(BIN)/python scripts/teaching.py quizzes $(if $(PUBLIC),--public)

exams: $(INSTALLED)
	$(BIN)/python scripts/teaching.py exams $(if $(PUBLIC),--public)

instructor: quizzes exams

site-check: $(INSTALLED)
	$(BIN)/pytest tests/site -q

# Re-execute notebooks in place to refresh their committed outputs, then write their
# Chinese notebooks (notebooks/zh/, scripts/zh_notebooks.py) and execute those too:
#   make execute NB=notebooks/01_rise_of_large_models.ipynb
execute: $(INSTALLED)
	@test -n "$(NB)" || { echo "usage: make execute NB=notebooks/NN_name.ipynb"; exit 2; }
	$(BIN)/python scripts/execute_notebook.py $(NB)
	$(BIN)/python scripts/zh_notebooks.py
	$(BIN)/python scripts/execute_notebook.py $(addprefix notebooks/zh/,$(notdir $(NB)))

execute-all: $(INSTALLED)
	$(BIN)/python scripts/execute_notebook.py $(NOTEBOOKS)
	$(BIN)/python scripts/zh_notebooks.py
	$(BIN)/python scripts/execute_notebook.py $(addprefix notebooks/zh/,$(notdir $(NOTEBOOKS)))

# Time every notebook (without changing it) into book/notebook-times.csv; on a quiet machine.
bench: $(INSTALLED)
	$(BIN)/python scripts/execute_notebook.py --time-only $(NOTEBOOKS)

# Every notebook as on Colab's CPU runtimes, each in a fresh environment built from Colab's
# published freeze (scripts/colab/*.txt; `python scripts/colab_runtimes.py refresh` updates
# them): results in book/colab-runs.md and .csv. A release step, not part of make test (about
# an hour; the README says more). The kernels get a fresh session's variables, not the ones
# exported above. Pick runtimes and notebooks by part of their name:
#   make test-colab COLAB_RUNTIMES=default COLAB_NOTEBOOKS="06d 10"
# COLAB_CHINESE=1 runs the Chinese notebooks (notebooks/zh/) instead.
# COLAB_PYTHONS names interpreters when python3.12 or python3.13 is not on PATH or in pyenv.
COLAB_RUNTIMES ?=
COLAB_NOTEBOOKS ?=
COLAB_PYTHONS ?=
COLAB_CHINESE ?=
COLAB_DIR ?= $(HOME)/.cache/lmbook-colab
test-colab: $(INSTALLED)
	$(BIN)/python scripts/colab_runs.py --work "$(COLAB_DIR)" \
		$(if $(COLAB_RUNTIMES),--runtime $(COLAB_RUNTIMES)) \
		$(if $(COLAB_NOTEBOOKS),--notebook $(COLAB_NOTEBOOKS)) \
		$(if $(COLAB_PYTHONS),--python $(COLAB_PYTHONS)) \
		$(if $(COLAB_CHINESE),--chinese)

# Re-resolve requirements.in in a fresh environment and rewrite requirements.txt. pip freeze
# sees only this machine (Linux): the lines of requirements.txt with an environment marker, at
# its end, are kept as they are, and pip freeze's line for a package they pin is left out (if
# its version is not among theirs, a message says to update them by hand). --all: setuptools
# and wheel are dependencies too (of torch, tensorflow, astunparse), which pip freeze omits on
# Python 3.11.
freeze:
	rm -rf /tmp/lmbook-freeze && $(PYTHON) -m venv /tmp/lmbook-freeze
	/tmp/lmbook-freeze/bin/pip install --quiet -r requirements.in
	/tmp/lmbook-freeze/bin/pip freeze --all --exclude pip \
		| sed 's/^torch==\(.*\)+cpu$$/torch==\1/' > /tmp/lmbook-freeze/frozen.txt
	grep -E '^[^#].*;' requirements.txt > /tmp/lmbook-freeze/markers.txt || true
	{ sed -n '/^#/p' requirements.txt | sed '/^# Top-level/,$$d'; \
	  echo "# Top-level packages: requirements.in. Installed without dependencies: requirements-nodeps.txt."; \
	  awk -F '[=; ]+' '{ name = tolower($$1); gsub(/[-_.]+/, "-", name) } \
	    FILENAME == ARGV[1] { kept[name] = kept[name] " " $$2 " "; next } \
	    !(name in kept) { print; next } \
	    index(kept[name], " " $$2 " ") == 0 { print "make freeze: pip froze " $$0 \
	      "; update the marker lines for it in requirements.txt" > "/dev/stderr" }' \
	    /tmp/lmbook-freeze/markers.txt /tmp/lmbook-freeze/frozen.txt; \
	  echo "# Pins that differ by platform, kept as they are by make freeze (see the top):"; \
	  cat /tmp/lmbook-freeze/markers.txt; } > requirements.txt
	@echo "requirements.txt rewritten; run make test from a clean clone."

# _course/ and _instructor/ hold the instructor's private seeds: clean leaves them.
clean:
	rm -rf _build _student _student.zip _student-zh.zip .pytest_cache .ruff_cache slides/_figures
