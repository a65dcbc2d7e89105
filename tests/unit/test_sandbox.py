"""Sandboxes on modules made from WebAssembly text: limits checked, timeouts, memory caps, WASI grants.

``Limits.checked`` and each of its messages; a timeout interrupting an endless loop on both
call paths; the sandbox's own precompiled artifact; ``max_memory`` making ``malloc`` fail;
closed sandboxes; the instance replaced after a trap, a timeout or a failed allocation;
the epoch timer; fork; and what a WASI module sees of its grants.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from support.wat import (
    INITIAL_PAGES,
    PAGE,
    WASI_KERNELS,
    WASI_WAT,
    Package,
    import_on_call_path,
    kernel,
    make_package,
    unique_package,
)

from wasm_ext.runtime.sandbox import Limits

MIB = 1 << 20
INITIAL = INITIAL_PAGES * PAGE  # bytes of linear memory KERNELS_WAT starts with


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_package(tmp_path_factory.mktemp("shared"), unique_package("sbshared")).import_stub()


@pytest.fixture
def package(tmp_path: Path) -> Package:
    return make_package(tmp_path, unique_package("sb"))


@pytest.fixture(scope="module")
def wasi(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("wasi")
    return make_package(root, unique_package("sbwasi"), WASI_WAT, WASI_KERNELS, wasi=True).import_stub()


def message(fn: Callable[[], object], kind: type[BaseException]) -> str:
    with pytest.raises(kind) as info:
        fn()
    return str(info.value)


# --- Limits.checked ---------------------------------------------------------------------------


def test_limits_checked_accepts_and_normalises(tmp_path: Path) -> None:
    assert Limits.checked("pkg.kernels", wasi_module=False) == Limits(None, None, {})
    limits = Limits.checked("pkg.kernels", wasi_module=False, timeout=2, max_memory="1MiB")
    assert limits == Limits(2.0, MIB, {}) and type(limits.timeout) is float
    assert Limits.checked("pkg.kernels", wasi_module=False, max_memory="100kB").max_memory == 100_000
    assert Limits.checked("pkg.kernels", wasi_module=False, max_memory=65536).max_memory == 65536
    (tmp_path / "data").mkdir()
    grants = {"preopens": {"/data": tmp_path / "data" / ".." / "data"}, "argv": ("prog",), "read_only": True}
    checked = Limits.checked("pkg.kernels", wasi_module=True, wasi=grants)
    assert checked.wasi == {
        "preopens": {"/data": str((tmp_path / "data").resolve())},
        "argv": ("prog",),
        "read_only": True,
    }
    assert grants["preopens"] == {"/data": tmp_path / "data" / ".." / "data"}  # the caller's dict is untouched
    assert Limits.checked("pkg.kernels", wasi_module=True, wasi={}).wasi == {"preopens": {}}


TIMEOUTS = [
    ("1", TypeError, "sandbox(): timeout must be a number of seconds, not str"),
    (True, TypeError, "sandbox(): timeout must be a number of seconds, not bool"),
    ([1], TypeError, "sandbox(): timeout must be a number of seconds, not list"),
    (0, ValueError, "sandbox(): timeout must be a positive number of seconds, got 0"),
    (-0.5, ValueError, "sandbox(): timeout must be a positive number of seconds, got -0.5"),
    (float("inf"), ValueError, "sandbox(): timeout must be a positive number of seconds, got inf"),
    (float("nan"), ValueError, "sandbox(): timeout must be a positive number of seconds, got nan"),
]


@pytest.mark.parametrize(("timeout", "kind", "text"), TIMEOUTS, ids=[repr(t[0]) for t in TIMEOUTS])
def test_limits_checked_rejects_timeouts(timeout: object, kind: type[Exception], text: str) -> None:
    assert message(lambda: Limits.checked("pkg.kernels", wasi_module=False, timeout=timeout), kind) == text


SIZE_HELP = "a string like '64KiB' or '1MiB'"
MEMORIES = [
    (True, TypeError, "sandbox(): max_memory must be a byte count or a string like '64MiB', not True"),
    ("lots", ValueError, f"sandbox(): max_memory must be a positive byte count or {SIZE_HELP}, got 'lots'"),
    ("0KiB", ValueError, f"sandbox(): max_memory must be a positive byte count or {SIZE_HELP}, got '0KiB'"),
    (1.5, ValueError, f"sandbox(): max_memory must be a positive byte count or {SIZE_HELP}, got 1.5"),
    (0, ValueError, "sandbox(): max_memory must be positive, got 0"),
    (-1, ValueError, "sandbox(): max_memory must be positive, got -1"),
]


@pytest.mark.parametrize(("max_memory", "kind", "text"), MEMORIES, ids=[repr(m[0]) for m in MEMORIES])
def test_limits_checked_rejects_memory_caps(max_memory: Any, kind: type[Exception], text: str) -> None:
    assert message(lambda: Limits.checked("pkg.kernels", wasi_module=False, max_memory=max_memory), kind) == text


KNOWN = "['argv', 'env', 'preopens', 'read_only', 'stderr', 'stdin', 'stdout']"
GRANTS = [
    (["stdout"], True, TypeError, "sandbox(): wasi must be a dict of grants, not list"),
    (
        {"stdout": True},
        False,
        ValueError,
        "sandbox(): pkg.kernels was built without wasi=True: it imports no WASI to grant",
    ),
    (
        {"network": True, "disk": 1},
        True,
        ValueError,
        f"sandbox(): unknown WASI grant(s) ['disk', 'network']; known: {KNOWN}",
    ),
    ({"stdout": 1}, True, TypeError, "sandbox(): wasi['stdout'] must be True or False"),
    ({"read_only": "yes"}, True, TypeError, "sandbox(): wasi['read_only'] must be True or False"),
    ({"argv": "prog arg"}, True, TypeError, "sandbox(): wasi['argv'] must be a list of str"),
    ({"argv": ["prog", 1]}, True, TypeError, "sandbox(): wasi['argv'] must be a list of str"),
    ({"env": {"A": 1}}, True, TypeError, "sandbox(): wasi['env'] must be a dict of str to str"),
    ({"env": [("A", "1")]}, True, TypeError, "sandbox(): wasi['env'] must be a dict of str to str"),
    (
        {"preopens": ["/tmp"]},
        True,
        TypeError,
        "sandbox(): wasi['preopens'] must be a dict {guest path: host directory}",
    ),
    (
        {"preopens": {1: "/tmp"}},
        True,
        TypeError,
        "sandbox(): wasi['preopens'] must map str guest paths to host directories",
    ),
    (
        {"preopens": {"/d": 5}},
        True,
        TypeError,
        "sandbox(): wasi['preopens'] must map str guest paths to host directories",
    ),
]


@pytest.mark.parametrize(
    ("wasi", "wasi_module", "kind", "text"), GRANTS, ids=[f"grant-{i}" for i in range(len(GRANTS))]
)
def test_limits_checked_rejects_wasi_grants(wasi: Any, wasi_module: bool, kind: type[Exception], text: str) -> None:
    assert message(lambda: Limits.checked("pkg.kernels", wasi_module=wasi_module, wasi=wasi), kind) == text


@pytest.mark.parametrize("host", ["a-file", "missing"])
def test_limits_checked_rejects_preopens_that_are_not_directories(tmp_path: Path, host: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    path = tmp_path / host
    text = message(lambda: Limits.checked("pkg.kernels", wasi_module=True, wasi={"preopens": {"/d": path}}), ValueError)
    assert text == f"sandbox(): wasi['preopens']['/d']: {path.resolve()} is not a directory"


def test_sandbox_checks_its_limits(kernels: Any) -> None:
    assert message(lambda: kernels.sandbox(timeout="1"), TypeError) == TIMEOUTS[0][2]
    name = kernels.__name__
    assert message(lambda: kernels.sandbox(wasi={"stdout": True}), ValueError) == (
        f"sandbox(): {name} was built without wasi=True: it imports no WASI to grant"
    )


def test_no_sandbox_under_pyodide(kernels: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert message(lambda: kernels.sandbox(timeout=1.0), kernels.KernelError) == (
        f"{kernels.__name__}: sandbox() needs wasmtime; under Pyodide kernels run unsandboxed"
    )


# --- timeouts ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["fast", "slow"])
def paths(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The stub on each call path: wasmtime's C API directly, or (WASM_EXT_SLOW_CALLS=1) the public API."""
    package = make_package(tmp_path_factory.mktemp(request.param), unique_package(f"sb{request.param}"))
    return import_on_call_path(package, slow=request.param == "slow")


def test_timeout_interrupts_an_endless_loop_and_the_next_call_works(paths: Any) -> None:
    sb = paths.sandbox(timeout=0.5)
    assert sb.spin(10) == 45
    assert sb._module.loaded_from == "precompiled"  # the .sandbox.cwasm artifact
    first, module_instance = sb._module.instance(), paths._module.instance()
    started = time.monotonic()
    with pytest.raises(paths.KernelTimeout) as info:
        sb.forever()
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 0.9, elapsed
    timeout = info.value
    assert str(timeout) == "forever: interrupted after the 0.5 s timeout"
    assert isinstance(timeout, paths.KernelTrap) and timeout.trap_code == "interrupt"
    assert (timeout.function, timeout.timeout) == ("forever", 0.5)
    assert sb.spin(100) == 4950 and sb._module.instance() is not first  # a fresh instance
    assert sb.byte_sum(b"abc") == 294
    assert paths.spin(100) == 4950 and paths._module.loaded_from == "precompiled"  # module level: untouched
    assert paths._module.instance() is module_instance
    sb.close()


def test_timeout_counts_per_call_not_per_sandbox(kernels: Any) -> None:
    with kernels.sandbox(timeout=0.1) as sb:
        started = time.monotonic()
        while time.monotonic() - started < 0.3:  # many short calls add up past the timeout: fine
            assert sb.spin(10_000) == 10_000 * 9_999 // 2
        time.sleep(0.15)  # so does idle time between calls
        assert sb.spin(10) == 45


def test_timeout_in_one_thread_leaves_other_threads_alone(kernels: Any) -> None:
    sb = kernels.sandbox(timeout=0.2)
    counts: list[int] = []
    stop = threading.Event()

    def good() -> None:
        count = 0
        while not stop.is_set():
            assert sb.byte_sum(b"abcdef") == 597
            count += 1
        counts.append(count)

    thread = threading.Thread(target=good)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(kernels.KernelTimeout):
            sb.forever()
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
    assert counts and counts[0] > 10
    # Both cores busy with this process: on free-threaded CPython a timer waiting in a timed lock
    # acquire lost a time slice per spin and fired after 1.1-1.4 s.
    assert 0.2 <= elapsed < 0.6, elapsed
    sb.close()


def test_the_epoch_never_runs_ahead_of_the_clock_when_the_timer_wakes_late(monkeypatch: pytest.MonkeyPatch) -> None:
    """A timer woken late (a loaded machine) makes timeouts late, never early: one tick per wake-up.

    Catching up with the clock instead made a 0.2 s timeout fire after 0.1985 s in CI.
    """
    from types import SimpleNamespace

    from wasm_ext.runtime import wasmtime_engine

    epochs: list[float] = []
    engine = SimpleNamespace(get=lambda: SimpleNamespace(increment_epoch=lambda: epochs.append(time.monotonic())))
    late = SimpleNamespace(monotonic=time.monotonic, sleep=lambda seconds: time.sleep(5 * seconds))
    monkeypatch.setattr(wasmtime_engine, "time", late)
    timer = wasmtime_engine._EpochTimer(engine)  # type: ignore[arg-type]
    timer.acquire()
    time.sleep(0.5)
    timer.release()
    gaps = [b - a for a, b in zip(epochs, epochs[1:])]
    assert len(epochs) >= 3 and min(gaps) >= wasmtime_engine.TICK, gaps  # each tick after at least TICK


def test_epoch_timer_runs_while_a_timed_sandbox_is_open(package: Package) -> None:
    stub = package.import_stub()
    timer = package.runtime("wasmtime_engine").EPOCH_ENGINE.timer
    untimed = stub.sandbox(max_memory="1MiB")
    assert timer.users == 0  # no timeout: no timer
    with stub.sandbox(timeout=1.0) as first, stub.sandbox(timeout=2.0) as second:
        assert timer.users == 2 and first.spin(3) == 3 and second.spin(3) == 3
    assert timer.users == 0
    first.close()  # closing again releases nothing more
    assert timer.users == 0 and untimed.spin(3) == 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_keeps_its_timeouts(package: Package, fresh_python: Callable[..., Any]) -> None:
    code = f"""
        import os, warnings
        import {package.module_name} as k
        # Python 3.12+ warns about fork() with threads running (the epoch timer): forking is the test
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        sb = k.sandbox(timeout=0.2)
        assert sb.spin(10) == 45
        pid = os.fork()
        if pid == 0:
            try:
                sb.forever()
                os._exit(1)
            except k.KernelTimeout:
                os._exit(0 if sb.spin(10) == 45 and k.sandbox(timeout=0.2).spin(4) == 6 else 2)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        """
    proc = fresh_python(code, cwd=package.site, timeout=60)
    assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, "0", "")


ENDLESS_INITIALIZE_WAT = """
(module
  (memory (export "memory") 1)
  (func (export "_initialize") (loop $again (br $again)))
  (func (export "one") (result i32) (i32.const 1)))
"""


def test_timeout_covers_instantiation(tmp_path: Path) -> None:
    package = make_package(tmp_path, unique_package("sb"), ENDLESS_INITIALIZE_WAT, [kernel("one", "i32")])
    stub = package.import_stub()
    started = time.monotonic()
    text = message(lambda: stub.sandbox(timeout=0.1).one(), stub.KernelError)
    assert time.monotonic() - started < 0.5
    assert text.startswith(f"{package.module_name}: cannot instantiate the wasm module in the sandbox: ")
    assert "interrupt" in text


# --- artifacts ------------------------------------------------------------------------------


def load_again(stub: Any, **limits: Any) -> str:
    """Where a sandbox of a new KernelModule over the stub's files loads from (as in a new process)."""
    root = type(stub._module)(stub.__name__, stub.__file__)
    loaded_from: str = root.sandbox(**limits).loaded_from
    return loaded_from


@pytest.mark.parametrize("removed", ["", ".sandbox"], ids=["default-artifact", "sandbox-artifact"])
def test_sandbox_uses_the_artifact_of_its_engine_config(package: Package, removed: str) -> None:
    package.artifact(removed).unlink()
    stub = package.import_stub()
    timed, untimed = stub.sandbox(timeout=1.0), stub.sandbox(max_memory="8MiB")
    assert timed.spin(4) == 6 and untimed.spin(4) == 6 and stub.spin(4) == 6
    default_from = "wasm" if removed == "" else "precompiled"
    sandbox_from = "wasm" if removed == ".sandbox" else "precompiled"
    assert (stub._module.loaded_from, untimed._module.loaded_from) == (default_from, default_from)
    assert timed._module.loaded_from == sandbox_from
    expected_again = "cache" if removed == ".sandbox" else "precompiled"
    assert load_again(stub, timeout=1.0) == expected_again
    timed.close()


# --- max_memory --------------------------------------------------------------------------------


def test_memory_cap_makes_malloc_fail(kernels: Any) -> None:
    sb = kernels.sandbox(max_memory="1MiB")
    assert sb._module.loaded_from == "precompiled"  # no timeout: the default engine and artifact
    assert sb.grow(32) == -1  # past the cap: memory.grow fails inside the kernel
    assert kernels.grow(0) >= INITIAL_PAGES and kernels.grow(1) != -1  # module level: no cap
    before = sb._module.instance()
    assert (
        message(lambda: sb.alloc(2 * MIB), MemoryError) == "alloc(): the wasm module could not allocate 2097152 bytes"
    )
    assert sb._module.instance() is not before  # replaced after the failed allocation
    before = sb._module.instance()
    text = message(lambda: sb.byte_sum(bytes(2 * MIB)), MemoryError)
    assert text == "byte_sum(): the wasm module could not allocate 2097152 bytes"
    assert sb._module.instance() is not before
    with sb.alloc(256 * 1024) as buf:
        buf.write(b"\x01" * (256 * 1024))
        assert sb.byte_sum(buf) == 256 * 1024
    assert sb.byte_sum(bytes(range(256)) * 1024) == sum(range(256)) * 1024
    with kernels.alloc(2 * MIB) as big:  # module level: no cap
        assert len(big) == 2 * MIB


@pytest.mark.parametrize("timeout", [None, 1.0], ids=["default-engine", "epoch-engine"])
@pytest.mark.parametrize("max_memory", ["64KiB", 1000, INITIAL - 1])
def test_memory_cap_below_initial_memory_is_a_value_error(kernels: Any, max_memory: Any, timeout: Any) -> None:
    nbytes = 65536 if max_memory == "64KiB" else max_memory
    assert message(lambda: kernels.sandbox(max_memory=max_memory, timeout=timeout), ValueError) == (
        f"sandbox(): max_memory={nbytes} bytes is below the initial memory of {kernels.__name__} "
        f"({INITIAL} bytes = {INITIAL / MIB:g} MiB)"
    )


def test_memory_cap_of_exactly_the_initial_memory(kernels: Any) -> None:
    with kernels.sandbox(max_memory=INITIAL) as sb:
        assert sb.byte_sum(b"abc") == 294  # the scratch area fits in the initial memory
        assert sb.grow(1) == -1
        assert message(lambda: sb.byte_sum(bytes(100_000)), MemoryError) == (
            "byte_sum(): the wasm module could not allocate 100000 bytes"
        )


# --- instances ---------------------------------------------------------------------------------

EVENTS = {
    "trap": (lambda sb: sb.divide(1, 0), "KernelTrap"),
    "stack-overflow": (lambda sb: sb.depth(10_000_000), "KernelTrap"),
    "timeout": (lambda sb: sb.forever(), "KernelTimeout"),
    "failed-allocation": (lambda sb: sb.alloc(4 * MIB), "MemoryError"),
    "failed-buffer-argument": (lambda sb: sb.byte_sum(bytes(4 * MIB)), "MemoryError"),
}


@pytest.mark.parametrize("event", list(EVENTS), ids=list(EVENTS))
def test_instance_is_replaced_after_a_trap_timeout_or_failed_allocation(kernels: Any, event: str) -> None:
    action, kind = EVENTS[event]
    sb = kernels.sandbox(timeout=0.2, max_memory="2MiB")
    module_instance = kernels._module.instance()
    buf = sb.alloc(8)
    before = sb._module.instance()
    assert sb.live() == 1
    error = MemoryError if kind == "MemoryError" else getattr(kernels, kind)
    with pytest.raises(error) as info:
        action(sb)
    if kind == "KernelTrap":
        assert not isinstance(info.value, kernels.KernelTimeout)
    assert sb._module.instance() is not before and sb.live() == 0  # fresh: nothing allocated
    assert message(buf.read, ValueError) == (
        "WasmBuffer.read(): the WasmBuffer's instance was reset after a trap; allocate a new one"
    )
    assert sb.divide(9, 3) == 3 and sb.byte_sum(b"ok") == 218
    assert kernels._module.instance() is module_instance  # the module's own instance: untouched
    sb.close()


def test_sandbox_has_its_own_memory(kernels: Any) -> None:
    with kernels.sandbox(max_memory="4MiB") as sb:
        live, pages = kernels.live(), kernels.pages()
        assert sb.grow(16) == INITIAL_PAGES and kernels.pages() == pages
        with sb.alloc(MIB):
            assert sb.live() == 1 and kernels.live() == live
        assert sb._module.instance() is not kernels._module.instance()


@pytest.mark.parametrize("timeout", [None, 1.0], ids=["untimed", "timed"])
def test_closed_sandbox_refuses_calls(kernels: Any, timeout: float | None) -> None:
    with kernels.Sandbox(timeout=timeout, max_memory="1MiB") as sb:
        assert sb.add(1, 2) == 3 and sb.add.__name__ == "add"
    closed = f"{kernels.__name__}: the sandbox was closed"
    assert message(lambda: sb.add(1, 2), kernels.KernelError) == closed
    assert message(lambda: sb.alloc(4), kernels.KernelError) == closed
    sb.close()  # again: fine
    assert kernels.add(1, 2) == 3


def test_closed_sandbox_refuses_calls_in_every_thread(kernels: Any) -> None:
    sb = kernels.sandbox(max_memory="1MiB")
    used, closed = threading.Event(), threading.Event()
    outcome: list[object] = []

    def other() -> None:
        sb.add(1, 2)  # this thread has its own instance and bindings now
        used.set()
        closed.wait()
        try:
            outcome.append(sb.add(3, 4))
        except kernels.KernelError as exc:
            outcome.append(str(exc))

    thread = threading.Thread(target=other)
    thread.start()
    used.wait()
    sb.close()
    closed.set()
    thread.join()
    assert outcome == [f"{kernels.__name__}: the sandbox was closed"]


# --- WASI grants -------------------------------------------------------------------------------


def test_wasi_module_sees_nothing_by_default(wasi: Any, capfd: pytest.CaptureFixture[str]) -> None:
    for target in (
        wasi,
        wasi.sandbox(),
        wasi.sandbox(timeout=1.0, max_memory="1MiB"),
        wasi.sandbox(wasi={"stderr": True}),
    ):
        assert (target.argc(), target.envc()) == (0, 0)
        assert target.say(b"quiet\n") == 0  # written into wasmtime's default sink
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("grants", "seen"),
    [
        pytest.param({"argv": ["prog", "--flag"]}, (2, 0), id="argv"),
        pytest.param({"env": {"A": "1", "B": "2", "C": ""}}, (0, 3), id="env"),
        pytest.param({"argv": ("one",), "env": {"A": "1"}}, (1, 1), id="both"),
        pytest.param({"preopens": {"/data": "."}, "read_only": True}, (0, 0), id="preopen"),
        pytest.param({"stdin": True, "stderr": True}, (0, 0), id="stdio"),
    ],
)
@pytest.mark.parametrize("timeout", [None, 1.0], ids=["untimed", "timed"])
def test_wasi_module_sees_what_is_granted(
    wasi: Any, grants: dict[str, Any], seen: tuple[int, int], timeout: float | None
) -> None:
    with wasi.sandbox(wasi=grants, timeout=timeout) as sb:
        assert (sb.argc(), sb.envc()) == seen
    assert (wasi.argc(), wasi.envc()) == (0, 0)  # module level: still nothing


def test_wasi_stdout_only_when_granted(wasi: Any, capfd: pytest.CaptureFixture[str]) -> None:
    assert wasi.sandbox(wasi={"stdout": True}).say(b"hello\n") == 0
    assert capfd.readouterr() == ("hello\n", "")
