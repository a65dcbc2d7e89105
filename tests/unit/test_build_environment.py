"""A build that cannot write (full disk or TMPDIR, read-only tree) names the file, the reason and the fix."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from setuptools import Distribution

from wasm_ext import WasmExtension
from wasm_ext.builder import pipeline
from wasm_ext.errors import BuildEnvironmentError, environment_error
from wasm_ext.setuptools_ext import finalize_distribution_options


def test_a_full_temporary_directory_says_to_set_tmpdir() -> None:
    path = os.path.join(tempfile.gettempdir(), "wasm-ext-opt-x", "in.wasm")
    error = environment_error(OSError(errno.ENOSPC, "No space left on device", path), "pkg.kernels")
    assert str(error) == (
        f"pkg.kernels: cannot write {path} (the temporary directory): no space left on the device; "
        f"free space in {tempfile.gettempdir()} or set TMPDIR to a directory with room"
    )


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.EROFS, "the file system is read-only"), (errno.EACCES, "permission denied"), (errno.EDQUOT, "quota")],
)
def test_the_build_directory_says_where_to_point_it(code: int, reason: str) -> None:
    path = Path("/srv/project/build/temp/kernels.o")  # not below the temporary directory
    message = str(environment_error(OSError(code, os.strerror(code), str(path)), "pkg.kernels"))
    assert message.startswith(f"pkg.kernels: cannot write {path} (the build directory): ")
    assert reason in message and message.endswith("point the build elsewhere (setuptools' --build-temp)")


def test_a_failed_write_without_a_file_name_names_both_places() -> None:
    message = str(environment_error(OSError(errno.ENOSPC, "No space left on device"), "pkg.kernels"))
    assert message == (
        "pkg.kernels: a write failed: no space left on the device; free space in the build directory and in "
        f"{tempfile.gettempdir()} (or set TMPDIR to a directory with room)"
    )


def test_write_names_the_file_a_failed_write_was_for(tmp_path: Path) -> None:
    from wasm_ext.builder.outputs import write

    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    with pytest.raises(OSError) as info:
        write(Path("/dev/full"), b"x" * 65536)  # open() works; write() fails with ENOSPC and no file name
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, "/dev/full")


def test_other_os_errors_are_left_as_they_are() -> None:
    assert environment_error(FileNotFoundError(errno.ENOENT, "No such file", "k.c"), "pkg.kernels") is None


def _build_ext(tmp_path: Path) -> Any:
    ext = WasmExtension("mypkg.kernels", sources=["k.c"])
    dist = Distribution({"name": "mypkg", "version": "1", "packages": [], "ext_modules": [ext]})
    dist.src_root = str(tmp_path)
    finalize_distribution_options(dist)
    command = dist.get_command_obj("build_ext")
    command.build_lib, command.build_temp = str(tmp_path / "lib"), str(tmp_path / "temp")
    command.ensure_finalized()
    return command


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.ENOENT])
def test_build_ext_turns_a_full_disk_into_a_build_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """Before: setuptools printed a bare ``error: [Errno 28] No space left on device: ...``."""
    where = str(tmp_path / "temp" / "wasm" / "mypkg.kernels" / "kernels.wasm")

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code), where)

    monkeypatch.setattr(pipeline, "make_plan", full_disk)  # inside build_extension, which explains it
    command = _build_ext(tmp_path)
    if code == errno.ENOSPC:
        with pytest.raises(
            BuildEnvironmentError,
            match=r"^mypkg.kernels: cannot write .*kernels.wasm \(the (temporary|build) directory\): no space",
        ):
            command.run()
    else:
        with pytest.raises(FileNotFoundError):  # not a question of room or rights: as it was
            command.run()
