# The two commands of the README's quick start: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
AIMA := $(VENV)/bin/aima

.PHONY: setup run test lint typecheck bench clean web-api

setup:
	@bash scripts/setup.sh

run: setup
	$(AIMA) serve

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: setup
	$(VENV)/bin/mypy

test: setup
	@bash scripts/test.sh

bench: setup
	$(PY) -m benchmarks.ingest_bench --postgres
	$(PY) -m benchmarks.ledger_bench
	$(PY) -m benchmarks.keyframes_bench
	$(PY) -m benchmarks.pipeline_bench --minutes 10
	$(PY) -m benchmarks.pipeline_bench --minutes 2 --baseline
	$(PY) -m benchmarks.asr_bench
	$(PY) -m benchmarks.speakers_bench
	$(PY) -m benchmarks.ocr_bench
	$(PY) -m benchmarks.face_recall_bench

clean:
	rm -rf $(VENV) aima-data .pytest_cache .mypy_cache .ruff_cache

# Regenerate the OpenAPI document and the web app's typed client after an API change.
web-api: setup
	@bash scripts/web-api.sh
