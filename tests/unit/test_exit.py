"""A process that used a kernel exits quietly, with and without the GIL.

Free-threaded CPython tore wasmtime-py's modules down before our objects at exit, so
wasmtime-py's finalizers found their ``ffi`` module gone and printed ``Exception ignored
in: Managed.__del__`` (see ``runtime/exit_guard.py``). Each case runs
in a fresh process on this interpreter and, when it is built, the free-threaded one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.pythons import free_threaded_python, is_this_interpreter, wasmtime_site
from support.wat import Package, make_package, unique_package

CASES = {
    "a call": "k.add(1, 2)",
    "the public-API call path": "k.add(1, 2)",
    "a buffer kept alive": "buf = k.alloc(64); k.byte_sum(b'abc')",
    "sandboxes with limits": "s = k.sandbox(timeout=5, max_memory='32MiB'); s.add(1, 2); t = k.sandbox(); t.add(1, 2)",
    "a closed sandbox": "s = k.sandbox(timeout=5); s.add(1, 2); s.close()",
    # its traceback keeps the replaced instance's Store: before exit_guard, 3.13t printed
    # "Exception ignored in: Managed.__del__ ... wasmtime_store_delete" every time
    "a timeout kept in a global": (
        "s = k.sandbox(timeout=0.05)\ntry:\n    s.forever()\nexcept k.KernelTimeout as e:\n    kept = e"
    ),
    "a trap": "exec('try:\\n    k.boom()\\nexcept Exception:\\n    pass'); k.add(1, 2)",
    "four threads, joined": (
        "import threading\n"
        "ts = [threading.Thread(target=lambda: [k.add(i, 1) for i in range(1000)]) for _ in range(4)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]"
    ),
    "two threads, not joined": (
        "import threading\n"
        "[threading.Thread(target=lambda: [k.add(i, 1) for i in range(2000)]).start() for _ in range(2)]"
    ),
    "a daemon thread alive at exit": (
        "import threading, time\n"
        "ready = threading.Event()\n"
        "def idle():\n    k.add(1, 2); s = k.sandbox(timeout=5); s.add(1, 2); ready.set(); time.sleep(60)\n"
        "threading.Thread(target=idle, daemon=True).start(); ready.wait(); k.add(1, 2)"
    ),
    "a daemon thread inside a call at exit": (
        "import threading, time\n"
        "threading.Thread(target=lambda: k.spin(1 << 40), daemon=True).start(); time.sleep(0.2); k.add(1, 2)"
    ),
}


def _interpreters() -> list[pytest.param]:
    found = [pytest.param(Path(sys.executable), id="this-python")]
    ft = free_threaded_python()
    if ft is not None and not is_this_interpreter(ft):
        found.append(pytest.param(ft, id="free-threaded"))
    return found


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return make_package(tmp_path_factory.mktemp("exit"), unique_package("exitpkg"))


@pytest.mark.parametrize("python", _interpreters())
@pytest.mark.parametrize("case", list(CASES))
def test_exit_prints_nothing(package: Package, python: Path, case: str, tmp_path: Path) -> None:
    code = f"import {package.module_name} as k\n{CASES[case]}\nprint('done')\n"
    env = {**os.environ, "WASM_EXT_CACHE_DIR": str(tmp_path / "cache")}
    env["WASM_EXT_SLOW_CALLS"] = "1" if case == "the public-API call path" else "0"
    if not is_this_interpreter(python):  # another interpreter: give it this environment's wasmtime-py
        env["PYTHONPATH"] = str(wasmtime_site(tmp_path / "site"))
    proc = subprocess.run(
        [str(python), "-c", textwrap.dedent(code)],
        cwd=package.site,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "done\n", "")
