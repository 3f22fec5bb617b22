"""Relative LC_RPATHs and install names: dyld resolves them against the current directory.

An LC_RPATH ``libs/`` (no ``@loader_path``) is what a build leaves when it links against a
build-tree directory: dyld looks under ``$PWD/libs``, so the extension loads only when run
from the build tree, never from the installed wheel, even if the wheel has a ``libs/``
directory of its own. Fixtures built with zig; delocate's own ``fakepkg_rpath`` wheel (from
the reference venv, skipped without it) is repaired from a directory holding its ``libs/``,
as delocate's ``test_fix_rpath`` does, and must graft the same two libraries.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fixturelib.macos import ARM64_11, dylib, extension
from fixturelib.wheels import make_wheel, wheel_members

from mwheel.audit import audit_wheel
from mwheel.binary.macho import read_macho
from mwheel.binary.model import MachOSlice
from mwheel.repair import repair_wheel

EXT = "mwrel/_ext.cpython-311-darwin.so"
DELOCATE_DATA = (
    Path(os.environ.get("MWHEEL_REF_VENV", "/opt/reftools"))
    / "lib/python3.11/site-packages/delocate/tests/data"
)


def _relative_rpath_wheel(dest: Path, ship: bool) -> tuple[Path, Path]:
    """(wheel, dylib): ``_ext`` loads @rpath/libmwrel.dylib with LC_RPATH ``libs/``; with
    ``ship`` the wheel also has ``libs/libmwrel.dylib`` at the root of site-packages."""
    lib = dylib("dep_lib.c", "libmwrel.dylib", ARM64_11, "@rpath/libmwrel.dylib")
    ext = extension("dep_ext.c", ARM64_11, [lib], ["-Wl,-rpath,libs/"])
    members: dict[str, bytes | Path] = {"mwrel/__init__.py": b"", EXT: ext}
    if ship:
        members["libs/libmwrel.dylib"] = lib
    wheel = make_wheel(dest, "mwrel", "1.0", "cp311-cp311-macosx_11_0_arm64", members)
    return wheel, lib


def _slice(wheel: Path) -> MachOSlice:
    binary = read_macho(EXT, wheel_members(wheel)[EXT])
    assert binary.macho is not None
    [s] = binary.macho.slices
    return s


def test_relative_rpath_never_reaches_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wheel's own libs/libmwrel.dylib is not where dyld looks (it looks in $PWD/libs):
    a warning naming the relative LC_RPATH; the repair points the load at the wheel's copy."""
    wheel, _ = _relative_rpath_wheel(tmp_path / "in", ship=True)
    monkeypatch.chdir(tmp_path)
    report = audit_wheel(wheel)
    [finding] = [f for f in report.findings if f.code == "library-not-on-search-path"]
    assert finding.severity == "warning" and "LC_RPATH libs/ is relative" in finding.message
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.output is not None and result.report.compliant and not result.plan.grafts
    s = _slice(result.output)
    assert s.rpaths == ()
    assert "@loader_path/../libs/libmwrel.dylib" in [ld.name for ld in s.loads]


def test_relative_rpath_not_found_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel, _ = _relative_rpath_wheel(tmp_path / "in", ship=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = audit_wheel(wheel)
    assert not report.compliant
    [finding] = [f for f in report.findings if f.severity == "error"]
    assert finding.code == "library-not-found" and finding.member == EXT
    assert "LC_RPATH libs/ is relative" in finding.message
    assert "current directory" in finding.message


def test_relative_rpath_found_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel, lib = _relative_rpath_wheel(tmp_path / "in", ship=False)
    build = tmp_path / "build"
    (build / "libs").mkdir(parents=True)
    shutil.copy(lib, build / "libs" / "libmwrel.dylib")
    monkeypatch.chdir(build)
    report = audit_wheel(wheel)
    found = str(build / "libs" / "libmwrel.dylib")
    assert report.external_libraries == {"@rpath/libmwrel.dylib": found}
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.output is not None and result.report.compliant
    [g] = result.plan.grafts
    assert g.member == "mwrel/.dylibs/libmwrel.dylib"
    s = _slice(result.output)
    assert s.rpaths == ()  # the current-directory rpath is dropped
    assert "@loader_path/.dylibs/libmwrel.dylib" in [ld.name for ld in s.loads]


@pytest.mark.skipif(not DELOCATE_DATA.is_dir(), reason="delocate's test data not installed")
def test_delocate_fakepkg_rpath(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """delocate's test_fix_rpath: run from a directory with ``libs/`` holding the two
    libraries, both are grafted, and module2 then loads its dependency from .dylibs."""
    (tmp_path / "libs").mkdir()
    for leaf in ("libextfunc_rpath.dylib", "libextfunc2_rpath.dylib"):
        shutil.copy(DELOCATE_DATA / leaf, tmp_path / "libs" / leaf)
    monkeypatch.chdir(tmp_path)
    wheel = DELOCATE_DATA / "fakepkg_rpath-1.0-cp37-abi3-macosx_10_9_universal2.whl"
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.output is not None
    stray = {g.source: g.member for g in result.plan.grafts}
    assert stray == {
        str(tmp_path / "libs" / "libextfunc_rpath.dylib"): "fakepkg/.dylibs/libextfunc_rpath.dylib",
        str(tmp_path / "libs" / "libextfunc2_rpath.dylib"): (
            "fakepkg/.dylibs/libextfunc2_rpath.dylib"
        ),
    }
    # module2 is x86_64 only: the universal2 claim becomes x86_64, as delocate's output name.
    assert result.plan.platform_tags == ("macosx_10_9_x86_64",)
    assert result.report.compliant


def test_bare_install_name_says_where_dyld_looks(tmp_path: Path) -> None:
    lib = dylib("dep_lib.c", "libmwbare.dylib", ARM64_11, "libmwbare.dylib")
    ext = extension("dep_ext.c", ARM64_11, [lib])
    wheel = make_wheel(
        tmp_path,
        "mwrel",
        "1.0",
        "cp311-cp311-macosx_11_0_arm64",
        {"mwrel/__init__.py": b"", EXT: ext},
    )
    [finding] = [f for f in audit_wheel(wheel).findings if f.severity == "error"]
    assert finding.code == "library-not-found"
    assert "libmwbare.dylib is a bare file name" in finding.message
    assert "DYLD_FALLBACK_LIBRARY_PATH" in finding.message
