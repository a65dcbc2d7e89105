"""Shared fixtures, and the test layers as markers derived from where a test is and what it uses.

``tests/unit`` needs no C compiler, wasm-opt, node or browser (wasmtime is allowed);
``tests/integration`` builds with the real toolchain; ``tests/e2e`` runs pip in fresh
virtual environments, Pyodide under Node and a browser. Each test gets the marker of
its layer, and markers for what its fixtures need (``toolchain``, ``node``), so
``-m "not e2e"`` or ``-m "not toolchain"`` select by need; a unit test that asks for
a toolchain fixture is a collection error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from support.aarch64 import Aarch64
from support.building import REPO, Builder, Built, build_example

# the suite builds without wasm-opt on purpose: keep its warnings off the developer's terminal
os.environ.setdefault("WASM_EXT_NO_TTY", "1")

LAYERS = ("unit", "integration", "e2e")
# fixture -> the marker a test using it gets
NEEDS = {
    "builder": "toolchain",
    "build_c": "toolchain",
    "example_site": "toolchain",
    "plugin_wheel": "toolchain",
    "example_wheel": "toolchain",
    "node": "node",
    "chromium": "browser",
    "aarch64": "aarch64",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        layer = Path(str(item.fspath)).relative_to(tests).parts[0]
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))
        needs = {NEEDS[f] for f in getattr(item, "fixturenames", ()) if f in NEEDS}
        if layer == "unit" and needs:
            raise pytest.UsageError(
                f"{item.nodeid}: a unit test must not need {sorted(needs)} (move it to integration/)"
            )
        for need in sorted(needs):
            item.add_marker(getattr(pytest.mark, need))


@pytest.fixture(autouse=True)
def _module_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own cache of run-time compiled modules."""
    cache = tmp_path / "module-cache"
    monkeypatch.setenv("WASM_EXT_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def builder(tmp_path_factory: pytest.TempPathFactory) -> Builder:
    """The session's builder: each distinct C snippet is built once (see ``support.building``)."""
    return Builder(tmp_path_factory.mktemp("built"))


@pytest.fixture
def build_c(builder: Builder) -> Callable[..., Built]:
    """``build_c(source, filename="kernels.c", fresh=False, **WasmExtension options)`` -> :class:`Built`."""
    return builder.build


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding ``wasm_example`` built by the real pipeline (once per session)."""
    return build_example(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="session")
def plugin_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin built as a wheel once per session, for builds under pip's isolation."""
    out = tmp_path_factory.mktemp("plugin-wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def example_wheel(plugin_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project's wheel, built by pip under build isolation as a user would (once per session)."""
    from support.building import copy_example

    tmp = tmp_path_factory.mktemp("example-wheel")
    project = copy_example(tmp)
    out = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--find-links", str(plugin_wheel)]
        + ["-w", str(out), str(project)],
        check=True,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture
def fresh_python(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``fresh_python(code, cwd=..., **env)``: run *code* in a new interpreter, output captured."""
    import os
    import textwrap

    def run(code: str, *, cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **env},
            check=False,
        )

    return run


@pytest.fixture
def clean_modules() -> Iterator[Callable[[str], None]]:
    """``forget(prefix)``: drop imported modules under *prefix* now and after the test."""
    prefixes: list[str] = []

    def forget(prefix: str) -> None:
        prefixes.append(prefix)
        _drop(prefix)

    yield forget
    for prefix in prefixes:
        _drop(prefix)


def _drop(prefix: str) -> None:
    for name in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
        del sys.modules[name]


@pytest.fixture(scope="session")
def node() -> str:
    """Node.js with Pyodide from node_modules (``make setup`` installs both)."""
    import shutil

    found = shutil.which("node")
    if found is None or not (REPO / "node_modules" / "pyodide" / "pyodide.mjs").exists():
        pytest.fail("Node.js and node_modules/pyodide are needed: run `make setup` (it runs `npm ci`)")
    return found


@pytest.fixture(scope="session")
def chromium() -> str:
    """A Chromium binary for the browser test; skipped, saying why, where there is none."""
    import os
    import shutil

    for candidate in (os.environ.get("CHROMIUM"), "/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip(
        "no Chromium here, so the browser demo test cannot run: install Debian's `chromium` "
        "(`make setup` tries `apt-get install chromium`) or set CHROMIUM to a Chromium binary"
    )


@pytest.fixture(scope="session")
def aarch64() -> Aarch64:
    """An aarch64 Python under qemu-user; skipped, saying why, where
    ``make aarch64`` could not prepare one."""
    from support.aarch64 import find

    found, reason = find()
    if found is None:
        pytest.skip(f"no aarch64 Python under qemu-user, so this test cannot run: {reason}")
    return found


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"layers: {', '.join(LAYERS)}; fixture markers: {', '.join(sorted(set(NEEDS.values())))}"]
