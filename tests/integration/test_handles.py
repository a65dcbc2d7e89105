"""Handles, compiled and run on wasmtime: a streaming checksum state the way C libraries write one.

``create``/``init(state **)``/``update``/``digest``/``free`` over a struct the public
header leaves incomplete, bound with a ``handles`` declaration and no shim; checked
against ``zlib.adler32``, and across threads, sandboxes, a trap and garbage collection.
"""

from __future__ import annotations

import gc
import threading
import zlib
from typing import Any

import pytest
from support.building import Builder

from wasm_ext.errors import SignatureError

SOURCE = r"""
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>

typedef struct adler_state adler_state;   /* what a public header shows */

struct adler_state { uint32_t a, b; uint32_t live; };
static uint32_t live_states = 0;

adler_state *adler_create(void) {
    adler_state *s = malloc(sizeof *s);
    if (s) { s->a = 1; s->b = 0; s->live = 1; live_states++; }
    return s;
}
int adler_init(adler_state **out) { *out = adler_create(); return *out ? 0 : -1; }
void adler_update(adler_state *s, const uint8_t *data, size_t n) {
    for (size_t i = 0; i < n; i++) { s->a = (s->a + data[i]) % 65521; s->b = (s->b + s->a) % 65521; }
}
uint32_t adler_digest(const adler_state *s) { return (s->b << 16) | s->a; }
void adler_free(adler_state *s) { if (!s->live) __builtin_trap(); s->live = 0; live_states--; free(s); }
uint32_t adler_live(void) { return live_states; }
void adler_crash(adler_state *s) { (void)s; __builtin_trap(); }
"""
EXPORTS = ["adler_create", "adler_init", "adler_update", "adler_digest", "adler_free", "adler_live", "adler_crash"]
HANDLES = {"adler_state": {"destroy": "adler_free"}}
FUNCTIONS = {"adler_init": {"out": "out"}}


@pytest.fixture(scope="module")
def lib(builder: Builder) -> Any:
    return builder.build(SOURCE, exports=EXPORTS, handles=HANDLES, functions=FUNCTIONS).import_stub()


def _digest(lib: Any, *chunks: bytes) -> int:
    with lib.adler_create() as s:
        for chunk in chunks:
            lib.adler_update(s, chunk)
        return int(lib.adler_digest(s))


def test_streaming_matches_zlib(lib: Any) -> None:
    data = bytes(range(256)) * 500
    assert _digest(lib, data[:1000], data[1000:], b"") == zlib.adler32(data)
    error, s = lib.adler_init()
    assert error == 0 and isinstance(s, lib.adler_state)
    lib.adler_update(s, b"abc")
    assert lib.adler_digest(s) == zlib.adler32(b"abc")
    s.close()


def test_destroy_runs_exactly_once(lib: Any) -> None:
    before = lib.adler_live()
    s = lib.adler_create()
    assert lib.adler_live() == before + 1
    lib.adler_free(s)  # the stub's destroy function closes the handle
    s.close()
    assert s.closed and lib.adler_live() == before  # a second free would have trapped
    with pytest.raises(ValueError, match=r"adler_digest\(\): the adler_state handle s is closed"):
        lib.adler_digest(s)
    t = lib.adler_create()
    del t
    gc.collect()
    assert lib.adler_live() == before


def test_threads_each_have_their_own(lib: Any) -> None:
    s = lib.adler_create()
    results: dict[str, Any] = {}

    def worker() -> None:
        try:
            lib.adler_digest(s)
        except ValueError as exc:
            results["error"] = str(exc)
        results["own"] = _digest(lib, b"thread")

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert results == {
        "error": "adler_digest(): s was made by another thread; a handle can only be used by its own",
        "own": zlib.adler32(b"thread"),
    }
    s.close()


def test_a_sandbox_handle_stays_in_its_sandbox(lib: Any) -> None:
    with lib.sandbox(timeout=5) as box:
        inside = box.adler_create()
        box.adler_update(inside, b"abc")
        assert box.adler_digest(inside) == zlib.adler32(b"abc")
        with pytest.raises(ValueError, match="belongs to another instance of the module"):
            lib.adler_digest(inside)
        outside = lib.adler_create()
        with pytest.raises(ValueError, match="belongs to another instance of the module"):
            box.adler_digest(outside)
        outside.close()


def test_after_a_trap_old_handles_are_refused(lib: Any) -> None:
    s = lib.adler_create()
    with pytest.raises(lib.KernelTrap):
        lib.adler_crash(s)
    with pytest.raises(ValueError, match="belongs to an instance that was reset after a trap"):
        lib.adler_digest(s)
    s.close()  # nothing to free: that memory is gone
    assert _digest(lib, b"after") == zlib.adler32(b"after")


def test_a_destroy_function_of_the_wrong_shape(builder: Builder) -> None:
    with pytest.raises(
        SignatureError, match=r"handles.adler_state.destroy = 'adler_update'.*must take one adler_state"
    ):
        builder.build(
            SOURCE, exports=EXPORTS, handles={"adler_state": {"destroy": "adler_update"}}, functions=FUNCTIONS
        )
