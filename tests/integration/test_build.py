"""The pipeline on real C: what a build produces, and each build error users can hit."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from support.building import Built

from wasm_ext.builder import wasm_binary
from wasm_ext.errors import (
    BuildEnvironmentError,
    ConfigError,
    SignatureError,
    SizeLimitError,
    ToolchainError,
    WasmCompileError,
)

KERNELS = """
#include <stdint.h>
#include <stddef.h>
#include <wasm_ext.h>

/// Add two numbers.
WASM_EXPORT int32_t add(int32_t a, int32_t b) { return a + b; }

/** Sum of bytes.
 *
 * @param data the bytes
 * @return their sum, modulo 2**32
 */
WASM_EXPORT uint32_t byte_sum(const uint8_t *data, size_t data_len) {
    uint32_t s = 0;
    for (size_t i = 0; i < data_len; i++) s += data[i];
    return s;
}

int not_exported(int x) { return x; }
"""


def test_build_outputs_and_reactor_module(build_c: Callable[..., Built]) -> None:
    built = build_c(KERNELS)
    d = built.package_dir
    names = sorted(p.name for p in d.iterdir())
    assert {"kernels.py", "kernels.pyi", "kernels.wasm", "kernels.wasm-manifest.json", "_wasm_ext_runtime"} <= set(
        names
    )
    assert any(re.fullmatch(r"kernels\..+\.cwasm", n) for n in names)

    module = wasm_binary.parse((d / "kernels.wasm").read_bytes())
    exports = {e.name for e in module.exports}
    assert {"add", "byte_sum", "malloc", "free", "memory"} <= exports
    assert "_start" not in exports and "not_exported" not in exports
    assert module.imports == []
    assert module.custom_sections == {}  # stripped: no DWARF, names or producers
    assert str(module.export("byte_sum").type) == "(i32, i32) -> (i32)"  # type: ignore[union-attr]

    manifest = json.loads((d / "kernels.wasm-manifest.json").read_text())
    assert manifest["wasm"]["size"] == (d / "kernels.wasm").stat().st_size == built.result.size
    assert manifest["wasm"]["size_before_opt"] == built.result.size_before_opt
    artifact, sandbox_artifact = manifest["precompiled"]  # default engine config first, then the sandbox's
    assert set(artifact) >= {"file", "target", "wasmtime", "config", "sha256"}
    assert sandbox_artifact["file"].endswith(".sandbox.cwasm") and sandbox_artifact["config"] != artifact["config"]

    kernels = built.import_stub()
    assert kernels.add(2, 40) == 42
    assert kernels.byte_sum(b"\x01\x02\xff") == 258
    assert kernels.add.__doc__.startswith("Add two numbers.")
    assert "@param" not in kernels.byte_sum.__doc__ and "data: the bytes" in kernels.byte_sum.__doc__


def test_scalar_only_module_does_not_carry_an_allocator(build_c: Callable[..., Built]) -> None:
    built = build_c("#include <wasm_ext.h>\nWASM_EXPORT int twice(int x) { return 2 * x; }\n")
    exports = {e.name for e in wasm_binary.parse((built.package_dir / "kernels.wasm").read_bytes()).exports}
    assert "malloc" not in exports
    assert built.import_stub().twice(21) == 42


def test_export_name_attribute_and_explicit_exports(build_c: Callable[..., Built]) -> None:
    source = """
    __attribute__((export_name("checksum"))) unsigned int c_checksum(const unsigned char *p, unsigned long n) {
        unsigned int a = 1, b = 0;
        for (unsigned long i = 0; i < n; i++) { a = (a + p[i]) % 65521; b = (b + a) % 65521; }
        return (b << 16) | a;
    }
    int plain(int x) { return x + 1; }
    """
    kernels = build_c(source).import_stub()
    assert kernels.checksum(b"hello") == zlib.adler32(b"hello")
    explicit = build_c(source, exports=["plain"]).import_stub()
    assert explicit.plain(1) == 2 and not hasattr(explicit, "checksum")


def test_wasm_opt_shrinks_and_can_be_skipped(build_c: Callable[..., Built]) -> None:
    optimized = build_c(KERNELS)
    plain = build_c(KERNELS, wasm_opt=False)
    assert plain.result.size == plain.result.size_before_opt
    assert optimized.result.size < optimized.result.size_before_opt


STRING_KERNELS = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wasm_ext.h>
typedef struct { uint8_t bytes[256]; } block;
/** Fill buf with v (through a heap copy), then return the offset of the first byte c, or -1. */
WASM_EXPORT int32_t fill_find(uint8_t *buf, size_t buf_len, uint8_t v, uint8_t c) {
    block *tmp = calloc(1, sizeof(block));
    if (!tmp) return -2;
    memset(tmp->bytes, v, sizeof tmp->bytes);
    for (size_t i = 0; i < buf_len; i += sizeof tmp->bytes)
        memcpy(buf + i, tmp->bytes, buf_len - i < sizeof tmp->bytes ? buf_len - i : sizeof tmp->bytes);
    free(tmp);
    const uint8_t *hit = memchr(buf, c, buf_len);
    return hit ? (int32_t)(hit - buf) : -1;
}
/** memcmp's sign and strlen, through the SIMD helpers every module links. */
WASM_EXPORT int32_t cmp_len(const uint8_t *a, size_t a_len, const char *s) {
    int r = memcmp(a, s, a_len);
    return (r < 0 ? -1 : r > 0) * 1000 + (int32_t)strlen(s);
}
"""


@pytest.mark.parametrize("level", ["O3", "Os", "Oz"])
def test_every_opt_level_builds_bulk_memory_and_string_helpers(build_c: Callable[..., Built], level: str) -> None:
    """zig's -Os/-Oz output has no target_features section; wasm-opt must still accept it."""
    kernels: Any = build_c(STRING_KERNELS, opt_level=level).import_stub()
    for size in (0, 1, 15, 16, 17, 300, 70_000):
        buf = bytearray(size)
        assert kernels.fill_find(buf, 7, 8) == -1 and buf == b"\x07" * size
        if size:
            buf[size - 1] = 8
            assert kernels.fill_find(buf, 8, 8) == 0
    text = "x" * 40
    assert kernels.cmp_len(text.encode(), text) == 40
    assert kernels.cmp_len(b"x" * 39 + b"a", text) == -1000 + 40
    assert kernels.cmp_len(b"x" * 20 + b"z", text) == 1000 + 40


def test_string_helpers_replace_libc_unless_the_module_defines_its_own(build_c: Callable[..., Built]) -> None:
    """The SIMD memchr is linked (i8x16.bitmask in the code); a module's own memchr wins."""
    source = r"""
    #include <stdint.h>
    #include <string.h>
    #include <wasm_ext.h>
    %s
    WASM_EXPORT int32_t find(const uint8_t *buf, size_t buf_len, uint8_t c) {
        const uint8_t *hit = memchr(buf, c, buf_len);
        return hit ? (int32_t)(hit - buf) : -1;
    }
    """
    helper = build_c(source % "")
    assert b"\xfd\x64" in (helper.package_dir / "kernels.wasm").read_bytes()  # i8x16.bitmask
    assert helper.import_stub().find(b"x" * 40 + b"y", ord("y")) == 40
    own = "void *memchr(const void *s, int c, size_t n) { (void)s; (void)c; (void)n; return (void *)0; }"
    built = build_c(source % own)
    assert built.import_stub().find(b"xy", ord("y")) == -1  # the module's own (useless) memchr ran


def test_without_precompile_the_wasm_is_used(build_c: Callable[..., Built]) -> None:
    built = build_c(KERNELS, precompile=False)
    assert not list(built.package_dir.glob("*.cwasm"))
    kernels = built.import_stub()
    assert kernels.add(1, 2) == 3 and kernels._module.loaded_from == "wasm"


# --- errors -------------------------------------------------------------------------------


def test_missing_source(build_c: Callable[..., Built], tmp_path: Path) -> None:
    from wasm_ext import WasmExtension
    from wasm_ext.builder.pipeline import build_extension

    ext = WasmExtension("p.kernels", sources=["src/nope.c"])
    with pytest.raises(ConfigError, match=r"p.kernels: source file\(s\) not found: .*src/nope.c"):
        build_extension(ext, source_root=tmp_path, package_dir=tmp_path / "out", temp_dir=tmp_path / "tmp")


def test_c_syntax_error_shows_compiler_diagnostics(build_c: Callable[..., Built]) -> None:
    with pytest.raises(WasmCompileError) as info:
        build_c("#include <wasm_ext.h>\nWASM_EXPORT int f(int x) { return x +; }\n", filename="broken.c")
    message = str(info.value)
    assert "broken.c:2:" in message and "error: expected expression" in message


def test_a_typo_below_many_headers_shows_only_the_diagnostics(build_c: Callable[..., Built]) -> None:
    """Before: ~94 KB, most of it the partial JSON AST clang printed for the headers."""
    source = "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <wasm_ext.h>\n"
    source += "WASM_EXPORT int f(int x) { return x +; }\n"
    with pytest.raises(WasmCompileError) as info:
        build_c(source, filename="typo.c")
    message = str(info.value)
    assert "typo.c:5:" in message and '"kind"' not in message and len(message) < 2000, message


def test_unknown_export(build_c: Callable[..., Built]) -> None:
    with pytest.raises(
        WasmCompileError, match=r"unknown export\(s\) nope.*Functions defined: add, byte_sum, not_exported"
    ):
        build_c(KERNELS, exports=["add", "nope"])


def test_nothing_marked(build_c: Callable[..., Built]) -> None:
    with pytest.raises(WasmCompileError, match="no function is marked for export.*WASM_EXPORT"):
        build_c("int f(int x) { return x; }\n")


WASI_SOURCE = """
#include <stdio.h>
#include <wasm_ext.h>
WASM_EXPORT int hello(int x) { printf("hello %d\\n", x); return x; }
"""


def test_wasi_imports_need_wasi_true(build_c: Callable[..., Built]) -> None:
    with pytest.raises(
        WasmCompileError,
        match=r"imports WASI functions but was declared with wasi=False: .*wasi_snapshot_preview1\.fd_write",
    ):
        build_c(WASI_SOURCE)


def test_wasi_true_builds_and_runs(build_c: Callable[..., Built]) -> None:
    kernels = build_c(WASI_SOURCE, wasi=True).import_stub()
    assert kernels.hello(7) == 7


def test_unmappable_type_names_function_and_parameter(build_c: Callable[..., Built]) -> None:
    source = """
    #include <wasm_ext.h>
    union number { int i; float f; };
    WASM_EXPORT int norm1(union number p) { return p.i; }
    """
    with pytest.raises(
        SignatureError, match=r"function norm1\(\) at .*kernels.c:4: parameter p \(union number\) is a union number.*"
    ):
        build_c(source)


def test_size_gate_names_module_size_and_limit(build_c: Callable[..., Built]) -> None:
    with pytest.raises(SizeLimitError) as info:
        build_c(KERNELS, max_size=100)
    message = str(info.value)
    assert re.search(r"wasmtest_\w+\.kernels: the wasm module is \d+ bytes .* over its max_size of 100 bytes", message)


def test_size_gate_passes_at_the_limit(build_c: Callable[..., Built]) -> None:
    size = build_c(KERNELS).result.size
    assert build_c(KERNELS, max_size=size).result.size == size


def test_missing_compiler_says_how_to_get_one(build_c: Callable[..., Built], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASM_EXT_CC", "/nonexistent/clang --target=wasm32-wasi")
    with pytest.raises(ToolchainError, match=r"'/nonexistent/clang' was not found\. Install the 'ziglang' package"):
        build_c(KERNELS)
    monkeypatch.delenv("WASM_EXT_CC")
    monkeypatch.setenv("WASI_SDK_PATH", "/nonexistent/wasi-sdk")
    with pytest.raises(ToolchainError, match="holds no bin/clang"):
        build_c(KERNELS)


def test_required_wasm_opt_missing(build_c: Callable[..., Built], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASM_OPT", "/nonexistent/wasm-opt")
    with pytest.raises(
        ToolchainError, match=r"WASM_OPT='/nonexistent/wasm-opt' was not found.*apt-get install binaryen"
    ):
        build_c(KERNELS, wasm_opt=True)
    monkeypatch.setenv("WASM_EXT_REQUIRE_WASM_OPT", "1")
    with pytest.raises(ToolchainError, match="was not found"):
        build_c(KERNELS)


def test_auto_wasm_opt_missing_warns_and_ships_unoptimized(
    build_c: Callable[..., Built], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WASM_OPT", "/nonexistent/wasm-opt")
    monkeypatch.delenv("WASM_EXT_REQUIRE_WASM_OPT", raising=False)
    built = build_c(KERNELS)
    assert built.result.size == built.result.size_before_opt
    assert "wasm-opt not found, shipping the unoptimized module" in caplog.text


@pytest.fixture
def full_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temporary directory on a real 64 KiB file system with one page left (needs mount: root here)."""
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(tiny)]
    mounted = subprocess.run(mount, capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (tiny / "filler").write_bytes(b"\0" * (60 << 10))
        monkeypatch.setattr(tempfile, "tempdir", str(tiny))
        yield tiny
    finally:
        subprocess.run(["umount", str(tiny)], check=False)


def test_a_full_tmpdir_names_itself_and_the_variable(build_c: Callable[..., Built], full_tmpdir: Path) -> None:
    """Before: a bare ``[Errno 28] No space left on device`` (wasm-opt's input is written to TMPDIR)."""
    if shutil.which("wasm-opt") is None and not os.environ.get("WASM_OPT"):
        pytest.skip("wasm-opt is what writes to TMPDIR")
    source = "#include <wasm_ext.h>\nstatic const char table[32768] = {1};\n"
    source += "WASM_EXPORT int at(int i) { return table[i & 32767]; }\n"
    with pytest.raises(BuildEnvironmentError) as info:
        build_c(source, fresh=True)
    message = str(info.value)
    assert (
        f"cannot write {full_tmpdir}/" in message
        and "(the temporary directory): no space left on the device" in message
    )
    assert message.endswith(f"free space in {full_tmpdir} or set TMPDIR to a directory with room")


# --- discovery: what the compiler sees ------------------------------------------------------------


def _build_project(tmp_path: Path, files: dict[str, str], **options: Any) -> Built:
    """A project of *files* (relative paths) built as ``<unique>.kernels`` from ``src/main.c``."""
    from wasm_ext import WasmExtension
    from wasm_ext.builder.pipeline import build_extension

    package = f"discovery_{abs(hash((tmp_path, tuple(files)))) % 10**8}"
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    site = tmp_path / "site"
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text("")
    ext = WasmExtension(f"{package}.kernels", sources=["src/main.c"], **options)
    result = build_extension(ext, source_root=tmp_path, package_dir=site / package, temp_dir=tmp_path / "tmp")
    return Built(site, package, result)


def test_functions_made_by_token_pasting_and_those_after_them_are_found(tmp_path: Path) -> None:
    """Before: the first function a header macro made hid every later one ('unknown export(s)')."""
    files = {
        "src/defs.h": "#define MAKE_ADDER(n) int add_##n(int x) { return x + n; }\n",
        "src/main.c": """
            #include "defs.h"
            MAKE_ADDER(1)
            MAKE_ADDER(10)
            int twice(int x) { return 2 * x; }
        """,
    }
    kernels = _build_project(tmp_path, files, exports=["add_1", "add_10", "twice"]).import_stub()
    assert (kernels.add_1(1), kernels.add_10(1), kernels.twice(4)) == (2, 11, 8)


def test_functions_defined_in_the_projects_header_can_be_exported(tmp_path: Path) -> None:
    """Before: a single-header library (#define LIB_IMPLEMENTATION) had 'Functions defined: none'."""
    files = {
        "include/lib.h": """
            #ifndef LIB_H
            #define LIB_H
            int lib_square(int x);
            #ifdef LIB_IMPLEMENTATION
            /** The square of x. */
            int lib_square(int x) { return x * x; }
            static int lib_private(int x) { return x; }
            #endif
            #endif
        """,
        "src/main.c": '#define LIB_IMPLEMENTATION\n#include "lib.h"\n',
    }
    built = _build_project(tmp_path, files, include_dirs=["include"], exports=["lib_square"])
    kernels = built.import_stub()
    assert kernels.lib_square(7) == 49 and "The square of x." in (kernels.lib_square.__doc__ or "")
    # a static function of that header: exported through a wrapper in main.c's unit (where LIB_IMPLEMENTATION is set)
    private = _build_project(tmp_path / "again", files, include_dirs=["include"], exports=["lib_private"])
    assert private.import_stub().lib_private(5) == 5


SIMD_INTRINSICS = r"""
#include <stdint.h>
#include <stddef.h>
#include <wasm_simd128.h>
#include <wasm_ext.h>
/// The data's bytes summed 16 lanes at a time, as uint8 lanes wrapping (a tail shorter than 16 is left out).
WASM_EXPORT uint32_t lane_sum(const uint8_t *data, size_t data_len) {
#ifndef __wasm_simd128__
#error "built without simd128"
#endif
    v128_t acc = wasm_i8x16_splat(0);
    for (size_t i = 0; i + 16 <= data_len; i += 16) acc = wasm_i8x16_add(acc, wasm_v128_load(data + i));
    uint32_t total = 0;
    uint8_t lanes[16];
    wasm_v128_store(lanes, acc);
    for (int i = 0; i < 16; i++) total += lanes[i];
    return total;
}
"""


def test_simd_builds_every_source_with_simd128_and_the_module_runs(build_c: Callable[..., Built]) -> None:
    kernels: Any = build_c(SIMD_INTRINSICS, simd=True).import_stub()
    data = bytes(range(256)) * 3
    lanes = [sum(data[i::16][: len(data) // 16]) % 256 for i in range(16)]
    assert kernels.lane_sum(data) == sum(lanes)
    with pytest.raises(WasmCompileError, match="built without simd128"):  # the AST dump and compile see the flag
        build_c(SIMD_INTRINSICS, fresh=True)
