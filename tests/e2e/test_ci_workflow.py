"""The example's GitHub Actions workflow, run locally step by step; reproducible wheels."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support.building import REPO, copy_example
from support.venvs import Venv

pytestmark = pytest.mark.e2e
WORKFLOW = REPO / "example_project" / ".github" / "workflows" / "wasm-sizes.yml"


def _run_steps() -> list[dict[str, str]]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return [step for job in jobs.values() for step in job["steps"] if "run" in step]


def test_workflow_steps_pass_locally(plugin_wheel: Path, tmp_path: Path) -> None:
    steps = _run_steps()
    assert [s["name"] for s in steps] == [
        "Install wasm-opt",
        "Install the size tool",
        "Build the wheel",
        "Check module sizes against the baseline",
        "Size table on the job summary",
    ]
    project = copy_example(tmp_path)
    env_dir = Venv(tmp_path / "ci-venv").path / "bin"
    summary = tmp_path / "summary.md"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        "PATH": f"{env_dir}{os.pathsep}{os.environ['PATH']}",
        "PIP_FIND_LINKS": str(plugin_wheel),  # the package index here has no setuptools-wasm
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    assert shutil.which("wasm-opt", path=env["PATH"]), "the test command puts wasm-opt on PATH"
    for step in steps[1:]:  # wasm-opt is installed already (npm, by the Makefile)
        proc = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", step["run"]],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"step {step['name']!r} failed:\n{proc.stdout}\n{proc.stderr}"
        if step["name"].startswith("Check"):
            assert "ok   wasm_example.kernels:" in proc.stdout and "ok   wasm_example._logparse:" in proc.stdout
    table = summary.read_text().splitlines()
    assert table[0].startswith("| module | shipped B |")
    assert sorted(row.split(" | ")[0] for row in table[2:]) == ["| wasm_example._logparse", "| wasm_example.kernels"]

    # the check step fails, naming module and sizes, when the baseline says it was smaller
    (project / "wasm-sizes.json").write_text('{"format": 1, "modules": {"wasm_example.kernels": {"size": 1000}}}')
    check = next(s for s in steps if s["name"].startswith("Check"))
    proc = subprocess.run(
        ["bash", "-c", check["run"]], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1 and "FAIL wasm_example.kernels: grew from 1000 to" in proc.stdout


def test_same_inputs_give_a_byte_identical_wheel(plugin_wheel: Path, tmp_path: Path) -> None:
    builder = Venv(tmp_path / "builder")
    hashes = []
    for name in ("first", "second"):
        project = copy_example(tmp_path / name)
        out = tmp_path / name / "dist"
        os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
        try:
            builder.pip("wheel", "--no-deps", "--find-links", str(plugin_wheel), "-w", str(out), str(project))
        finally:
            del os.environ["SOURCE_DATE_EPOCH"]
        (wheel,) = out.glob("*.whl")
        hashes.append(hashlib.sha256(wheel.read_bytes()).hexdigest())
    assert hashes[0] == hashes[1]
