# Two entry points, each doing all its own set-up on a fresh machine:
#   make demo   - the main job against the built-in sandbox
#   make test   - lint and the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean pg-server

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m kitab.demo

lint: $(STAMP)
	$(BIN)/ruff check kitab tests bench
	$(BIN)/ruff format --check kitab tests bench

# The PostgreSQL state-store tests start a throwaway server from the machine's own binaries:
# installed here only when missing and apt-get can run as root; otherwise those tests skip.
pg-server:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
	      >/dev/null) || echo "make: could not install postgresql: its tests will skip"; \
	  else echo "make: no PostgreSQL server binaries: its tests will skip"; fi; \
	fi

# The browser test (tests/test_web_browser.py) drives Debian's chromium, never a downloaded
# one: installed here only when missing and apt-get can run as root; otherwise that test skips.
.PHONY: browser
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	      fonts-dejavu-core >/dev/null) || echo "make: could not install chromium: the browser test will skip"; \
	  else echo "make: no /usr/bin/chromium: the browser test will skip"; fi; \
	fi

test: lint pg-server browser
	$(BIN)/pytest -q

# Benchmarks print figures, never assertions. `make bench` runs them at small sizes (as CI
# does); the issues' sizes by hand: bench/convert.py 100000 1000000, bench/push.py,
# bench/oai.py --records 100000, bench/bench_catalogue.py --repeats 50.
bench: $(STAMP)
	$(BIN)/python bench/convert.py 20000
	$(BIN)/python bench/bench_catalogue.py --repeats 5
	$(BIN)/python bench/push.py --small
	$(BIN)/python bench/oai.py --records 2000

clean:
	rm -rf $(VENV) .pytest_cache
