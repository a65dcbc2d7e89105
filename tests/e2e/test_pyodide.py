"""The very wheel pip builds runs in Pyodide too: under Node, and in headless Chromium.

Everything is offline: Pyodide comes from ``node_modules`` (pinned in package-lock.json,
installed by ``make setup``), the wheel from its file, and both runners fail if anything
tries to reach the network (Node: fetch/socket/console watch; Chromium: every request
not to 127.0.0.1 is aborted and counted).
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest
from support.building import REPO

pytestmark = pytest.mark.e2e
PYODIDE = REPO / "node_modules" / "pyodide"
SCREENSHOT = REPO / "build" / "test-artifacts" / "pyodide-demo.png"


def _node_script(node: str, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run tests/pyodide/<script> with Node; the caller checks the exit code."""
    argv = [node, str(REPO / "tests" / "pyodide" / script), *args]
    return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=300)


def test_the_wheel_passes_the_example_checks_in_pyodide_under_node(node: str, example_wheel: Path) -> None:
    proc = _node_script(
        node, "run_node.mjs", "--wheel", str(example_wheel), str(REPO / "example_project" / "check_wheel.py")
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "all checks passed" in proc.stdout
    timings = json.loads(proc.stdout.strip().splitlines()[-1])
    assert timings["platform"] == "emscripten"  # it really ran in Pyodide, not on the host
    print(f"Pyodide under Node: {timings}")


TYPES_SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wasm_ext.h>
WASM_EXPORT int64_t add64(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
WASM_EXPORT uint64_t echo_u64(uint64_t x) { return x; }
WASM_EXPORT uint32_t echo_u32(uint32_t x) { return x; }
WASM_EXPORT int32_t echo_i32(int32_t x) { return x; }
WASM_EXPORT double scale(double x, float y) { return x * y; }
WASM_EXPORT bool is_positive(double x) { return x > 0; }
WASM_EXPORT int32_t divide(int32_t a, int32_t b) { return a / b; }
/* grows linear memory by 32 MiB, then writes the caller's buffer */
WASM_EXPORT int32_t grow_then_fill(uint8_t *buf, size_t buf_len, uint8_t value) {
    volatile uint8_t *big = malloc(32u << 20);
    if (!big) return 0;
    big[0] = 1;
    memset(buf, value, buf_len);
    free((void *)big);
    return 1;
}
"""


WASI_SOURCE = r"""
#include <stdint.h>
#include <stdio.h>
#include <wasm_ext.h>
WASM_EXPORT int32_t try_open(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    fclose(f);
    return 0;
}
WASM_EXPORT int32_t say_hello(void) { int n = printf("hello from wasm\n"); return fflush(stdout) ? -1 : n; }
WASM_EXPORT int32_t add(int32_t a, int32_t b) { return a + b; }
"""


DECLARED_SOURCE = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct counter counter;
struct counter { int value; char name[32]; };
enum level { LOW = 0, MID = 1, HIGH = 2 };
static int live_counters = 0;

counter *counter_new(int start) {
    if (start < 0) return NULL;
    counter *c = calloc(1, sizeof *c); c->value = start; live_counters++; return c;
}
void counter_free(counter *c) { live_counters--; free(c); }
int counter_add(counter *c, int n, int *twice) { c->value += n; *twice = 2 * c->value; return c->value; }
const char *counter_name(counter *c) { snprintf(c->name, sizeof c->name, "counter at %d", c->value); return c->name; }
int live(void) { return live_counters; }
size_t hexify(uint8_t *dst, size_t cap, const uint8_t *src, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n && 2 * i + 1 < cap; i++) { dst[2 * i] = d[src[i] >> 4]; dst[2 * i + 1] = d[src[i] & 15]; }
    return 2 * n;
}
enum level level_of(int x) { return x > 2 ? (x > 5 ? (enum level)x : HIGH) : (enum level)x; }
typedef struct { uint64_t lo, hi; } pair_t;
typedef struct { double v; } one_t;
pair_t swap(pair_t p, const pair_t *add) { pair_t r = {p.hi + add->lo, p.lo + add->hi}; return r; }
one_t half(one_t x) { x.v /= 2; return x; }
"""
DECLARED = {
    "exports": [
        "counter_new",
        "counter_free",
        "counter_add",
        "counter_name",
        "live",
        "hexify",
        "level_of",
        "swap",
        "half",
    ],
    "handles": {"counter": {"destroy": "counter_free"}},
    "functions": {
        "counter_new": {"return": "error if NULL"},
        "counter_add": {"twice": "out"},
        "hexify": {"src": "in[n]", "dst": "out[cap = 2 * n] -> return"},
    },
}


def test_engine_pitfalls_same_results_on_wasmtime_and_in_pyodide(
    node: str, build_c: Callable[..., Any], tmp_path: Path
) -> None:
    types = build_c("#include <stdbool.h>\n" + TYPES_SOURCE)
    wasi = build_c(WASI_SOURCE, filename="wasi.c", wasi=True)
    declared = build_c(DECLARED_SOURCE, filename="declared.c", wasi=True, **DECLARED)  # snprintf
    site_zip = tmp_path / "site.zip"
    with zipfile.ZipFile(site_zip, "w") as zf:
        for package_dir in (types.package_dir, wasi.package_dir, declared.package_dir):
            for path in package_dir.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(package_dir.parent))
    check = REPO / "tests" / "pyodide" / "check_engines.py"
    packages = [types.package, wasi.package, declared.package]
    host = subprocess.run(
        [sys.executable, str(check), str(site_zip), *packages], check=False, capture_output=True, text=True
    )
    assert host.returncode == 0 and "engines ok on linux" in host.stdout, host.stderr
    proc = _node_script(node, "run_node.mjs", "--file", str(site_zip), str(check), "/home/pyodide/site.zip", *packages)
    assert proc.returncode == 0 and "engines ok on emscripten" in proc.stdout, f"{proc.stdout}\n{proc.stderr}"
    assert "hello from wasm" not in proc.stdout + host.stdout  # stdout was not granted on either engine


def test_check_script_fails_loudly_in_pyodide(node: str, example_wheel: Path, tmp_path: Path) -> None:
    """The runner turns a failing script into a non-zero exit (so the test above can fail)."""
    script = tmp_path / "wrong.py"
    script.write_text("from wasm_example import kernels\nassert kernels.fib(10) == 56, 'fib(10) is 55'\n")
    proc = _node_script(node, "run_node.mjs", "--wheel", str(example_wheel), str(script))
    assert proc.returncode == 1 and "fib(10) is 55" in proc.stderr + proc.stdout


def test_demo_page_in_headless_chromium(node: str, chromium: str, example_wheel: Path, tmp_path: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(REPO / "example_project" / "web", root)
    (root / "pyodide").symlink_to(PYODIDE, target_is_directory=True)
    shutil.copy(example_wheel, root / example_wheel.name)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page = f"/index.html?wheel={example_wheel.name}"
    proc = _node_script(
        node, "browser_test.mjs", str(SCREENSHOT), "--root", str(root), "--page", page, "--chromium", chromium
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(proc.stdout)
    # the page's sample: 8 lines, 2 malformed (a 30 February and plain text), one per level
    assert report["stats"]["lines"] == 8 and report["stats"]["malformed"] == 2
    assert report["stats"]["distinct_ips"] == 3 and report["stats"]["ts_min"] == 1726396200
    assert report["agrees_with_reference"] and report["platform"] == "emscripten"
    assert "web worker" in report["big_sync_compile_main_thread"]
    assert SCREENSHOT.stat().st_size > 10_000
    print(f"Chromium {report['chromium']}: per call {report['per_call_us']}; screenshot {SCREENSHOT}")


SIMD_SOURCE = r"""
#include <stdint.h>
#include <stddef.h>
#include <wasm_simd128.h>
#include <wasm_ext.h>
/// XOR of the data's 32-bit words, 16 bytes per step (a tail shorter than 16 is left out).
WASM_EXPORT uint32_t xor_words(const uint8_t *data, size_t data_len) {
    v128_t acc = wasm_i32x4_splat(0);
    for (size_t i = 0; i + 16 <= data_len; i += 16) acc = wasm_v128_xor(acc, wasm_v128_load(data + i));
    return wasm_i32x4_extract_lane(acc, 0) ^ wasm_i32x4_extract_lane(acc, 1) ^ wasm_i32x4_extract_lane(acc, 2)
        ^ wasm_i32x4_extract_lane(acc, 3);
}
"""
SIMD_CHECK = """
import importlib, sys, tempfile, zipfile
site = tempfile.mkdtemp()
zipfile.ZipFile(sys.argv[1]).extractall(site)
sys.path.insert(0, site)
k = importlib.import_module(sys.argv[2] + ".kernels")
try:
    print("result", k.xor_words(bytes(range(48))))
except k.KernelError as exc:
    print("error", exc)
"""


def test_a_simd_module_runs_in_pyodide_and_where_v8_lacks_simd_fails_saying_so(
    node: str, build_c: Callable[..., Any], tmp_path: Path
) -> None:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("V8's --no-enable-sse4-1 (an x86 CPU without wasm SIMD) exists on x86 only")
    built = build_c(SIMD_SOURCE, filename="lanes.c", simd=True)
    site_zip, script = tmp_path / "site.zip", tmp_path / "simd_check.py"
    with zipfile.ZipFile(site_zip, "w") as zf:
        for path in built.package_dir.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(built.package_dir.parent))
    script.write_text(SIMD_CHECK)
    words = [int.from_bytes(bytes(range(48))[i : i + 4], "little") for i in range(0, 48, 4)]
    expected = 0
    for word in words:
        expected ^= word

    def run(*node_flags: str) -> str:
        argv = [node, *node_flags, str(REPO / "tests" / "pyodide" / "run_node.mjs"), "--file", str(site_zip)]
        argv += [str(script), "/home/pyodide/site.zip", built.package]
        proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    assert f"result {expected}" in run()
    # V8 has no wasm SIMD on an x86 CPU without SSE4.1; Pyodide itself still starts there
    without = run("--no-enable-sse4-1")
    assert (
        f"error {built.package}.kernels: cannot compile the wasm module: the module needs WebAssembly SIMD" in without
    )
    assert "Wasm SIMD unsupported" in without and "Rebuild it with simd=False" in without
