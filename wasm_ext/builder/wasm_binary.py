"""A small reader for the WebAssembly binary format: just what the build checks need.

It lists imports, exports (with their function types) and custom sections, reads the
``target_features`` section, and drops custom sections (debug info, names, producers).
Being pure Python it needs no runtime, so the checks run before wasmtime is involved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAGIC = b"\0asm\x01\0\0\0"
VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}
EXTERN_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


class WasmFormatError(ValueError):
    """The bytes are not a WebAssembly module this reader understands."""


@dataclass(frozen=True)
class FuncType:
    params: tuple[str, ...]
    results: tuple[str, ...]

    def __str__(self) -> str:
        return f"({', '.join(self.params)}) -> ({', '.join(self.results)})"


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str
    type: FuncType | None = None  # for functions


@dataclass(frozen=True)
class Export:
    name: str
    kind: str
    index: int
    type: FuncType | None = None  # for functions


@dataclass
class WasmModule:
    imports: list[Import] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    custom_sections: dict[str, bytes] = field(default_factory=dict)

    def export(self, name: str) -> Export | None:
        return next((e for e in self.exports if e.name == name), None)

    @property
    def target_features(self) -> list[str]:
        """Features named in the ``target_features`` section with a ``+`` prefix (used)."""
        data = self.custom_sections.get("target_features")
        if data is None:
            return []
        reader = _Reader(data)
        features = []
        for _ in range(reader.uleb()):
            prefix = reader.byte()
            name = reader.name()
            if prefix == ord("+"):
                features.append(name)
        return features


class _Reader:
    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise WasmFormatError("unexpected end of data")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise WasmFormatError("LEB128 integer too long")

    def bytes(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise WasmFormatError("unexpected end of data")
        value = self.data[self.pos : self.pos + n]
        self.pos += n
        return value

    def name(self) -> str:
        try:
            return self.bytes(self.uleb()).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WasmFormatError("invalid UTF-8 in a name") from exc

    def valtype(self) -> str:
        code = self.byte()
        if code not in VALTYPES:
            raise WasmFormatError(f"unsupported value type 0x{code:02x}")
        return VALTYPES[code]

    def limits(self) -> None:
        flags = self.byte()
        self.uleb()
        if flags & 1:
            self.uleb()


def _sections(data: bytes) -> list[tuple[int, int, int]]:
    """(id, payload start, payload end) of every section, after checking the header."""
    if data[:8] != MAGIC:
        raise WasmFormatError("not a WebAssembly module (bad magic number or version)")
    reader = _Reader(data, 8)
    sections = []
    while reader.pos < len(data):
        section_id = reader.byte()
        size = reader.uleb()
        start = reader.pos
        if start + size > len(data):
            raise WasmFormatError(f"section {section_id} runs past the end of the module")
        sections.append((section_id, start, start + size))
        reader.pos = start + size
    return sections


def parse(data: bytes) -> WasmModule:
    """Read the imports, exports and custom sections of a module."""
    module = WasmModule()
    types: list[FuncType] = []
    func_types: list[int] = []  # type index of every function, imported ones first
    raw_exports: list[tuple[str, str, int]] = []
    for section_id, start, end in _sections(data):
        r = _Reader(data, start, end)
        if section_id == 0:
            name = r.name()
            module.custom_sections[name] = data[r.pos : end]
        elif section_id == 1:
            for _ in range(r.uleb()):
                if r.byte() != 0x60:
                    raise WasmFormatError("unsupported type section entry")
                params = tuple(r.valtype() for _ in range(r.uleb()))
                results = tuple(r.valtype() for _ in range(r.uleb()))
                types.append(FuncType(params, results))
        elif section_id == 2:
            for _ in range(r.uleb()):
                mod, name, kind_code = r.name(), r.name(), r.byte()
                ftype = None
                if kind_code == 0:
                    index = r.uleb()
                    func_types.append(index)
                    ftype = types[index] if index < len(types) else None
                elif kind_code == 1:
                    r.byte()
                    r.limits()
                elif kind_code == 2:
                    r.limits()
                elif kind_code == 3:
                    r.valtype()
                    r.byte()
                elif kind_code == 4:
                    r.byte()
                    r.uleb()
                else:
                    raise WasmFormatError(f"unknown import kind {kind_code}")
                module.imports.append(Import(mod, name, EXTERN_KINDS[kind_code], ftype))
        elif section_id == 3:
            func_types.extend(r.uleb() for _ in range(r.uleb()))
        elif section_id == 7:
            for _ in range(r.uleb()):
                name, kind_code, index = r.name(), r.byte(), r.uleb()
                if kind_code not in EXTERN_KINDS:
                    raise WasmFormatError(f"unknown export kind {kind_code}")
                raw_exports.append((name, EXTERN_KINDS[kind_code], index))
    for name, kind, index in raw_exports:
        ftype = None
        if kind == "func" and index < len(func_types) and func_types[index] < len(types):
            ftype = types[func_types[index]]
        module.exports.append(Export(name, kind, index, ftype))
    return module


def strip_custom_sections(data: bytes, keep: tuple[str, ...] = ()) -> bytes:
    """The module without custom sections (DWARF, names, producers, target features), but *keep*."""
    parts = [MAGIC]
    for section_id, start, end in _sections(data):
        if section_id == 0 and _Reader(data, start, end).name() not in keep:
            continue
        parts.append(bytes([section_id]) + _uleb_bytes(end - start))
        parts.append(data[start:end])
    return b"".join(parts)


def _uleb_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def function_names(module: WasmModule) -> dict[int, str]:
    """Function index -> name, from the ``name`` section (empty once it is stripped)."""
    data = module.custom_sections.get("name")
    names: dict[int, str] = {}
    if data is None:
        return names
    r = _Reader(data)
    while r.pos < r.end:
        subsection, size = r.byte(), r.uleb()
        end = r.pos + size
        if subsection == 1:
            for _ in range(r.uleb()):
                index = r.uleb()
                names[index] = r.name()
        r.pos = end
    return names


def function_sizes(data: bytes) -> dict[int, int]:
    """Function index -> size in bytes of its body in the code section (imports excluded)."""
    imported = sum(1 for i in parse(data).imports if i.kind == "func")
    sizes: dict[int, int] = {}
    for section_id, start, end in _sections(data):
        if section_id == 10:
            r = _Reader(data, start, end)
            for i in range(r.uleb()):
                size = r.uleb()
                if r.pos + size > end:
                    raise WasmFormatError(f"function body {i} runs past the end of the code section")
                sizes[imported + i] = size
                r.pos += size
    return sizes
