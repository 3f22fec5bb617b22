"""iOS wheels (PEP 730): SDK platform, architecture, minimum iOS, system libraries and the
framework layout's needs, on Mach-O files built with zig (fixturelib/ios.py)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from fixturelib.ios import as_ios, dep_pair, ios_wheel, plain_extension

from mwheel.audit import audit_wheel
from mwheel.cli import main
from mwheel.tags import PlatformTag


def _codes(report: object) -> list[str]:
    return [f.code for f in report.findings]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("arch", "sdk", "built", "best"),
    [
        ("arm64", "iphoneos", "13.0", "ios_13_0_arm64_iphoneos"),
        # arm64 simulators start at iOS 14: a slice built for 14.0 constrains no tag.
        ("arm64", "iphonesimulator", "14.0", "ios_13_0_arm64_iphonesimulator"),
        ("x86_64", "iphonesimulator", "13.0", "ios_13_0_x86_64_iphonesimulator"),
    ],
)
def test_zig_built_extensions_honour_their_tag(
    arch: str, sdk: str, built: str, best: str, tmp_path: Path
) -> None:
    wheel = ios_wheel(tmp_path, f"ios_13_0_{arch}_{sdk}", plain_extension(arch, sdk, built))
    report = audit_wheel(wheel)
    assert report.compliant, report.findings
    assert report.best_tag == best
    assert set(report.verdicts) == {"ios"}


def test_newer_minos_than_the_tag(tmp_path: Path) -> None:
    wheel = ios_wheel(
        tmp_path, "ios_13_0_arm64_iphoneos", plain_extension("arm64", "iphoneos", "15.0")
    )
    report = audit_wheel(wheel)
    assert _codes(report) == ["ios-version-too-high"]
    assert report.best_tag == "ios_15_0_arm64_iphoneos"


def test_simulator_binary_in_a_device_wheel(tmp_path: Path) -> None:
    ext = plain_extension("arm64", "iphonesimulator", "14.0")
    member_name = {"mwios/_ext.cpython-313-iphoneos.so": ext}
    wheel = ios_wheel(tmp_path, "ios_13_0_arm64_iphoneos", b"", member_name)
    report = audit_wheel(wheel)
    assert "ios-platform-mismatch" in _codes(report)
    assert not report.compliant


def test_x86_64_simulator_binary_in_an_arm64_wheel(tmp_path: Path) -> None:
    ext = plain_extension("x86_64", "iphonesimulator")
    report = audit_wheel(ios_wheel(tmp_path, "ios_13_0_arm64_iphonesimulator", ext))
    assert "architecture-mismatch" in _codes(report)


def test_macos_binary_in_an_ios_wheel(tmp_path: Path) -> None:
    _, ext = dep_pair("arm64", "@rpath/libmwiosdep.dylib")
    report = audit_wheel(ios_wheel(tmp_path, "ios_13_0_arm64_iphoneos", ext))
    mismatch = [f for f in report.findings if f.code == "ios-platform-mismatch"]
    assert mismatch and "macos" in mismatch[0].message


def test_bundled_dylib_is_fine_and_a_missing_one_is_not(tmp_path: Path) -> None:
    lib, ext = dep_pair("arm64", "@rpath/libmwiosdep.dylib")
    ios_ext = as_ios(ext.read_bytes(), "iphoneos", (13, 0))
    ios_lib = as_ios(lib.read_bytes(), "iphoneos", (13, 0))
    bundled = ios_wheel(
        tmp_path / "ok",
        "ios_13_0_arm64_iphoneos",
        ios_ext,
        {"mwios/.dylibs/libmwiosdep.dylib": ios_lib},
    )
    report = audit_wheel(bundled)
    assert report.compliant, report.findings
    kinds = {d.name: d.kind for d in report.verdicts["ios"].graph.dependencies}
    assert kinds == {"@rpath/libmwiosdep.dylib": "bundled", "/usr/lib/libSystem.B.dylib": "system"}

    missing = audit_wheel(ios_wheel(tmp_path / "bad", "ios_13_0_arm64_iphoneos", ios_ext))
    assert _codes(missing) == ["ios-library-external"]
    assert missing.best_tag is None and not missing.compliant


def test_absolute_non_system_install_name(tmp_path: Path) -> None:
    _lib, ext = dep_pair("arm64", "/opt/homebrew/lib/libmwiosdep.dylib")
    report = audit_wheel(
        ios_wheel(
            tmp_path, "ios_13_0_arm64_iphoneos", as_ios(ext.read_bytes(), "iphoneos", (13, 0))
        )
    )
    assert [dict(f.details)["library"] for f in report.findings] == [
        "/opt/homebrew/lib/libmwiosdep.dylib"
    ]


def test_bundle_and_wrong_sdk_suffix(tmp_path: Path) -> None:
    data = bytearray(plain_extension("arm64", "iphoneos").read_bytes())
    struct.pack_into("<I", data, 12, 8)  # MH_DYLIB (6) -> MH_BUNDLE (8): zig cannot -bundle
    members = {"mwios/_b.cpython-313-iphonesimulator.so": bytes(data)}
    report = audit_wheel(ios_wheel(tmp_path, "ios_13_0_arm64_iphoneos", bytes(data), members))
    layout = [(f.member, f.severity) for f in report.findings if f.code == "ios-framework-layout"]
    assert ("mwios/_ext.cpython-313-iphoneos.so", "warning") in layout
    assert ("mwios/_b.cpython-313-iphonesimulator.so", "error") in layout


def test_tags_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("ios_13_0_arm64_iphoneos", "ios_12_0_x86_64_iphonesimulator"):
        tag = PlatformTag.parse(text)
        assert tag.name == text and tag.os == "ios"
    wheel = ios_wheel(tmp_path, "ios_13_0_arm64_iphoneos", plain_extension("arm64", "iphoneos"))
    assert main(["audit", str(wheel)]) == 0
    assert "best tag: ios_13_0_arm64_iphoneos" in capsys.readouterr().out
    assert main(["repair", str(wheel), "-w", str(tmp_path / "out")]) != 0
    assert "ios" in capsys.readouterr().err


def test_every_code_is_documented(tmp_path: Path) -> None:
    from mwheel.audit.findings import CODES

    _, ext = dep_pair("arm64", "/opt/lib/libmwiosdep.dylib")
    report = audit_wheel(ios_wheel(tmp_path, "ios_12_0_arm64_iphoneos", ext))
    codes = {f.code for f in report.findings}
    assert {"ios-platform-mismatch", "ios-library-external"} <= codes <= set(CODES)
