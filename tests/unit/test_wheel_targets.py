"""``wasm-ext precompile`` and ``merge`` on wheels zipped from WAT-built packages.

What users rely on: precompile adds this host's artifacts and nothing else changes (bytes,
dates, modes), twice is a no-op, the result is reproducible and its RECORD valid; a wheel
changed after its build is refused; merge joins artifacts of other hosts and refuses,
naming the file, wheels of different builds; the runtime picks this host's artifact among
several. Another host's artifact is made here by hand (the aarch64 one is real in the e2e test).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support.wat import Package, make_package, unique_package
from support.wheels import infos, members, zip_wheel

from wasm_ext.cli import main
from wasm_ext.runtime import wasmtime_engine
from wasm_ext.runtime.manifest import Artifact, Manifest
from wasm_ext.wheel_file import Wheel, WheelError, record_hash
from wasm_ext.wheel_targets import merge, modules, precompile

HOST = wasmtime_engine.host_target()
OTHER = "aarch64-unknown-linux-gnu" if HOST != "aarch64-unknown-linux-gnu" else "x86_64-unknown-linux-gnu"
pytestmark = pytest.mark.skipif(HOST is None, reason="no known wasmtime target for this host")


@pytest.fixture
def package(tmp_path: Path) -> Package:
    return make_package(tmp_path / "p", unique_package("whl"), precompile=False)


@pytest.fixture
def bare_wheel(package: Package, tmp_path: Path) -> Path:
    """A wheel whose module has no precompiled artifact."""
    return zip_wheel(package.site, tmp_path / "bare")


def _manifest(wheel: Path, package: Package) -> Manifest:
    return Manifest.parse(members(wheel)[f"{package.name}/kernels.wasm-manifest.json"], str(wheel))


def _rewrite(wheel: Path, out: Path, edit: dict[str, bytes]) -> Path:
    """*wheel* with the members in *edit* replaced or added (RECORD made valid again), at *out*."""
    w = Wheel.read(wheel)
    for name, data in edit.items():
        w.put(name, data, after=w.names()[0])
    w.write(out / wheel.name)
    return out / wheel.name


def _with_foreign_artifact(wheel: Path, package: Package, out: Path, data: bytes = b"\0asm other host") -> Path:
    """*wheel* as if also precompiled on another host (an artifact for OTHER, listed in the manifest)."""
    manifest = _manifest(wheel, package)
    foreign = Artifact(f"kernels.{OTHER}.cwasm", OTHER, "50.0.1", "f" * 16, hashlib.sha256(data).hexdigest(), len(data))
    edited = manifest._replace(precompiled=(*manifest.precompiled, foreign))
    return _rewrite(
        wheel,
        out,
        {
            f"{package.name}/{foreign.file}": data,
            f"{package.name}/kernels.wasm-manifest.json": edited.dumps().encode(),
        },
    )


# -- precompile ----------------------------------------------------------------------------


def test_precompile_adds_this_hosts_artifacts_and_changes_nothing_else(bare_wheel: Path, package: Package) -> None:
    before, before_infos = members(bare_wheel), infos(bare_wheel)
    written, done = precompile(bare_wheel, bare_wheel.parent / "out")
    assert written == bare_wheel.parent / "out" / bare_wheel.name
    after, after_infos = members(written), infos(written)

    added = sorted(set(after) - set(before))
    assert added == sorted(f"{package.name}/kernels.{HOST}{tag}.cwasm" for tag in ("", ".sandbox"))
    assert [a.file for a in done if not a.kept] == [n.rpartition("/")[2] for n in sorted(added)]
    manifest = _manifest(written, package)
    assert {(a.file, a.target, a.sha256) for a in manifest.precompiled} == {
        (n.rpartition("/")[2], HOST, hashlib.sha256(after[n]).hexdigest()) for n in added
    }
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {f"{package.name}/kernels.wasm-manifest.json", "pkg-1.0.dist-info/RECORD"}
    for name in before:  # every member keeps its date, mode and compression
        a, b = before_infos[name], after_infos[name]
        assert (a.date_time, a.external_attr, a.compress_type) == (b.date_time, b.external_attr, b.compress_type)
    wasm_info = after_infos[f"{package.name}/kernels.wasm"]
    assert all(after_infos[n].date_time == wasm_info.date_time for n in added)  # no clock time gets in
    Wheel.read(written)  # its RECORD matches every file
    # artifacts sit after the module's other files, RECORD stays last
    assert list(after)[-1] == "pkg-1.0.dist-info/RECORD"
    assert list(after).index(added[0]) == list(after).index(f"{package.name}/kernels.wasm") + 1


def test_precompile_twice_changes_nothing_and_is_reproducible(
    bare_wheel: Path, package: Package, tmp_path: Path
) -> None:
    once, _ = precompile(bare_wheel, tmp_path / "once")
    data = once.read_bytes()
    _, again = precompile(once)  # in place
    assert all(a.kept for a in again)
    assert once.read_bytes() == data
    other, _ = precompile(bare_wheel, tmp_path / "other")
    assert other.read_bytes() == data


def test_precompile_replaces_the_input_by_default(bare_wheel: Path) -> None:
    written, _ = precompile(bare_wheel)
    assert written == bare_wheel
    assert any(n.endswith(".cwasm") for n in members(bare_wheel))


def test_precompiled_wheel_loads_precompiled(bare_wheel: Path, package: Package, tmp_path: Path) -> None:
    foreign = _with_foreign_artifact(bare_wheel, package, tmp_path / "foreign")
    written, _ = precompile(foreign, tmp_path / "both")
    site = tmp_path / "site"
    with zipfile.ZipFile(written) as zf:
        zf.extractall(site)
    code = f"import {package.module_name} as k; assert k.add(2, 3) == 5; print(k._module.loaded_from)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=site, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "precompiled"  # this host's artifact, not the other's


def test_precompile_refuses_a_changed_module(bare_wheel: Path, package: Package, tmp_path: Path) -> None:
    wasm = members(bare_wheel)[f"{package.name}/kernels.wasm"]
    changed = _rewrite(bare_wheel, tmp_path / "changed", {f"{package.name}/kernels.wasm": wasm + b"\0"})
    with pytest.raises(WheelError, match=r"kernels\.wasm: does not match the sha256 its manifest recorded"):
        precompile(changed)


def test_precompile_refuses_a_wheel_that_does_not_match_its_record(bare_wheel: Path, tmp_path: Path) -> None:
    broken = tmp_path / bare_wheel.name
    with zipfile.ZipFile(bare_wheel) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data + b"# edited\n" if info.filename.endswith("kernels.py") else data)
    with pytest.raises(WheelError, match=r"kernels\.py does not match its hash or size in .*RECORD"):
        precompile(broken)


def test_precompile_refuses_a_wheel_without_modules(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "plain").mkdir(parents=True)
    (site / "plain" / "__init__.py").write_text("")
    with pytest.raises(WheelError, match="holds no setuptools-wasm module"):
        precompile(zip_wheel(site, tmp_path / "w"))


# -- merge ---------------------------------------------------------------------------------


def test_merge_joins_artifacts_of_every_host(bare_wheel: Path, package: Package, tmp_path: Path) -> None:
    here, _ = precompile(bare_wheel, tmp_path / "here")
    there = _with_foreign_artifact(bare_wheel, package, tmp_path / "there")
    for order in ((here, there), (there, here)):
        out = tmp_path / f"merged-{order[0].parent.name}"
        written, artifacts = merge(list(order), out)
        assert {a.target for a in artifacts} == {HOST, OTHER}
        manifest = _manifest(written, package)
        assert sorted(a.file for a in manifest.precompiled) == sorted(
            [f"kernels.{HOST}.cwasm", f"kernels.{HOST}.sandbox.cwasm", f"kernels.{OTHER}.cwasm"]
        )
        (module,) = modules(Wheel.read(written))  # hashes and RECORD hold
        assert module.manifest == manifest
    # merging the result again with either input changes nothing
    merged = tmp_path / "merged-here" / here.name
    again, _ = merge([merged, there], tmp_path / "again")
    assert again.read_bytes() == merged.read_bytes()


def test_merge_refuses_wheels_of_different_builds(bare_wheel: Path, package: Package, tmp_path: Path) -> None:
    here, _ = precompile(bare_wheel, tmp_path / "here")
    stub = f"{package.name}/kernels.py"
    edited = _rewrite(here, tmp_path / "edited", {stub: members(here)[stub] + b"\n"})
    with pytest.raises(WheelError, match=rf"edited/pkg-1.0-py3-none-any.whl!{stub}: differs from"):
        merge([here, edited], tmp_path / "out")

    manifest = _manifest(here, package)
    other_limit = manifest._replace(max_size=12345)
    name = f"{package.name}/kernels.wasm-manifest.json"
    limits = _rewrite(here, tmp_path / "limits", {name: other_limit.dumps().encode()})
    with pytest.raises(WheelError, match=rf"!{name}: differs from"):
        merge([here, limits], tmp_path / "out")

    extra = _rewrite(here, tmp_path / "extra", {f"{package.name}/notes.txt": b"x"})
    with pytest.raises(WheelError, match=rf"extra/pkg-1.0-py3-none-any.whl!{package.name}/notes.txt: only in this"):
        merge([here, extra], tmp_path / "out")

    renamed = tmp_path / "renamed" / "pkg-2.0-py3-none-any.whl"
    renamed.parent.mkdir()
    renamed.write_bytes(here.read_bytes())
    with pytest.raises(WheelError, match="its name differs"):
        merge([here, renamed], tmp_path / "out")

    with pytest.raises(WheelError, match="two or more wheels"):
        merge([here], tmp_path / "out")


def test_merge_refuses_two_different_artifacts_for_one_target(
    bare_wheel: Path, package: Package, tmp_path: Path
) -> None:
    one = _with_foreign_artifact(bare_wheel, package, tmp_path / "one", b"\0asm one")
    two = _with_foreign_artifact(bare_wheel, package, tmp_path / "two", b"\0asm two")
    with pytest.raises(
        WheelError, match=rf"two/pkg-1.0-py3-none-any.whl!{package.name}/kernels.{OTHER}.cwasm: differs"
    ):
        merge([one, two], tmp_path / "out")


def test_merge_refuses_an_artifact_that_does_not_match_its_manifest(
    bare_wheel: Path, package: Package, tmp_path: Path
) -> None:
    here, _ = precompile(bare_wheel, tmp_path / "here")
    name = f"{package.name}/kernels.{HOST}.cwasm"
    tampered = _rewrite(here, tmp_path / "tampered", {name: members(here)[name][:-1] + b"\x01"})
    with pytest.raises(WheelError, match=rf"!{name}: does not match the sha256"):
        merge([here, tampered], tmp_path / "out")


# -- the command line ----------------------------------------------------------------------


def test_cli_precompile_and_merge(
    bare_wheel: Path, package: Package, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["precompile", str(bare_wheel), "-o", str(tmp_path / "here")]) == 0
    out = capsys.readouterr().out
    assert f"added {package.module_name}: {HOST} kernels.{HOST}.cwasm (" in out
    assert f"wrote {tmp_path / 'here' / bare_wheel.name}" in out
    assert main(["precompile", str(tmp_path / "here" / bare_wheel.name)]) == 0
    assert "unchanged" in capsys.readouterr().out

    there = _with_foreign_artifact(bare_wheel, package, tmp_path / "there")
    assert main(["merge", str(tmp_path / "here" / bare_wheel.name), str(there), "-o", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert f"{OTHER}: kernels.{OTHER}.cwasm (15 bytes)" in out and f"{HOST}: kernels.{HOST}.cwasm" in out

    changed = _rewrite(bare_wheel, tmp_path / "changed", {f"{package.name}/kernels.wasm": b"\0asm"})
    assert main(["precompile", str(changed)]) == 2
    assert "does not match the sha256 its manifest recorded" in capsys.readouterr().err
    assert main(["precompile", str(tmp_path / "missing.whl")]) == 2
    assert "not a readable wheel" in capsys.readouterr().err


def test_record_hash_is_the_wheel_format() -> None:
    # PEP 376: urlsafe base64 of the sha256 digest, without padding
    assert record_hash(b"") == "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
    assert json.dumps(record_hash(b"x")).count("=") == 1
