"""Wheels zipped from a site directory, with a real RECORD, for tests of ``wasm-ext precompile``/``merge``.

Real ``pip wheel`` builds are covered end to end; here a package made by
:func:`support.wat.make_package` becomes a wheel with a fixed date (as under
``SOURCE_DATE_EPOCH``) and a RECORD in the format bdist_wheel writes.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from wasm_ext.wheel_file import record_hash

DATE = (2024, 1, 2, 3, 4, 6)


def zip_wheel(site: Path, out_dir: Path, name: str = "pkg", version: str = "1.0") -> Path:
    """``<out_dir>/<name>-<version>-py3-none-any.whl`` of every file under *site*."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{name}-{version}-py3-none-any.whl"
    dist_info = f"{name}-{version}.dist-info"
    files = {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}
    files = {n: d for n, d in files.items() if "__pycache__" not in n}
    files[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for member, data in files.items():
        writer.writerow([member, record_hash(data), len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()
    with zipfile.ZipFile(wheel, "w") as zf:
        for member, data in files.items():
            info = zipfile.ZipInfo(member, DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return wheel


def members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def infos(wheel: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(wheel) as zf:
        return {info.filename: info for info in zf.infolist()}
