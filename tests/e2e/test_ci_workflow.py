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
WORKFLOWS = REPO / "example_project" / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "wasm-sizes.yml"
EVERY_PLATFORM = WORKFLOWS / "wheel.yml"


def _run_steps(workflow: Path = WORKFLOW, job: str | None = None) -> list[dict[str, str]]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    return [step for name, j in jobs.items() if job in (None, name) for step in j["steps"] if "run" in step]


def _ci_env(tmp_path: Path, plugin_wheel: Path) -> dict[str, str]:
    """What a runner gives the steps: a venv's Python first on PATH, the plugin's wheel to install from."""
    env_dir = Venv(tmp_path / "ci-venv").path / "bin"
    return {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "SOURCE_DATE_EPOCH")},
        "PATH": f"{env_dir}{os.pathsep}{os.environ['PATH']}",
        "PIP_FIND_LINKS": str(plugin_wheel),  # the package index here has no setuptools-wasm
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }


def _run(step: dict[str, str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"step {step['name']!r} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


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
    env = _ci_env(tmp_path, plugin_wheel)
    summary = Path(env["GITHUB_STEP_SUMMARY"])
    assert shutil.which("wasm-opt", path=env["PATH"]), "the test command puts wasm-opt on PATH"
    for step in steps[1:]:  # wasm-opt is installed already (npm, by the Makefile)
        proc = _run(step, project, env)
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


def test_every_platform_workflow_builds_precompiles_and_merges_locally(plugin_wheel: Path, tmp_path: Path) -> None:
    """wheel.yml's jobs in order, each runner's download laid out as actions/download-artifact does.

    Both runners here are this machine, so the merged wheel holds one target; the merge of
    two hosts' wheels is shown under qemu in test_platforms.py.
    """
    jobs = yaml.safe_load(EVERY_PLATFORM.read_text())["jobs"]
    assert jobs["precompile"]["strategy"]["matrix"]["os"] == [
        "ubuntu-latest",
        "ubuntu-24.04-arm",
        "macos-14",
        "windows-latest",
    ]
    project = copy_example(tmp_path)
    env = _ci_env(tmp_path, plugin_wheel)
    build = _run_steps(EVERY_PLATFORM, "build")
    assert [s["name"] for s in build] == ["Install wasm-opt", "Build the wheel"]
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "checkout"], cwd=project, check=True)
    _run(build[1], project, env)  # SOURCE_DATE_EPOCH from the commit
    (built,) = (project / "dist").glob("*.whl")
    shutil.move(str(built), tmp_path / built.name)  # the upload; the merge job starts with no dist/
    built = tmp_path / built.name

    for runner in ("ubuntu-latest", "second-runner"):
        workdir = tmp_path / runner
        (workdir / "dist").mkdir(parents=True)
        shutil.copy(built, workdir / "dist")
        for step in _run_steps(EVERY_PLATFORM, "precompile"):
            out = _run(step, workdir, env).stdout
        assert "unchanged precompiled/" in out  # the build runner's own artifacts are there already
        target = project / "precompiled" / f"precompiled-{runner}"
        target.mkdir(parents=True)
        shutil.copy(workdir / "precompiled" / built.name, target)

    merge = _run_steps(EVERY_PLATFORM, "merge")
    assert [s["name"] for s in merge] == [
        "Install the tools",
        "Merge the runners' wheels",
        "Check module sizes against the baseline",
        "Size table on the job summary",
    ]
    for step in merge:
        proc = _run(step, project, env)
        if step["name"].startswith("Check"):
            assert "ok   wasm_example.kernels:" in proc.stdout
    (merged,) = (project / "dist").glob("*.whl")
    assert merged.name == built.name
    assert merged.read_bytes() == built.read_bytes()  # nothing to add: one host's artifacts, already there
    assert "precompiled B" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()
