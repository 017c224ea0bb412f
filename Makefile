# One command each: `make demo` (install and run the demo), `make test` (install and run the tests).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_FLAGS ?= -q --disable-pip-version-check
# The suite mostly waits on brokers, processes and browsers: three workers share 2 cores well.
PYTEST_WORKERS ?= 3

.PHONY: install install-test demo test lint bench soak system-deps schema clean

$(PY):
	@python3 -m venv $(VENV) || { echo "python3 -m venv failed: apt-get install -y python3-venv"; exit 1; }

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install $(PIP_FLAGS) -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install $(PIP_FLAGS) -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(VENV)/bin/dockscan demo

system-deps:
	@scripts/system-deps.sh

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install-test system-deps lint
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

schema: install
	$(VENV)/bin/dockscan schema

bench: install-test system-deps
	$(PY) bench/decode_bench.py
	$(PY) bench/serial_bench.py
	$(PY) bench/edge_bench.py
	$(PY) bench/delivery_bench.py
	$(PY) bench/mqtt_read_bench.py
	$(PY) bench/ingest_bench.py
	$(PY) bench/ui_bench.py

soak: install-test system-deps
	$(PY) bench/soak.py

clean:
	rm -rf var/demo .pytest_cache tests/artifacts
