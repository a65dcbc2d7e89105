"""Run Binaryen's ``wasm-opt`` with the module's features passed explicitly.

Stripped modules have lost their ``target_features`` section, so wasm-opt cannot detect
features itself; the compile stage read them before stripping. Binaryen versions name
some features differently (108 has only ``bulk-memory``; newer ones split out
``bulk-memory-opt``), so each flag is checked against what this wasm-opt knows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WasmCompileError
from ..log import get_logger
from .outputs import write
from .process import run
from .toolchain import WasmOpt

if TYPE_CHECKING:
    from .compile import CompiledModule
    from .plan import BuildPlan

log = get_logger(__name__)

# LLVM feature name -> Binaryen --enable-* names, first supported one wins
FEATURE_FLAGS: dict[str, tuple[str, ...]] = {
    "atomics": ("threads",),
    "bulk-memory": ("bulk-memory",),
    "bulk-memory-opt": ("bulk-memory-opt", "bulk-memory"),
    "call-indirect-overlong": ("call-indirect-overlong",),
    "exception-handling": ("exception-handling",),
    "extended-const": ("extended-const",),
    "fp16": ("fp16",),
    "multimemory": ("multimemory",),
    "multivalue": ("multivalue",),
    "mutable-globals": ("mutable-globals",),
    "nontrapping-fptoint": ("nontrapping-float-to-int",),
    "reference-types": ("reference-types",),
    "relaxed-simd": ("relaxed-simd",),
    "sign-ext": ("sign-ext",),
    "simd128": ("simd",),
    "tail-call": ("tail-call",),
}


def feature_flags(features: Sequence[str], wasm_opt: WasmOpt) -> list[str]:
    """``--enable-*`` flags for *features* that this wasm-opt understands."""
    flags: list[str] = []
    for feature in features:
        for candidate in FEATURE_FLAGS.get(feature, (feature,)):
            if candidate in wasm_opt.features:
                flag = f"--enable-{candidate}"
                if flag not in flags:
                    flags.append(flag)
                break
        else:
            log.info("wasm-opt %s has no flag for feature %r; left to its defaults", wasm_opt.version, feature)
    return flags


def optimize(plan: BuildPlan, wasm_opt: WasmOpt, compiled: CompiledModule) -> bytes:
    """The module after ``wasm-opt -<opt_level>``, its name section kept and updated.

    ``-g`` only keeps the names; the code is the same as without it (checked: the stripped
    outputs are byte-identical), so the caller can strip names after reading them.
    """
    flags = feature_flags(compiled.features, wasm_opt)
    with tempfile.TemporaryDirectory(prefix="wasm-ext-opt-") as tmp:
        src, dst = Path(tmp, "in.wasm"), Path(tmp, "out.wasm")
        write(src, compiled.named)
        run(
            [*wasm_opt.argv, "-g", f"-{plan.opt_level}", *flags, str(src), "-o", str(dst)],
            error=WasmCompileError,
            what=f"{plan.name}: wasm-opt",
        )
        return dst.read_bytes()
