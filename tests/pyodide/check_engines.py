"""Engine pitfalls, checked the same way on wasmtime (CPython) and in Pyodide (Node).

Usage: ``check_engines.py SITE_ZIP TYPES_PACKAGE WASI_PACKAGE DECLARED_PACKAGE``: SITE_ZIP holds
the packages, built by tests/e2e/test_pyodide.py from ``TYPES_SOURCE``, ``WASI_SOURCE`` and
``DECLARED_SOURCE`` there (handles, values by pointer, output buffers, enums, strings, errors).
Exits non-zero on the first failure.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import zipfile


def main() -> None:
    site = tempfile.mkdtemp()
    with zipfile.ZipFile(sys.argv[1]) as zf:
        zf.extractall(site)
    sys.path.insert(0, site)
    k = importlib.import_module(f"{sys.argv[2]}.kernels")

    # 64-bit integers cross as BigInt in JS; both signs, both ends
    assert k.add64(2**62, 2**62 - 1) == 2**63 - 1
    assert k.add64(-5, 3) == -2
    assert k.add64(-(2**63), 0) == -(2**63)
    assert k.echo_u64(2**64 - 1) == 2**64 - 1 and k.echo_u64(2**63) == 2**63
    # unsigned 32-bit results come back signed from JS unless masked
    assert k.echo_u32(0xFFFFFFFF) == 0xFFFFFFFF and k.echo_u32(0x80000000) == 0x80000000
    assert k.echo_i32(-1) == -1
    assert k.scale(1.5, 2.0) == 3.0 and k.is_positive(2.5) is True and k.is_positive(-1.0) is False
    # memory grows inside the call: the copy back must use a fresh view of the new memory
    buf = bytearray(200_000)
    assert k.grow_then_fill(buf, 7) == 1
    assert buf == b"\x07" * 200_000
    # a trap names the function and its cause; the next call works on a fresh instance
    try:
        k.divide(1, 0)
    except k.KernelTrap as exc:
        assert exc.function == "divide" and exc.trap_code == "integer_division_by_zero", (exc.trap_code, exc)
    else:
        raise AssertionError("no KernelTrap for a division by zero")
    assert k.divide(7, 2) == 3

    # a wasi=True module gets no capabilities by default: opening any host file fails inside
    w = importlib.import_module(f"{sys.argv[3]}.kernels")
    for path in ("/etc/hostname", "/etc/passwd", sys.argv[1], "check_engines.py"):
        assert w.try_open(path) == -1, path
    assert w.say_hello() < 0 or sys.platform != "emscripten"  # stdout write refused (ENOTCAPABLE)
    assert w.add(2, 3) == 5

    # what declarations bind: the same on both engines
    d = importlib.import_module(f"{sys.argv[4]}.kernels")
    with d.counter_new(5) as c:
        assert d.counter_add(c, 2) == (7, 14)  # an int result, then an out value
        assert d.counter_name(c) == "counter at 7"
    assert c.closed and d.live() == 0  # destroyed exactly once
    assert d.hexify(b"\x01\xab") == b"01ab"  # an output buffer, its length the result
    assert d.level_of(3) is d.level.HIGH and d.level_of(9) == 9  # an enum, and a value outside it
    # structs: by value through a pointer to a copy, by const pointer, returned through the hidden pointer
    assert d.swap(d.pair_t(1, 2**64 - 1), d.pair_t(10, 20)) == d.pair_t(9, 21)  # uint64_t wraps, as in C
    assert d.half(d.one_t(3.0)) == d.one_t(1.5)  # a struct of one double travels as the double
    try:
        d.counter_new(-1)
    except d.Error as exc:
        assert exc.function == "counter_new", exc
    else:
        raise AssertionError("no Error for a NULL counter")
    print(f"engines ok on {sys.platform}")


if __name__ == "__main__":
    main()
