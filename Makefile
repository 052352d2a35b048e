# The commands the README names. Works with only python3 and make: uv is installed if missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Make every pyenv-installed interpreter the matrix needs visible (a no-op without pyenv).
PYENV_VERSIONS := $(shell command -v pyenv >/dev/null 2>&1 && pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[0-3])\.[0-9]+$$' | sort -t. -k2,2nr | tr '\n' ':' | sed 's/:$$//')
ifneq ($(PYENV_VERSIONS),)
export PYENV_VERSION := $(PYENV_VERSIONS)
endif
export UV_PYTHON_DOWNLOADS := never
export PYTHONDONTWRITEBYTECODE := 1

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: help uv sync demo-env js test test-fast test-postgres lint demo run bench soak clean

help:
	@echo "make demo         run the whole loop end to end (dev server + sample project)"
	@echo "make test         the full test matrix, PostgreSQL tests, packaging and lint (what CI runs)"
	@echo "make test-fast    the suite once, in the workspace environment"
	@echo "make run          start the dev server and the sample project and leave them running"
	@echo "make bench        the benchmarks (ratios against baselines measured in the same run)"
	@echo "make soak         10,000 deliveries on PostgreSQL with a dev-server crash halfway (long)"

# pip refuses to install into an "externally managed" system Python (Debian, Ubuntu): fall back to
# the user site there.
uv:
	@$(UV) --version >/dev/null 2>&1 || { echo "uv not found: installing it with pip ..."; \
		python3 -m pip install --quiet uv 2>/dev/null \
		|| python3 -m pip install --quiet --user --break-system-packages uv; }

sync: uv
	@$(UV) sync --quiet

# The official JS SDK for tests/devserver/test_js_sdk.py; without npm that test is skipped.
js:
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/js --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the JS SDK test will be skipped"; fi

# The PostgreSQL and packaging sessions mostly wait (on the database, on builds), so they run
# beside the matrix, their output kept and shown when they end; the run fails if either fails.
test: sync js
	@mkdir -p .nox; \
	$(UV) run nox --sessions tests-postgres packaging > .nox/side-sessions.log 2>&1 & side=$$!; \
	$(UV) run nox --sessions tests; matrix=$$?; \
	wait $$side; side_status=$$?; \
	echo "--- tests-postgres and packaging (run beside the matrix) ---"; \
	cat .nox/side-sessions.log; \
	test $$matrix -eq 0 && test $$side_status -eq 0
	$(MAKE) lint

test-fast: sync js
	$(UV) run pytest

test-postgres: sync
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(UV) run pytest -m postgres

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy django-qstash-core/src django-qstash-results/src django-qstash-schedules/src
	$(UV) run python -c 'import django_qstash; from importlinter.cli import lint_imports_command; lint_imports_command()'

# Only what the tour and the sample project need (the `demo` dependency group), not the
# development tools; --inexact keeps whatever `make sync` installed before.
demo-env: uv
	@echo "Installing the workspace and the demo's packages (Django, the qstash SDK, rich) into .venv with uv ..."
	@$(UV) sync --inexact --no-default-groups --group demo

# The tour: starts the QStash dev server and the sample project on free loopback ports, enqueues the
# example tasks, shows each delivery live, stops both. DEMO_FLAGS=--plain: no colour, no redraw.
demo: demo-env
	@$(UV) run --no-sync python sample_project/demo.py $(DEMO_FLAGS)

# The same two servers on the sample project's own database (8080 and 8000), until Ctrl-C.
run: demo-env
	@$(UV) run --no-sync python sample_project/demo.py --serve

bench: sync
	$(UV) run python -m benchmarks

# The long reliability run (tests/reliability/test_soak.py): never part of make test or CI.
soak: sync
	DJANGO_QSTASH_SOAK=1 DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
		$(UV) run pytest -m soak -p no:randomly -s -q tests/reliability

clean:
	rm -rf .nox dist .mypy_cache .ruff_cache .import_linter_cache tests/js/node_modules
