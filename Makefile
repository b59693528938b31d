# Rediverio: every set-up step is a target; `make run` and `make test` do it all.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-run

.PHONY: install run test lint typecheck format bench browser clean prod-smoke

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(STAMP)

# make run also installs the scanners the local agent uses (bandit, semgrep).
$(RUN_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,scanners]'
	touch $@

# Debian's chromium for the browser tests (Playwright drives it; it never downloads one).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
	  || { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; }; }

# The web server and the django-q2 cluster (where the scheduler ticks) count metrics in
# separate processes: prometheus_client's multiprocess mode keeps each process's counts
# in files under METRICS_DIR, emptied at every start, and /metrics adds them all up.
METRICS_DIR := $(CURDIR)/var/metrics

run: export DEBUG ?= true
run: $(RUN_STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo
	@echo "Rediverio is starting on http://127.0.0.1:8000 (Ctrl-C stops it), with the"
	@echo "background jobs and a local agent; trigger 'Sample app SAST' to see findings arrive."
	@echo
	rm -rf "$(METRICS_DIR)" && mkdir -p "$(METRICS_DIR)"
	PROMETHEUS_MULTIPROC_DIR="$(METRICS_DIR)" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	  $(VENV)/bin/honcho start -f Procfile

test: install browser
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy with the Django and DRF stubs; what it checks is [tool.mypy] in pyproject.toml.
# Its Django plugin loads the settings: in the embedded mode (no DATABASE_URL), which
# needs no SECRET_KEY.
typecheck: install
	env -u DATABASE_URL $(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	@$(PY) bench/run.py

# The production topology on this machine (PostgreSQL and Redis on loopback, gunicorn,
# two django-q2 clusters) and one scan through it with the real agent; tears it all down.
prod-smoke: install
	$(PY) -m tests.ops.prod_smoke

clean:
	rm -rf $(VENV) var/*.sqlite3* .pytest_cache
