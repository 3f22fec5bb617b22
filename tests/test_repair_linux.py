"""Linux repair, proven by installing the result in a fresh venv with the libraries gone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fixturelib.linux import LinuxFixture, build_linux_fixture
from venvs import clean_env, fresh_venv, loaded_libraries, pip_install

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.binary import read_binary
from mwheel.cli import main
from mwheel.errors import RepairError
from mwheel.policies import linux_policies
from mwheel.repair import repair_wheel
from mwheel.repair.model import RepairOptions

ALLOWED = linux_policies()["manylinux"][-1].libraries


@pytest.fixture(params=["own", "patchelf"])
def elf_editor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with mwheel's own ELF editor and with patchelf (MWHEEL_ELF_EDITOR)."""
    editor = str(request.param)
    if editor == "patchelf" and shutil.which("patchelf") is None:
        pytest.skip("patchelf is not installed")
    monkeypatch.setenv("MWHEEL_ELF_EDITOR", editor)
    return editor


def prove_import(fx: LinuxFixture, wheel: Path, tmp_path: Path) -> set[str]:
    """Install ``wheel``, move the fixture's library dirs away, import, call, read maps."""
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, wheel)
    venv = (tmp_path / "venv").resolve()
    for d in fx.lib_dirs:
        d.rename(d.with_name(d.name + ".moved"))
    try:
        code = (
            f"import {fx.module}; value = {fx.call}; "
            f"assert value == {fx.expected!r}, value; "
            "print(open('/proc/self/maps').read())"
        )
        proc = subprocess.run(
            [str(python), "-c", code],
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd=tmp_path,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
    finally:
        for d in fx.lib_dirs:
            d.with_name(d.name + ".moved").rename(d)
    loaded = loaded_libraries(proc.stdout)
    base = Path(sys.base_prefix).resolve()
    for lib in loaded:
        path = Path(lib).resolve()
        inside = path.is_relative_to(venv) or path.is_relative_to(base)
        assert inside or os.path.basename(lib) in ALLOWED, f"{lib} loaded from outside"
    return loaded


@pytest.mark.slow
@pytest.mark.parametrize("name", ["runpath", "chain", "absrpath", "newergraft", "system"])
def test_repaired_wheel_imports_without_original_libraries(
    name: str, tmp_path: Path, elf_editor: str
) -> None:
    fx = build_linux_fixture(name, tmp_path / "fx")
    result = repair_wheel(fx.wheel, tmp_path / "out")
    assert result.output is not None and result.output.exists()
    assert result.report.compliant
    loaded = prove_import(fx, result.output, tmp_path)
    for graft in result.plan.grafts:
        assert any(os.path.basename(p) == graft.new_name for p in loaded), graft


def test_plan_names_grafts_and_runpaths(tmp_path: Path, elf_editor: str) -> None:
    fx = build_linux_fixture("chain", tmp_path / "fx")
    result = repair_wheel(fx.wheel, tmp_path / "out")
    assert result.plan.platform_tags == ("manylinux_2_5_x86_64", "manylinux1_x86_64")
    names = sorted(g.name for g in result.plan.grafts)
    assert names == ["libmwinner.so", "libmwouter.so"]
    assert result.output is not None
    with zipfile.ZipFile(result.output) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    for graft in result.plan.grafts:
        assert graft.member.startswith("mwfix_chain.libs/")
        lib = read_binary(graft.member, members[graft.member])
        assert lib.elf is not None and lib.elf.soname == graft.new_name
        assert graft.new_name.startswith(graft.name.split(".so")[0] + "-")
    ext = next(n for n in members if n.startswith("mwfix_chain/_ext"))
    binary = read_binary(ext, members[ext])
    assert binary.elf is not None
    assert binary.elf.runpath == ("$ORIGIN/../mwfix_chain.libs",)
    assert binary.elf.rpath == ()
    assert not any(p.startswith("/") for p in binary.elf.runpath)
    sbom = json.loads(members["mwfix_chain-1.0.dist-info/sboms/mwheel.cdx.json"])
    assert sorted(c["name"] for c in sbom["components"]) == names


def test_dishonest_manylinux2014_tag_is_dropped(tmp_path: Path) -> None:
    fx = build_linux_fixture("newglibc", tmp_path / "fx")
    result = repair_wheel(fx.wheel, tmp_path / "out")
    assert result.plan.platform_tags == ("manylinux_2_36_x86_64",)
    assert any(
        "dropped claimed tag manylinux_2_17_x86_64" in n and "GLIBC_2.36" in n
        for n in result.plan.notes
    )
    with pytest.raises(RepairError, match="arc4random_uniform"):
        repair_wheel(fx.wheel, tmp_path / "out2", RepairOptions(plat="manylinux2014_x86_64"))


def test_graft_needing_newer_glibc_raises_the_tag(tmp_path: Path) -> None:
    fx = build_linux_fixture("newergraft", tmp_path / "fx")
    before = audit_wheel(fx.wheel)
    assert before.repair_tag == "manylinux_2_36_x86_64"
    result = repair_wheel(fx.wheel, tmp_path / "out")
    assert result.plan.platform_tags == ("manylinux_2_36_x86_64",)


def test_lib_path_and_exclude(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fx = build_linux_fixture("libpath", tmp_path / "fx")
    out = tmp_path / "out"
    assert main(["repair", "-w", str(out), str(fx.wheel)]) == 5
    assert "libmwpath.so" in capsys.readouterr().err
    assert main(["repair", "-w", str(out), "--lib-path", str(fx.lib_dirs[0]), str(fx.wheel)]) == 0
    repaired = next(out.glob("*.whl"))
    assert "manylinux_2_5" in repaired.name
    prove_import(fx, repaired, tmp_path / "p")
    excl = tmp_path / "excl"
    assert main(["repair", "-w", str(excl), "--exclude", "libmwpath*", str(fx.wheel)]) == 0
    with zipfile.ZipFile(next(excl.glob("*.whl"))) as zf:
        assert not [n for n in zf.namelist() if ".libs/" in n]


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fx = build_linux_fixture("runpath", tmp_path / "fx")
    out = tmp_path / "out"
    assert main(["repair", "--dry-run", "-w", str(out), str(fx.wheel)]) == 0
    text = capsys.readouterr().out
    assert "graft" in text and "libmwprivate" in text and "dry run" in text
    assert not out.exists() or not list(out.iterdir())
    assert main(["repair", "--dry-run", "--format", "json", "-w", str(out), str(fx.wheel)]) == 0
    doc = json.loads(capsys.readouterr().out)
    plan = doc["repairs"][0]["plan"]
    assert plan["grafts"][0]["name"] == "libmwprivate.so"
    assert plan["platform_tags"] == ["manylinux_2_5_x86_64", "manylinux1_x86_64"]


def test_repair_is_idempotent_and_deterministic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    fx = build_linux_fixture("chain", tmp_path / "fx")
    first = repair_wheel(fx.wheel, tmp_path / "a").output
    second = repair_wheel(fx.wheel, tmp_path / "b").output
    assert first is not None and second is not None
    assert first.read_bytes() == second.read_bytes()
    again = repair_wheel(first, tmp_path / "c")
    assert again.plan.grafts == ()
    assert again.plan.platform_tags == ("manylinux_2_5_x86_64", "manylinux1_x86_64")


def test_unchanged_members_are_copied_not_recompressed(tmp_path: Path) -> None:
    fx = build_linux_fixture("runpath", tmp_path / "fx")
    out = repair_wheel(fx.wheel, tmp_path / "out", RepairOptions(compresslevel=0)).output
    assert out is not None
    with zipfile.ZipFile(fx.wheel) as a, zipfile.ZipFile(out) as b:
        init = "mwfix_runpath/__init__.py"
        assert a.getinfo(init).compress_size == b.getinfo(init).compress_size
        assert a.getinfo(init).compress_type == zipfile.ZIP_DEFLATED


@pytest.mark.slow
def test_script_in_data_scripts_is_repaired_and_runs(tmp_path: Path, elf_editor: str) -> None:
    fx = build_linux_fixture("script", tmp_path / "fx")
    result = repair_wheel(fx.wheel, tmp_path / "out")
    assert result.output is not None
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, result.output)
    for d in fx.lib_dirs:
        shutil.move(str(d), str(d) + ".moved")
    assert fx.script is not None
    proc = subprocess.run(
        [str(python.parent / fx.script)],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == fx.script_output


def test_repaired_wheel_is_audited_with_no_host_libraries(tmp_path: Path) -> None:
    fx = build_linux_fixture("system", tmp_path / "fx")
    result = repair_wheel(fx.wheel, tmp_path / "out")
    assert result.output is not None
    report = audit_wheel(result.output, AuditOptions(host_libs=False))
    assert report.compliant and report.external_libraries == {}
    assert report.best_tag == result.plan.platform_tags[0]


def test_top_level_extension_finds_its_grafts(tmp_path: Path, elf_editor: str) -> None:
    """An extension at the wheel's root: $ORIGIN is site-packages itself."""
    from fixturelib.wheels import make_wheel, wheel_members

    fx = build_linux_fixture("runpath", tmp_path / "fx")
    ext = next(d for n, d in wheel_members(fx.wheel).items() if n.endswith(".so"))
    wheel = make_wheel(
        tmp_path,
        "mwfix_top",
        "1.0",
        "cp311-cp311-linux_x86_64",
        {"_ext.cpython-311-x86_64-linux-gnu.so": ext},
    )
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.output is not None
    edit = next(e for e in result.plan.edits if e.member.startswith("_ext"))
    assert edit.rpaths == ("$ORIGIN/mwfix_top.libs",)
    after = audit_wheel(result.output, AuditOptions(host_libs=False))
    assert after.compliant
    assert not [f for f in after.findings if f.code.startswith("library-")], after.findings
    top = LinuxFixture(
        wheel=result.output,
        lib_dirs=fx.lib_dirs,
        module="_ext",
        call="_ext.value()",
        expected=fx.expected,
        tag=fx.tag,
    )
    prove_import(top, result.output, tmp_path / "p")


def test_libpython_dependency_is_removed(tmp_path: Path, elf_editor: str) -> None:
    from fixturelib.build import compile_c
    from fixturelib.wheels import make_wheel

    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "linux"
    fake = compile_c(
        [fixtures / "fake_libpython.c"],
        "libpython3.11.so.1.0",
        compiler="zig",
        target="x86_64-linux-gnu.2.17",
        include_python=False,
        soname="libpython3.11.so.1.0",
    )
    ext = compile_c(
        [fixtures / "clean.c"],
        "_ext.so",
        compiler="zig",
        target="x86_64-linux-gnu.2.17",
        extra_args=["-Wl,--no-as-needed", str(fake)],
    )
    wheel = make_wheel(
        tmp_path,
        "mwfix_clean",
        "1.0",
        "cp311-cp311-linux_x86_64",
        {
            "mwfix_clean/__init__.py": b"from ._ext import *  # noqa: F403\n",
            "mwfix_clean/_ext.cpython-311-x86_64-linux-gnu.so": ext,
        },
    )
    before = audit_wheel(wheel)
    assert "libpython-linked" in {f.code for f in before.findings}
    assert before.repair_tag == "manylinux_2_5_x86_64"
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.plan.platform_tags[0] == "manylinux_2_5_x86_64"
    assert result.output is not None
    after = audit_wheel(result.output)
    assert after.compliant and "libpython-linked" not in {f.code for f in after.findings}
    fx = LinuxFixture(
        wheel=result.output,
        lib_dirs=[],
        module="mwfix_clean",
        call="mwfix_clean.add(2, 3)",
        expected=5,
        tag="",
    )
    prove_import(fx, result.output, tmp_path / "p")
