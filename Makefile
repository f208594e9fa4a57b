# The two commands of the README.  Both set everything up from nothing.
#   make demo   — install, make dev certificates, migrate, run hub + mock, drive changes
#   make test   — install (PostgreSQL's binaries too, for the tests' private server),
#                 then the whole test suite (what .ci/run runs)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The TLS scanner the tests run against every listener (sslyze: its own virtualenv,
# since it pins an older cryptography than the hub's).
SCAN   := .venv-scan
SCAN_STAMP := $(SCAN)/.installed
# Schemathesis, run against the live hub by the API tests: its own virtualenv too, so its
# pins (requests, its hypothesis) never move the hub's.
ST     := .venv-schemathesis
ST_STAMP := $(ST)/.installed

.PHONY: demo test run bench messages lint clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version" || { echo "needs Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==26.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,postgresql]'
	touch $(STAMP)

$(SCAN_STAMP): constraints-scan.txt
	$(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/pip install --quiet pip==26.3
	$(SCAN)/bin/pip install --quiet -r constraints-scan.txt
	touch $(SCAN_STAMP)

$(ST_STAMP): constraints-schemathesis.txt
	$(PYTHON) -m venv $(ST)
	$(ST)/bin/pip install --quiet pip==26.3
	$(ST)/bin/pip install --quiet -r constraints-schemathesis.txt
	touch $(ST_STAMP)

demo: $(STAMP)
	$(BIN)/jukihub certs init
	$(BIN)/jukihub migrate
	$(BIN)/jukihub-dev demo

test: $(STAMP) $(SCAN_STAMP) $(ST_STAMP)
	scripts/ensure-services
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q

run: $(STAMP)
	$(BIN)/jukihub certs init
	$(BIN)/jukihub run

bench: $(STAMP)
	$(BIN)/jukihub certs init
	$(BIN)/python -m bench.run

# The staff's catalogs (hub/locale) in step with the source; then translate what is new.
messages: $(STAMP)
	$(BIN)/python -m devtools.messages

clean:
	rm -rf $(VENV) $(SCAN) $(ST) var certs/dev
