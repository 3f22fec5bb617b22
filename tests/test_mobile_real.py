"""Real Android and iOS wheels from PyPI (pinned in tests/data/wheels/mobile-real.lst)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib.pypi import pinned_wheel

from mwheel.audit import audit_wheel
from mwheel.errors import RepairError
from mwheel.repair import repair_wheel


@pytest.mark.parametrize(
    ("platform", "best", "kinds"),
    [
        (
            "android_24_arm64_v8a",
            "android_24_arm64_v8a",
            {"libc.so", "libdl.so", "libm.so", "libpython3.13.so"},
        ),
        ("ios_13_0_arm64_iphoneos", "ios_13_0_arm64_iphoneos", set()),
        ("ios_13_0_arm64_iphonesimulator", "ios_13_0_arm64_iphonesimulator", set()),
        ("ios_13_0_x86_64_iphonesimulator", "ios_13_0_x86_64_iphonesimulator", set()),
    ],
)
def test_markupsafe_mobile_wheels(platform: str, best: str, kinds: set[str]) -> None:
    wheel = pinned_wheel("mobile-real", "markupsafe==3.0.4", platform)
    report = audit_wheel(wheel)
    assert report.compliant, report.findings
    assert report.best_tag == best
    assert not [f for f in report.findings if f.severity != "info"]
    (verdict,) = report.verdicts.values()
    system = {d.name for d in verdict.graph.dependencies if d.kind == "system"}
    if kinds:
        assert system == kinds
    else:
        assert system == {"@rpath/Python.framework/Python", "/usr/lib/libSystem.B.dylib"}


@pytest.mark.parametrize(
    ("requirement", "platform", "best"),
    [
        ("coverage==7.17.5", "android_24_x86_64", "android_24_x86_64"),
        ("pyzmq==27.3.0", "android_24_arm64_v8a", "android_24_arm64_v8a"),
        ("pillow==13.0.0", "ios_13_0_arm64_iphoneos", "ios_13_0_arm64_iphoneos"),
    ],
)
def test_other_real_mobile_wheels(requirement: str, platform: str, best: str) -> None:
    report = audit_wheel(pinned_wheel("mobile-real", requirement, platform))
    assert report.compliant, report.findings
    assert report.best_tag == best
    assert not [f for f in report.findings if f.severity != "info"]


def test_upstream_repaired_android_wheel_needs_api_24_for_libc_n(tmp_path: Path) -> None:
    """pyzmq's bundled libc++_shared is found through its RUNPATH; _zmq imports LIBC_N."""
    wheel = pinned_wheel("mobile-real", "pyzmq==27.3.0", "android_24_arm64_v8a")
    report = audit_wheel(wheel)
    graph = report.verdicts["android"].graph
    bundled = [d for d in graph.dependencies if d.kind == "bundled"]
    assert len(bundled) == 1 and bundled[0].name.startswith("libc++_shared-")
    assert bundled[0].reachable
    result = repair_wheel(wheel, tmp_path)
    assert result.plan.grafts == () and result.plan.edits == ()
    assert result.plan.platform_tags == ("android_24_arm64_v8a",)


def test_repaired_android_wheel_is_unchanged_in_substance(tmp_path: Path) -> None:
    wheel = pinned_wheel("mobile-real", "markupsafe==3.0.4", "android_24_arm64_v8a")
    result = repair_wheel(wheel, tmp_path)
    assert result.plan.grafts == () and result.plan.edits == ()
    assert result.plan.platform_tags == ("android_24_arm64_v8a",)


def test_ios_repair_is_refused_with_a_reason(tmp_path: Path) -> None:
    wheel = pinned_wheel("mobile-real", "markupsafe==3.0.4", "ios_13_0_arm64_iphoneos")
    with pytest.raises(RepairError, match="ios"):
        repair_wheel(wheel, tmp_path)
