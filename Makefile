# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit install clean bench chromium

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Ports: `make demo DEMO_PORT=9000` (console; the simulators and alert receiver take the next four) and
# DEMO_SIMULATOR_PORT=… to move the simulators apart; see docs/deployment.md#the-demo.
demo: $(STAMP)
	$(BIN)/complaintdesk demo$(if $(DEMO_PORT), --port $(DEMO_PORT))$(if $(DEMO_SIMULATOR_PORT), --simulator-port $(DEMO_SIMULATOR_PORT))

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

typecheck: $(STAMP)
	$(BIN)/mypy

# The console's browser tests drive Debian's Chromium, the proxy tests nginx; without them (and not root)
# they skip, saying why.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: the browser tests will skip"; \
	  else echo "/usr/bin/chromium is missing and we are not root: the browser tests will skip"; fi; \
	fi
	@if ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null) \
	      || echo "could not install fonts-wqy-microhei: Chinese shows as boxes in screenshots"; \
	  else echo "fonts-wqy-microhei is missing: Chinese shows as boxes in screenshots"; fi; \
	fi
	@if [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 \
	      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
	      || echo "could not install nginx: the reverse-proxy tests will skip"; \
	  else echo "nginx is missing and we are not root: the reverse-proxy tests will skip"; fi; \
	fi

unit: $(STAMP) chromium
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/sync.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
