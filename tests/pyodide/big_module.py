"""Run in the browser by browser_test.mjs: what the runtime says about a module over 8 MB.

Chrome refuses to compile a module larger than 8 MB synchronously on the main thread; the
runtime must turn that into a KernelError that says to use a web worker. The module is
valid: one 9 MiB custom section. The expression's value is the error text.
"""

from wasm_example._wasm_ext_runtime import KernelError
from wasm_example._wasm_ext_runtime.js_engine import JsModule


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def big_module_error() -> str:
    payload = b"\x01x" + bytes(9 << 20)  # a custom section named "x"
    wasm = b"\0asm\x01\0\0\0" + b"\x00" + _uleb(len(payload)) + payload
    try:
        JsModule("demo.big", wasm, {"f": ((), ())})
    except KernelError as exc:
        return str(exc)
    return "compiled without error"


big_module_error()
