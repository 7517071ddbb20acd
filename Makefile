# Two commands for a newcomer: `make demo` and `make test`. Both set up .venv first (idempotent).
PY := .venv/bin/python
OUT ?= runs/demo

.PHONY: setup demo test test-fast bench clean

setup:
	@bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo.py --output-dir $(OUT)

test: setup
	$(PY) -m pytest -q tests

test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

bench: setup
	$(PY) tools/benchmark.py pretrain --model vit_base_patch16 --batch 16 --precision fp32

clean:
	rm -rf runs .pytest_cache
