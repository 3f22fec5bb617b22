"""Android wheels (PEP 738): tags, ABI, API level from bionic symbol versions, system
libraries, and repair grafting libc++_shared.so, on ELF files of all four ABIs built with zig
against a stub NDK sysroot (fixturelib/android.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixturelib.android import ZIG_TARGETS, android_wheel, extension, sysroot

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.binary import read_binary
from mwheel.cli import main
from mwheel.errors import MissingLibraryError, RepairError
from mwheel.policies.mobile import android_policy
from mwheel.repair import repair_wheel
from mwheel.repair.model import RepairOptions
from mwheel.tags import PlatformTag
from mwheel.wheel.archive import WheelArchive

ABIS = list(ZIG_TARGETS)


def _codes(report: object) -> list[str]:
    return [f.code for f in report.findings]  # type: ignore[attr-defined]


@pytest.mark.parametrize("abi", ABIS)
def test_plain_extension_honours_api_24(abi: str, tmp_path: Path) -> None:
    wheel = android_wheel(tmp_path, f"android_24_{abi}", extension(abi))
    report = audit_wheel(wheel)
    assert report.compliant, report.findings
    assert report.best_tag == f"android_24_{abi}"
    assert set(report.verdicts) == {"android"}
    graph = report.verdicts["android"].graph
    kinds = {d.name: d.kind for d in graph.dependencies}
    # libpython is linked on Android (PEP 738) and counts as provided by the interpreter.
    assert kinds == {
        "libc.so": "system",
        "liblog.so": "system",
        "libpython3.13.so": "system",
    }


@pytest.mark.parametrize("abi", ABIS)
def test_libc_p_symbols_need_api_28(abi: str, tmp_path: Path) -> None:
    wheel = android_wheel(tmp_path, f"android_24_{abi}", extension(abi, "P"))
    report = audit_wheel(wheel)
    assert not report.compliant
    problems = [f for f in report.findings if f.code == "android-api-too-new"]
    assert len(problems) == 1 and "LIBC_P" in problems[0].message
    assert dict(problems[0].details)["api_level"] == "28"
    assert report.best_tag == f"android_28_{abi}"
    assert audit_wheel(
        android_wheel(tmp_path / "28", f"android_28_{abi}", extension(abi, "P"))
    ).compliant


def test_system_library_of_a_later_api_level(tmp_path: Path) -> None:
    wheel = android_wheel(tmp_path, "android_24_arm64_v8a", extension("arm64_v8a", "AAUDIO"))
    report = audit_wheel(wheel)
    problems = [f for f in report.findings if f.code == "android-api-too-new"]
    assert [f.message.split(",")[0] for f in problems] == ["needs libaaudio.so"]
    assert report.best_tag == "android_26_arm64_v8a"


def test_private_bionic_node_is_an_error(tmp_path: Path) -> None:
    wheel = android_wheel(tmp_path, "android_30_x86_64", extension("x86_64", "PRIVATE"))
    report = audit_wheel(wheel)
    assert "android-private-api" in _codes(report)
    assert not report.compliant


def test_wrong_abi(tmp_path: Path) -> None:
    wheel = android_wheel(tmp_path, "android_24_arm64_v8a", extension("x86_64"))
    report = audit_wheel(wheel)
    assert "architecture-mismatch" in _codes(report)
    assert not report.compliant
    assert report.best_tag == "android_24_x86_64"


def test_bundled_cxx_shared_is_fine(tmp_path: Path) -> None:
    root = sysroot("arm64_v8a")
    ext = extension("arm64_v8a", "CXX", rpath=["$ORIGIN"])
    wheel = android_wheel(
        tmp_path, "android_26_arm64_v8a", ext, {"mwdroid/libc++_shared.so": root.cxx_shared}
    )
    report = audit_wheel(wheel)
    assert report.compliant, report.findings
    # The bundled runtime's own LIBC_O import sets the floor.
    assert report.best_tag == "android_26_arm64_v8a"


def test_glibc_binary_in_an_android_wheel(tmp_path: Path) -> None:
    from fixturelib.build import compile_c

    ext = compile_c(
        [Path(__file__).parents[1] / "fixtures" / "linux" / "clean.c"],
        "_ext.so",
        compiler="zig",
        target="aarch64-linux-gnu.2.17",
    )
    report = audit_wheel(android_wheel(tmp_path, "android_24_arm64_v8a", ext))
    assert not report.compliant
    assert "libc.so.6" in {
        dict(f.details).get("library") for f in report.findings if f.code == "library-not-allowed"
    }


def test_repair_grafts_cxx_shared_and_keeps_libpython(tmp_path: Path) -> None:
    root = sysroot("arm64_v8a")
    wheel = android_wheel(tmp_path, "android_24_arm64_v8a", extension("arm64_v8a", "CXX"))
    before = audit_wheel(wheel, AuditOptions(lib_paths=(root.cxx_dir,)))
    assert not before.compliant and "library-not-allowed" in _codes(before)
    assert before.repair_tag == "android_26_arm64_v8a"

    with pytest.raises(MissingLibraryError, match=r"libc\+\+_shared\.so"):
        repair_wheel(wheel, tmp_path / "none")
    result = repair_wheel(
        wheel, tmp_path / "out", audit_options=AuditOptions(lib_paths=(root.cxx_dir,))
    )
    assert result.output is not None
    assert result.output.name == "mwdroid-1.0-cp313-cp313-android_26_arm64_v8a.whl"
    assert [g.name for g in result.plan.grafts] == ["libc++_shared.so"]
    assert result.report.compliant, result.report.findings
    with WheelArchive(result.output) as archive:
        grafted = [m for m in archive.members if m.startswith("mwdroid.libs/")]
        ext_name = next(m for m in archive.members if "_ext" in m)
        ext = read_binary(ext_name, archive.read(ext_name))
    assert len(grafted) == 1 and grafted[0].startswith("mwdroid.libs/libc++_shared-")
    assert ext.elf is not None
    assert "libpython3.13.so" in ext.dependencies
    assert grafted[0].rsplit("/", 1)[1] in ext.dependencies
    assert ext.elf.runpath == ("$ORIGIN/../mwdroid.libs",)

    with pytest.raises(RepairError, match="API level 26"):
        repair_wheel(
            wheel,
            tmp_path / "out24",
            RepairOptions(plat="android_24_arm64_v8a"),
            AuditOptions(lib_paths=(root.cxx_dir,)),
        )


def test_cli_json_and_tag_parsing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = android_wheel(tmp_path, "android_24_x86", extension("x86", "P"))
    assert main(["audit", str(wheel), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)["wheels"][0]
    assert data["best_tag"] == "android_28_x86"
    for text in ("android_21_arm64_v8a", "android_35_armeabi_v7a", "android_24_x86_64"):
        tag = PlatformTag.parse(text)
        assert tag.name == text and tag.os == "android"


def test_policy_data_is_consistent() -> None:
    policy = android_policy()
    assert set(policy.abis) == set(ZIG_TARGETS)
    levels = [policy.symbol_versions[v] for v in ("LIBC_N", "LIBC_O", "LIBC_P", "LIBC_Q")]
    assert levels == sorted(levels) == [24, 26, 28, 29]
    assert "libc++_shared.so" not in policy.libraries
    assert policy.oldest_api <= policy.runpath_api == 24
    # CPython's Android packages ship these for their own modules; extensions may link them.
    assert {"libssl_python.so", "libcrypto_python.so", "libsqlite3_python.so"} <= set(
        policy.libraries
    )


def test_best_tag_never_drops_below_the_claimed_level(tmp_path: Path) -> None:
    """The tag's level is the build's minSdkVersion; symbol versions only bound it below."""
    report = audit_wheel(android_wheel(tmp_path, "android_30_x86_64", extension("x86_64")))
    assert report.compliant and report.best_tag == "android_30_x86_64"


def test_every_code_is_documented(tmp_path: Path) -> None:
    from mwheel.audit.findings import CODES

    cases = [
        ("P", "android_24_x86"),
        ("PRIVATE", "android_24_arm64_v8a"),
        ("CXX", "android_24_x86"),
    ]
    for use, tag in cases:
        abi = tag.split("_", 2)[2]
        report = audit_wheel(android_wheel(tmp_path / use, tag, extension(abi, use)))
        assert report.findings and all(f.code in CODES for f in report.findings)


def test_bundled_library_reached_only_through_dt_rpath(tmp_path: Path) -> None:
    """Bionic ignores DT_RPATH: a warning, and the repair writes a RUNPATH."""
    root = sysroot("arm64_v8a")
    ext = extension("arm64_v8a", "CXX", rpath=["$ORIGIN"], runpath=False)
    wheel = android_wheel(
        tmp_path, "android_26_arm64_v8a", ext, {"mwdroid/libc++_shared.so": root.cxx_shared}
    )
    report = audit_wheel(wheel)
    warning = [f for f in report.findings if f.code == "library-not-on-search-path"]
    assert len(warning) == 1 and "DT_RPATH" in warning[0].message
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.output is not None
    with WheelArchive(result.output) as archive:
        name = next(m for m in archive.members if "_ext" in m)
        fixed = read_binary(name, archive.read(name))
    assert fixed.elf is not None and fixed.elf.runpath == ("$ORIGIN",)
    assert not [f for f in result.report.findings if f.code == "library-not-on-search-path"]
