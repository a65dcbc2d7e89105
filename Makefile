# The two commands of the README, and what they need. Everything is installed locally:
# a virtual environment in .venv (the plugin, editable, with its test tools) and Binaryen's
# wasm-opt from npm in node_modules/.bin.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := build/demo
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
# A missing wasm-opt is an error here, never a silent unoptimized build.
export WASM_EXT_REQUIRE_WASM_OPT := 1

.PHONY: aarch64 chromium demo test test-fast test-all-pythons lint bench bench-calls bench-kernels bench-perline bench-startup bench-sandbox bench-versions bench-big-source bench-declared bench-libraries bench-drift bench-simd bench-optimizer test-freethreaded python-freethreaded bench-threads bench-import setup clean

## demo: build the plugin, build the example wheel with pip, install it in a clean venv, run it
demo: setup
	rm -rf $(DEMO)
	$(BIN)/pip wheel --quiet --no-deps -w $(DEMO)/plugin .
	$(BIN)/pip wheel --no-deps --find-links $(DEMO)/plugin -w $(DEMO)/wheels ./example_project
	$(PYTHON) -m venv $(DEMO)/venv
	$(DEMO)/venv/bin/pip install --quiet --find-links $(DEMO)/wheels wasm-ext-example
	cd $(DEMO) && venv/bin/python $(CURDIR)/example_project/demo.py wheels/*.whl

## test: lint and type-check; the unit layer without any toolchain; the whole suite on the oldest and newest Python; the thread tests on free-threaded 3.13t
test: lint python-freethreaded
	$(BIN)/nox -s unit-bare
	$(BIN)/nox -s tests-3.9 tests-3.13 tests-3.13t -- $(PYTEST_ARGS)

## test-fast: the unit layer (tests/unit: seconds; no C compiler, wasm-opt, node or browser)
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest tests/unit -q $(PYTEST_ARGS)

## test-all-pythons: the test suite on every supported Python (3.9 to 3.13)
test-all-pythons: lint
	$(BIN)/nox -s tests-3.9 tests-3.10 tests-3.11 tests-3.12 tests-3.13 -- $(PYTEST_ARGS)

## test-freethreaded: the runtime, sandbox and thread tests on free-threaded CPython 3.13 (builds it first; skips with a note if it cannot)
test-freethreaded: setup python-freethreaded
	$(BIN)/nox -s tests-3.13t -- $(PYTEST_ARGS)

## python-freethreaded: build CPython 3.13 with --disable-gil once (~6 min), cached in ~/.cache/setuptools-wasm-tests/python3.13t
python-freethreaded:
	@bash tests/support/build_python_ft.sh

lint: setup
	$(BIN)/ruff check wasm_ext tests example_project benchmarks noxfile.py
	$(BIN)/ruff format --check wasm_ext tests example_project benchmarks noxfile.py
	$(BIN)/mypy

## bench: every benchmark in one run -> RESULTS.md (incl. the guide's claims), results.json, charts/
bench: setup $(VENV)/.bench-installed python-freethreaded
	$(BIN)/python benchmarks/run_all.py

## bench-calls: per-call cost table (pure Python, ctypes, wasmtime-py, our stub) -> benchmarks/RESULTS.md
bench-calls: setup
	$(BIN)/python benchmarks/bench_calls.py --write

## bench-kernels: fib, sieve and the log parser in pure Python, native C (gcc, clang) and wasm
bench-kernels: setup
	$(BIN)/python benchmarks/bench_kernels.py --write

## bench-perline: the guide's three calls per line vs one call per buffer (log parser)
bench-perline: setup
	$(BIN)/python benchmarks/bench_perline.py --write

## bench-startup: cold start (precompiled vs JIT) and the log parser on 1 vs 2 threads
bench-startup: setup
	$(BIN)/python benchmarks/bench_startup.py --write

## bench-threads: 1 vs 2 threads, short and long calls, CPython 3.13 with the GIL vs free-threaded 3.13t
bench-threads: setup python-freethreaded
	$(BIN)/python benchmarks/bench_threads.py --write

## bench-import: what importing a stub costs over `python -c pass` (20 new interpreters each, a clean venv)
bench-import: setup
	$(BIN)/python benchmarks/bench_import.py --write

## bench-versions: this checkout's stubs against those of commit AGAINST, side by side (make bench-versions AGAINST=HEAD~1)
bench-versions: setup
	$(BIN)/python benchmarks/bench_versions.py --against $(AGAINST) --write

## bench-optimizer: npm's wasm-opt vs icpp-binaryen's library (sizes, kernel speed; ~70 s)
bench-optimizer: setup $(VENV)/.bench-installed
	$(BIN)/python benchmarks/bench_optimizer.py --write

## bench-declared: declared bindings per call (a handle method vs a scalar call, out-values vs a shim)
bench-declared: setup
	$(BIN)/python benchmarks/bench_declared.py --write

## bench-libraries: Brotli, pycryptodome's SHA-256 and xxHash bound by declarations vs their native packages (10 MB)
bench-libraries: setup
	$(BIN)/python benchmarks/bench_libraries.py --write

## bench-drift: a kernel that allocates in every call, 50 calls in one process: native, zig's malloc, the plugin's
bench-drift: setup
	$(BIN)/python benchmarks/bench_drift.py --write

## bench-simd: the example's kernels, xxHash and Brotli built with and without simd=True, on wasmtime and Pyodide (V8), beside native
bench-simd: setup
	$(BIN)/python benchmarks/bench_simd.py --write

## bench-big-source: build time and peak memory for a generated 20 MB C source
bench-big-source: setup
	$(BIN)/python benchmarks/bench_big_source.py --write

## bench-sandbox: per-call and kernel cost of sandbox(timeout/max_memory) against module-level calls
bench-sandbox: setup
	$(BIN)/python benchmarks/bench_sandbox.py --write

setup: $(VENV)/.installed node_modules/.bin/wasm-opt chromium aarch64

## aarch64: an arm64 Debian root with Python 3.11 and the venv's wasmtime version, run under qemu-user,
## in ~/.cache/setuptools-wasm-tests/aarch64 (tests/support/make_aarch64.sh); where it cannot be made,
## the aarch64 tests are skipped and say why
aarch64: $(VENV)/.installed
	@sh tests/support/make_aarch64.sh $(BIN)/python || \
	  echo "note: tests/support/make_aarch64.sh failed; the aarch64 tests will be skipped"

# Debian's chromium for the browser test of the Pyodide demo page; where it cannot be
# installed (no apt, no root), that one test is skipped and says why.
chromium:
	@test -x /usr/lib/chromium/chromium || command -v chromium >/dev/null || \
	  { $$(test "$$(id -u)" = 0 || echo sudo -n) apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { $$(test "$$(id -u)" = 0 || echo sudo -n) apt-get update -q >/dev/null 2>&1 && \
	      $$(test "$$(id -u)" = 0 || echo sudo -n) apt-get install -y -q chromium >/dev/null 2>&1; } || \
	    echo "note: could not install chromium; the browser test will be skipped"; }

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $@

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[bench,opt]'
	touch $@

node_modules/.bin/wasm-opt: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) node_modules build .nox .pytest_cache .mypy_cache
