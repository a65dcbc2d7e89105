"""The warning that reaches the terminal when pip captures the build's output."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from wasm_ext.builder import terminal


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.skipif(os.name != "posix", reason="/dev/tty is POSIX")
def test_written_to_the_terminal_only_when_stderr_is_captured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tty = tmp_path / "tty"
    tty.write_text("")
    monkeypatch.setattr(terminal, "TTY", str(tty))
    monkeypatch.delenv("WASM_EXT_NO_TTY", raising=False)
    monkeypatch.setattr("sys.stderr", _Tty())
    assert not terminal.warn("seen in the log already")
    monkeypatch.setattr("sys.stderr", _Pipe())  # as under pip
    assert terminal.warn("m: wasm-opt not found")
    assert tty.read_text() == "WARNING (setuptools-wasm): m: wasm-opt not found\n"
    monkeypatch.setenv("WASM_EXT_NO_TTY", "1")
    assert not terminal.warn("switched off")
    monkeypatch.delenv("WASM_EXT_NO_TTY")
    monkeypatch.setattr(terminal, "TTY", str(tmp_path / "missing" / "tty"))  # no controlling terminal
    assert not terminal.warn("nowhere to write")
    assert tty.read_text().count("WARNING") == 1
