"""Calls inside calls on one thread: a signal handler, a ``__del__`` or a weakref callback may call a kernel.

Python runs such code between any two bytecodes of the stub's kernel function. The first
tests put a nested call at every line of the outer function, deterministically (a trace
function stands in for the signal handler); the others use real signals and a real
garbage collector, and the first call (module load) with a signal handler that calls in.
"""

from __future__ import annotations

import array
import signal
import sys
from pathlib import Path
from types import CodeType, FrameType
from typing import Any, Callable

import pytest
from support.wat import Package, make_package, unique_package

NESTED = {  # name -> (call, expected result) of the kernel a "handler" calls
    "add": (lambda k: k.add(1000, 2000), 3000),
    "byte_sum": (lambda k: k.byte_sum(bytes(range(1, 65))), sum(range(1, 65))),
    "copy": (lambda k: _copied(k, b"nested!"), b"nested!"),
}


def _copied(k: Any, data: bytes) -> bytes:
    dst = bytearray(len(data))
    k.copy(dst, data)
    return bytes(dst)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_package(tmp_path_factory.mktemp("reentry"), unique_package("reentry")).import_stub()


def _outer_cases(k: Any) -> dict[str, tuple[Callable[[], Any], Any]]:
    values = array.array("i", range(40))

    def alloc() -> int:
        with k.alloc(24) as buffer:
            return int(buffer.nbytes)

    return {
        "add": (lambda: k.add(5, 7), 12),
        "echo_f64": (lambda: k.echo_f64(2.5), 2.5),
        "byte_sum": (lambda: k.byte_sum(b"\x03" * 100), 300),
        "copy": (lambda: _copied(k, b"outer"), b"outer"),
        "scale": (lambda: (k.scale(values, 1), values.tolist())[1], list(range(40))),
        "alloc": (alloc, 24),
    }


def _watched(k: Any, outer: str) -> set[CodeType]:
    """The code a nested call may interrupt: the kernel's own and the runtime's staging and allocation."""
    instance, module = type(k._module.instance()), type(k._module)
    codes = {getattr(instance, name).__code__ for name in ("stage", "unstage", "release", "malloc", "_call_allocator")}
    codes.add(module.alloc.__code__ if outer == "alloc" else getattr(k, outer).__code__)
    return codes


def _trace(codes: set[CodeType], at_line: Callable[[tuple[CodeType, int]], None]) -> Callable[..., Any]:
    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code not in codes:
            return None
        if event == "line":
            at_line((frame.f_code, frame.f_lineno))  # runs untraced, as a signal handler would
        return tracer

    return tracer


@pytest.mark.parametrize("outer", ["add", "echo_f64", "byte_sum", "copy", "scale", "alloc"])
@pytest.mark.parametrize("nested", list(NESTED))
def test_a_call_nested_at_any_line_leaves_both_results_right(kernels: Any, outer: str, nested: str) -> None:
    """Before: the nested call overwrote the outer's argument and result slots, or its staged buffers."""
    run, expected = _outer_cases(kernels)[outer]
    inner, inner_expected = NESTED[nested]
    codes = _watched(kernels, outer)
    assert run() == expected  # bound already: the lines of a later call
    spots: list[tuple[CodeType, int]] = []
    sys.settrace(_trace(codes, lambda spot: None if spot in spots else spots.append(spot)))
    try:
        assert run() == expected
    finally:
        sys.settrace(None)
    assert len(spots) > 5, spots
    for spot in spots:
        results: list[Any] = []

        def nest(here: tuple[CodeType, int], spot: tuple[CodeType, int] = spot, results: list[Any] = results) -> None:
            if here == spot and not results:
                results.append(inner(kernels))

        sys.settrace(_trace(codes, nest))
        try:
            outcome = run()
        finally:
            sys.settrace(None)
        where = f"nested {nested} at {spot[0].co_name}:{spot[1]}"
        assert (outcome, results) == (expected, [inner_expected]), where
    assert run() == expected and inner(kernels) == inner_expected  # nothing is left busy or stale


HANDLER = """
import signal, sys, time
import {module} as k

wrong = inner = depth = 0

def handler(signum, frame):  # handlers nest too: a signal may arrive while one runs
    global inner, depth
    if depth >= 8:  # bounded: on a loaded machine a handler can outlast the interval, and
        return      # unbounded nesting would never let the main loop go on
    depth += 1
    try:
        n = inner = inner + 1
        if k.add(n, 1) != n + 1 or k.byte_sum(b"\\x01" * (n % 50)) != n % 50:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            raise SystemExit(f"wrong result in the handler, call {{n}}")
    finally:
        depth -= 1

signal.signal(signal.SIGVTALRM, handler)
k.add(0, 0)
k.byte_sum(b"\\x01")  # the instance's first-use set-up (bindings, scratch area) done before the storm
# CPU time, not wall time: a process descheduled by a busy machine gets no burst of signals.
# Where the kernel accounts CPU time per tick (HZ=250: at most 250 signals per CPU second),
# the loop goes on past its 120,000 calls until 200 handlers have run (60 s of CPU at most).
signal.setitimer(signal.ITIMER_VIRTUAL, 0.0002, 0.0002)
i, start = 0, time.process_time()
while i < 120_000 or (inner < 200 and time.process_time() - start < 60):
    a, b = i & 0xFFFF, (i * 7) & 0xFFFF
    if k.add(a, b) != a + b or k.byte_sum(bytes([i & 0x7F]) * 3) != 3 * (i & 0x7F):
        wrong += 1
    i += 1
signal.setitimer(signal.ITIMER_VIRTUAL, 0)
print(wrong, inner > 100)
"""


DELETER = """
import gc
import {module} as k

wrong = 0
class Cycle:
    def __init__(self, n):
        self.me, self.n = self, n
    def __del__(self):
        global wrong
        if k.add(self.n, self.n) != 2 * self.n or k.byte_sum(b"\\x02" * 5) != 10:
            wrong += 1

gc.set_threshold(50, 1, 1)  # collections (and __del__) often, during the calls' own allocations
for i in range(60_000):
    Cycle(i)
    a = i & 0xFFFF
    if k.add(a, 3) != a + 3 or k.byte_sum(bytes([i & 0x3F]) * 2) != 2 * (i & 0x3F):
        wrong += 1
gc.collect()
print(wrong)
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return make_package(tmp_path_factory.mktemp("reentry-procs"), unique_package("reentryp"))


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_signal_handlers_that_call_kernels_get_and_leave_right_results(
    package: Package, fresh_python: Callable[..., Any]
) -> None:
    """Before: hundreds of wrong results in the outer calls."""
    proc = fresh_python(HANDLER.format(module=package.module_name), cwd=package.site, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "True"]


def test_del_that_calls_kernels_during_a_call_leaves_right_results(
    package: Package, fresh_python: Callable[..., Any]
) -> None:
    proc = fresh_python(DELETER.format(module=package.module_name), cwd=package.site, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0"]


FIRST_CALL = """
import signal, sys
import {module} as k

outcomes = set()

def handler(signum, frame):
    try:
        outcomes.add("ok" if k.add(2, 3) == 5 else "WRONG")
    except k.KernelError as exc:
        outcomes.add("KernelError: " + str(exc))

signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)  # many signals while the first call loads
first = k.add(20, 22)
signal.setitimer(signal.ITIMER_REAL, 0)
print(first)
for outcome in sorted(outcomes):
    print(outcome)
"""


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
@pytest.mark.parametrize("precompiled", [True, False], ids=["precompiled", "jit"])
def test_signals_during_the_first_call_neither_hang_nor_crash(
    tmp_path: Path, fresh_python: Callable[..., Any], precompiled: bool
) -> None:
    """Before: the handler's call waited for the loading lock its own thread held, for ever."""
    package = make_package(tmp_path, unique_package("firstcall"), precompile=precompiled)
    proc = fresh_python(
        FIRST_CALL.format(module=package.module_name),
        cwd=package.site,
        timeout=120,
        WASM_EXT_CACHE_DIR=str(tmp_path / "cache"),
    )
    assert proc.returncode == 0, proc.stderr
    first, *outcomes = proc.stdout.splitlines()
    assert first == "42"
    refusal = (
        f"KernelError: {package.module_name}: called while this thread was loading a wasm module (from a signal "
        "handler, __del__ or a weakref callback that interrupted it); make a first call before such code can run"
    )
    assert set(outcomes) <= {"ok", refusal} and outcomes, proc.stdout


def test_an_instance_made_by_a_call_that_interrupted_the_first_one_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nested call that lands before the first call's instantiation starts makes the instance; the outer keeps it."""
    k = make_package(tmp_path, unique_package("interrupted")).import_stub()
    module = k._module
    runtime = sys.modules[type(module).__module__]
    real = runtime._start_loading
    nested: list[Any] = []

    def interrupted(name: str) -> None:  # the moment a signal handler could run, before the guard
        if not nested and module._loads:
            nested.append(None)  # once: the nested call passes here too
            nested[0] = k.byte_sum(b"\x01\x02")  # binds byte_sum, which the outer call does not
        real(name)

    monkeypatch.setattr(runtime, "_start_loading", interrupted)
    assert k.add(20, 22) == 42 and nested == [3]
    with k.alloc(4) as buffer:  # one instance for the thread, so its buffers fit every kernel
        assert k.byte_sum(buffer) == 0
