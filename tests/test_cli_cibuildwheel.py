"""cibuildwheel's default repair command of each peer, with the tool name replaced by
``mwheel repair``, on real Linux, macOS and Windows fixture wheels (compiled at test time).

cibuildwheel's defaults: ``auditwheel repair -w {dest_dir} {wheel}`` (Linux),
``delocate-wheel --require-archs {delocate_archs} -w {dest_dir} -v {wheel}`` (macOS) and,
as commonly configured, ``delvewheel repair -w {dest_dir} {wheel}`` (Windows, with
``--add-path`` for the DLLs' directory). One command line must also work for every
platform: an option that means nothing for a wheel's platform is a note, not an error.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from fixturelib.linux import LinuxFixture, build_linux_fixture
from fixturelib.macos import MacFixture, build_macos_fixture
from fixturelib.wheels import wheel_members
from fixturelib.windows import WindowsFixture, build_windows_fixture

from mwheel.audit import audit_wheel
from mwheel.cli import main

AUDITWHEEL = "auditwheel repair -w {dest_dir} {wheel}"
DELOCATE = "delocate-wheel --require-archs {delocate_archs} -w {dest_dir} -v {wheel}"
DELVEWHEEL = "delvewheel repair --add-path {dll_dir} -w {dest_dir} {wheel}"


def as_mwheel(template: str, **values: str) -> list[str]:
    """The peer's command line with its tool name (and subcommand) replaced by mwheel's."""
    words = shlex.split(template.format(**values))
    tool, rest = words[0], words[1:]
    if tool in ("auditwheel", "delvewheel"):
        rest = rest[1:]  # their "repair" subcommand
    return ["repair", *rest]


@pytest.fixture(scope="module")
def linux(tmp_path_factory: pytest.TempPathFactory) -> LinuxFixture:
    return build_linux_fixture("runpath", tmp_path_factory.mktemp("linux"))


@pytest.fixture(scope="module")
def mac(tmp_path_factory: pytest.TempPathFactory) -> MacFixture:
    return build_macos_fixture("universal2", tmp_path_factory.mktemp("mac"))


@pytest.fixture(scope="module")
def win(tmp_path_factory: pytest.TempPathFactory) -> WindowsFixture:
    return build_windows_fixture(tmp_path_factory.mktemp("win"))


def _only_output(dest: Path) -> Path:
    wheels = list(dest.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_auditwheel_default_command(linux: LinuxFixture, tmp_path: Path) -> None:
    argv = as_mwheel(AUDITWHEEL, dest_dir=str(tmp_path), wheel=str(linux.wheel))
    assert main(argv) == 0
    out = _only_output(tmp_path)
    assert "manylinux_2_5_x86_64" in out.name
    assert any(m.startswith("mwfix_runpath.libs/libmwprivate-") for m in wheel_members(out))
    assert audit_wheel(out).compliant


def test_delocate_default_command(
    mac: MacFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = as_mwheel(
        DELOCATE, delocate_archs="x86_64,arm64", dest_dir=str(tmp_path), wheel=str(mac.wheel)
    )
    argv[1:1] = [f"--lib-path={d}" for d in mac.lib_dirs]
    assert main(argv) == 0
    out = _only_output(tmp_path)
    assert out.name.endswith(f"{mac.repaired_tag}.whl")
    assert {f"{mac.package}/.dylibs/{g}" for g in mac.grafts} <= set(wheel_members(out))
    assert audit_wheel(out).compliant
    # -v: the audit of what was written is printed too.
    assert "audit of the output" in capsys.readouterr().out


def test_delocate_require_archs_it_cannot_meet(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thin = build_macos_fixture("thin", tmp_path_factory.mktemp("thin"))
    argv = as_mwheel(
        DELOCATE, delocate_archs="x86_64,arm64", dest_dir=str(tmp_path), wheel=str(thin.wheel)
    )
    argv[1:1] = [f"--lib-path={d}" for d in thin.lib_dirs]
    assert main(argv) == 6
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--require-archs" in err[0] and thin.wheel.name in err[0]
    assert not list(tmp_path.glob("*.whl"))


def test_delvewheel_common_command(win: WindowsFixture, tmp_path: Path) -> None:
    argv = as_mwheel(
        DELVEWHEEL, dll_dir=str(win.lib_dir), dest_dir=str(tmp_path), wheel=str(win.wheel)
    )
    assert main(argv) == 0
    out = _only_output(tmp_path)
    members = wheel_members(out)
    assert any(m.startswith("winext.libs/priv_outer-") for m in members)
    assert b"add_dll_directory" in members["winext/__init__.py"]
    assert audit_wheel(out).compliant


@pytest.mark.parametrize("template", [AUDITWHEEL, DELOCATE, DELVEWHEEL])
def test_one_command_line_for_every_platform(
    template: str,
    linux: LinuxFixture,
    mac: MacFixture,
    win: WindowsFixture,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each peer's command line, with the library directories of all three fixtures, repairs
    the three wheels in one call; options for another platform are noted, not refused."""
    dirs = [*linux.lib_dirs, *mac.lib_dirs, win.lib_dir]
    argv = as_mwheel(
        template,
        delocate_archs="x86_64,arm64",
        dll_dir=str(win.lib_dir),
        dest_dir=str(tmp_path),
        wheel=str(linux.wheel),
    )
    argv += [str(mac.wheel), str(win.wheel), *(f"--lib-path={d}" for d in dirs)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert len(list(tmp_path.glob("*.whl"))) == 3
    assert out.rstrip().endswith("3 wheels: 3 repaired, 0 failed")
    if "--require-archs" in template:
        assert "note: --require-archs is for macos wheels: ignored" in out
