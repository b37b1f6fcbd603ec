# Two commands on a fresh machine with only Python: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
FLASK := $(BIN)/flask --app app
PO := $(wildcard hazwaste/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: run test fuzz lint typecheck translations extract-messages bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ >/dev/null

translations: $(MO)

## Set up (virtualenv, migrations, reference and demo data on first run) and serve the demo
## with its job worker (one command; Ctrl-C stops both).
run: $(STAMP) translations
	$(FLASK) db upgrade
	$(FLASK) load-reference
	$(FLASK) seed-demo --if-empty
	@# The job worker (after-commit work, queue in instance/queue.db) runs beside the web
	@# server; Ctrl-C reaches both, and the trap stops the worker however the server ends.
	@# The demo may send webhooks to a receiver on this machine (refused in production).
	@HAZWASTE_WEBHOOKS_ALLOW_PRIVATE=1 $(FLASK) jobs worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	HAZWASTE_WEBHOOKS_ALLOW_PRIVATE=1 HAZWASTE_SECURE_COOKIES=0 HAZWASTE_PUBLIC_BASE_URL=http://127.0.0.1:5000 $(FLASK) run --host 127.0.0.1 --port 5000

## Set up and run the whole suite (PostgreSQL and browser tests run when available).
test: $(STAMP) translations
	$(BIN)/python -m pytest

## Fuzz the JSON API with schemathesis on a throw-away demo database (FUZZ_EXAMPLES, FUZZ_SEED).
fuzz: $(STAMP) translations
	$(BIN)/python scripts/fuzz_api.py

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

## Re-extract translatable strings and merge them into both catalogues.
extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -k lazy_gettext -o hazwaste/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i hazwaste/translations/messages.pot -d hazwaste/translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
