"""win_arm64 wheels, cross-compiled with zig (``aarch64-windows-gnu``), and machine edge cases.

The same extension -> priv_outer.dll -> priv_inner.dll chain as the x86_64 and x86 tests:
an arm64 wheel is repaired with arm64 DLLs, never with DLLs of another machine found on the
library path, and a PE file of another machine in the wheel is named in the finding.
ARM64EC code (machine 0xA641) loads only into emulated x64 processes: not win_arm64.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from fixturelib.wheels import make_wheel, wheel_members
from fixturelib.windows import WindowsFixture, build_chain, build_windows_fixture

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.binary.pe import read_pe
from mwheel.repair import repair_wheel


@pytest.fixture(scope="module")
def arm64(tmp_path_factory: pytest.TempPathFactory) -> WindowsFixture:
    return build_windows_fixture(tmp_path_factory.mktemp("arm64"), "arm64")


def test_arm64_repair(arm64: WindowsFixture, tmp_path: Path) -> None:
    result = repair_wheel(
        arm64.wheel, tmp_path, audit_options=AuditOptions(lib_paths=(arm64.lib_dir,))
    )
    assert result.output is not None and result.output.name.endswith("-win_arm64.whl")
    assert result.report.compliant
    members = wheel_members(result.output)
    grafts = [m for m in members if m.startswith("winext.libs/")]
    assert len(grafts) == 2
    assert all(read_pe(m, members[m]).archs == ("arm64",) for m in grafts)


def test_arm64_wheel_ignores_x86_64_dlls_on_the_library_path(
    arm64: WindowsFixture, tmp_path: Path
) -> None:
    x64 = build_windows_fixture(tmp_path, "x86_64")
    report = audit_wheel(arm64.wheel, AuditOptions(lib_paths=(x64.lib_dir,)))
    assert not report.compliant
    assert report.external_libraries == {"priv_outer.dll": None}


def test_foreign_machine_in_the_wheel_is_named(arm64: WindowsFixture, tmp_path: Path) -> None:
    x64_outer = build_chain("x86_64")["priv_outer.dll"]
    members: dict[str, bytes | Path] = {
        name: data for name, data in wheel_members(arm64.wheel).items() if ".dist-info/" not in name
    }
    members["winext/priv_outer.dll"] = x64_outer
    wheel = make_wheel(tmp_path, "winext", "1.0", "cp311-cp311-win_arm64", members)
    report = audit_wheel(wheel)
    [finding] = [f for f in report.findings if f.code == "architecture-mismatch"]
    assert finding.member == "winext/priv_outer.dll" and finding.severity == "error"
    assert "is x86_64, the wheel is for arm64 (win_arm64)" in finding.message


def test_arm64ec_is_not_arm64(arm64: WindowsFixture, tmp_path: Path) -> None:
    """The arm64 extension with its COFF machine set to ARM64EC (0xA641)."""
    name = arm64.extension
    data = bytearray(wheel_members(arm64.wheel)[name])
    at = struct.unpack_from("<I", data, 60)[0]
    struct.pack_into("<H", data, at + 4, 0xA641)
    assert read_pe(name, bytes(data)).archs == ("arm64ec",)
    wheel = make_wheel(
        tmp_path,
        "winext",
        "1.0",
        "cp311-cp311-win_arm64",
        {"winext/__init__.py": b"", name: bytes(data)},
    )
    report = audit_wheel(wheel, AuditOptions(lib_paths=(arm64.lib_dir,)))
    assert not report.compliant
    assert any(
        f.code == "architecture-mismatch" and "arm64ec" in f.message for f in report.findings
    )


def test_unused_foreign_launcher_is_a_warning(tmp_path: Path) -> None:
    """setuptools' launchers vendored into a platform wheel: an arm64 .exe and an x86 .exe in
    a win_amd64 wheel are files nothing loads (a warning); the wheel stays compliant."""
    from fixturelib.pypi import pinned_wheel

    launchers = wheel_members(pinned_wheel("macwin-real", "setuptools==70.0.0"))
    fx = build_windows_fixture(tmp_path / "fx", "x86_64")
    members: dict[str, bytes | Path] = {
        name: data for name, data in wheel_members(fx.wheel).items() if ".dist-info/" not in name
    }
    members["winext/_vendor/cli-arm64.exe"] = launchers["setuptools/cli-arm64.exe"]
    members["winext/_vendor/cli-32.exe"] = launchers["setuptools/cli-32.exe"]
    wheel = make_wheel(tmp_path, "winext", "1.0", "cp311-cp311-win_amd64", members)
    report = audit_wheel(wheel, AuditOptions(lib_paths=(fx.lib_dir,)))
    mismatches = [f for f in report.findings if f.code == "architecture-mismatch"]
    assert {f.member for f in mismatches} == {
        "winext/_vendor/cli-arm64.exe",
        "winext/_vendor/cli-32.exe",
    }
    assert all(f.severity == "warning" for f in mismatches)
    # Only the external DLLs keep it from compliance, and a repair grafts them.
    result = repair_wheel(
        wheel, tmp_path / "out", audit_options=AuditOptions(lib_paths=(fx.lib_dir,))
    )
    assert result.report.compliant
