# `make demo` and `make test` work on a fresh machine: both install what they need first.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: bootstrap demo test lint bench

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	@$(PY) scripts/demo.py

test: bootstrap
	$(PY) -m pytest

lint: bootstrap
	.venv/bin/ruff check tapkit loadkit tap-painchek tap-humanapi tap-healthex sandbox inbox tests bench scripts conftest.py
	.venv/bin/ruff format --check tapkit loadkit tap-painchek tap-humanapi tap-healthex sandbox inbox tests bench scripts conftest.py
	.venv/bin/mypy tapkit/tapkit loadkit/loadkit tap-painchek/tap_painchek tap-humanapi/tap_humanapi tap-healthex/tap_healthex sandbox/src inbox/healthdata_inbox

bench: bootstrap
	$(PY) bench/painchek_bench.py
	$(PY) bench/loader_bench.py
	$(PY) bench/memory_bench.py
	$(PY) bench/humanapi_bench.py
	$(PY) bench/healthex_bench.py
	$(PY) bench/vendor_bench.py
	$(PY) bench/shards_bench.py
	$(PY) bench/inbox_bench.py
	$(PY) bench/peer_bench.py
