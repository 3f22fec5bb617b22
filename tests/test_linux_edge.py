"""Linux rules on wheels built at test time at the edges of the tags (``fixturelib.linux_edge``).

Loader facts that no symbol version records (DT_RELR, the libc a file without DT_NEEDED is
for, glibc-only imports in a musl file, ARM float ABI and core, static executables), the
architectures added for issue 14 (ppc64, loongarch64), and repair's refusal to write a wheel
PyPI would refuse. auditwheel 6.8.2 runs beside where it is right; where it is wrong the
test says why.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from fixturelib import linux_edge as edge

from mwheel.audit import WheelReport, audit_wheel
from mwheel.cli import main
from mwheel.errors import RepairError
from mwheel.repair import repair_wheel
from mwheel.repair.model import RepairOptions

AUDITWHEEL = Path(os.environ.get("MWHEEL_REF_VENV", "/opt/reftools")) / "bin" / "auditwheel"
X86_2014 = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"


def _codes(report: WheelReport, severity: str = "error") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in report.findings:
        if f.severity == severity:
            out.setdefault(f.code, []).append(f.message)
    return out


def _auditwheel_tag(wheel: Path) -> str | None:
    """auditwheel 6.8.2's tag for ``wheel``; None where the reference venv is absent."""
    if not AUDITWHEEL.exists():
        return None
    done = subprocess.run([str(AUDITWHEEL), "show", str(wheel)], capture_output=True, text=True)
    found = re.search(r'platform tag:\s+"([^"]+)"', " ".join(done.stdout.split()))
    return found[1] if found else None


def test_musl_extension_without_needed_is_never_manylinux(tmp_path: Path) -> None:
    """No DT_NEEDED, but CPython only imports ``-linux-musl.so`` on musl."""
    wheel = edge.no_needed_musl_ext(tmp_path, X86_2014)
    report = audit_wheel(wheel)
    assert not report.compliant
    assert report.best_tag == report.repair_tag == "musllinux_1_1_x86_64"
    assert any("manylinux_2_17_x86_64 is for glibc" in m for m in _codes(report)["libc-mismatch"])
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.plan.platform_tags == ("musllinux_1_1_x86_64",)
    assert any("dropped claimed tag manylinux_2_17_x86_64" in n for n in result.plan.notes)


def test_dt_relr_cannot_be_musllinux_1_1(tmp_path: Path) -> None:
    wheel = edge.relr_ext(tmp_path, "cp311-cp311-musllinux_1_1_x86_64", "musl")
    report = audit_wheel(wheel)
    assert not report.compliant
    assert "musl 1.2.4" in _codes(report)["dt-relr-unsupported"][0]
    assert report.best_tag == "musllinux_1_2_x86_64"
    (warning,) = _codes(report, "warning")["dt-relr-needs-newer-libc"]
    assert "musl 1.2.0 to 1.2.3" in warning
    # auditwheel agrees on musllinux_1_2, though only because it assumes the host's musl.
    assert _auditwheel_tag(wheel) in (None, "musllinux_1_2_x86_64")


def test_dt_relr_without_the_glibc_node_needs_glibc_2_36(tmp_path: Path) -> None:
    """Linked without glibc, GNU ld adds no GLIBC_ABI_DT_RELR need: only DT_RELR says it.
    auditwheel 6.8.2 calls this manylinux_2_5, and glibc before 2.36 leaves its pointers
    unrelocated: mwheel is right."""
    wheel = edge.relr_ext(tmp_path, "cp311-cp311-manylinux_2_17_x86_64", "glibc")
    report = audit_wheel(wheel)
    assert not report.compliant
    assert "glibc 2.36" in _codes(report)["dt-relr-unsupported"][0]
    assert report.best_tag == "manylinux_2_36_x86_64"
    assert _auditwheel_tag(wheel) in (None, "manylinux_2_5_x86_64")


def test_dt_relr_with_the_glibc_node_is_one_reason(tmp_path: Path) -> None:
    wheel = edge.glibc_relr_ext(tmp_path, X86_2014)
    report = audit_wheel(wheel)
    assert report.best_tag == "manylinux_2_36_x86_64"
    errors = _codes(report)
    assert any("GLIBC_ABI_DT_RELR" in m for m in errors["symbol-version-too-new"])
    assert "dt-relr-unsupported" not in errors  # the version need already says it


def test_glibc_only_import_is_an_error_for_musllinux(tmp_path: Path) -> None:
    """__printf_chk is glibc's; a weak __cxa_thread_atexit_impl is fine. auditwheel 6.8.2
    calls this wheel musllinux_1_2, yet musl's loader refuses it: mwheel is right."""
    wheel = edge.glibc_only_musl_ext(tmp_path, "cp311-cp311-musllinux_1_2_x86_64")
    report = audit_wheel(wheel)
    assert not report.compliant
    (message,) = _codes(report)["symbol-not-in-libc"]
    assert "__printf_chk" in message and "__cxa_thread_atexit_impl" not in message
    assert report.repair_tag is None
    with pytest.raises(RepairError, match="__printf_chk"):
        repair_wheel(wheel, tmp_path / "out")
    assert _auditwheel_tag(wheel) in (None, "musllinux_1_2_x86_64")


@pytest.mark.parametrize("libc", ["glibc", "musl"])
def test_static_executable_honours_every_family(tmp_path: Path, libc: str) -> None:
    tag = "py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64"
    wheel = edge.static_executable(tmp_path, tag, libc)
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert set(report.verdicts["linux"].honoured.values()) == {True}
    # A repair keeps both families (at their most compatible tags) and writes the wheel.
    result = repair_wheel(wheel, tmp_path / "out")
    assert result.plan.platform_tags == (
        "manylinux_2_5_x86_64",
        "manylinux1_x86_64",
        "musllinux_1_1_x86_64",
    )
    assert result.report.compliant


@pytest.mark.parametrize(
    ("target", "tag", "best"),
    [
        ("s390x", "linux_s390x", "manylinux_2_17_s390x"),
        ("loongarch64", "linux_loongarch64", "manylinux_2_36_loongarch64"),
        ("loongarch64-musl", "linux_loongarch64", "musllinux_1_2_loongarch64"),
        ("armv7l", "linux_armv7l", "manylinux_2_17_armv7l"),
    ],
)
def test_cross_architectures(tmp_path: Path, target: str, tag: str, best: str) -> None:
    wheel = edge.cross_ext(tmp_path, f"cp311-cp311-{tag}", target)
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert report.best_tag == report.repair_tag == best
    if not target.endswith("-musl"):
        assert _auditwheel_tag(wheel) in (None, best)


def test_ppc64_big_endian(tmp_path: Path) -> None:
    wheel = edge.ppc64_ext(tmp_path, "cp311-cp311-manylinux_2_17_ppc64.manylinux2014_ppc64")
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert report.best_tag == "manylinux_2_17_ppc64"
    result = repair_wheel(wheel, tmp_path / "out", dry_run=True)
    assert result.plan.platform_tags == ("manylinux_2_17_ppc64", "manylinux2014_ppc64")
    assert _auditwheel_tag(wheel) in (None, "manylinux_2_17_ppc64")


def test_soft_float_armv7_is_not_armv7l(tmp_path: Path) -> None:
    wheel = edge.cross_ext(tmp_path, "cp311-cp311-manylinux_2_17_armv7l", "armv7-softfloat")
    report = audit_wheel(wheel)
    assert not report.compliant
    (message,) = _codes(report)["arm-float-abi"]
    assert "soft-float" in message and "hard-float" in message
    assert report.best_tag == "linux_armv7l" and report.repair_tag is None


def test_armv5_is_not_armv7l(tmp_path: Path) -> None:
    wheel = edge.cross_ext(tmp_path, "cp311-cp311-manylinux_2_17_armv7l", "armv5")
    report = audit_wheel(wheel)
    assert not report.compliant
    (message,) = _codes(report)["architecture-mismatch"]
    assert "ARMv5TE" in message and "soft-float" in message
    assert report.best_tag == "linux_armv5tel"
    with pytest.raises(RepairError, match="no manylinux tag exists for armv5tel"):
        repair_wheel(wheel, tmp_path / "out")


def test_repair_refuses_blacklisted_symbols_of_an_allowed_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """auditwheel's testzlib case: zcalloc/zcfree of libz.so.1, forbidden by every policy.
    The repair fails (exit 6) naming them instead of writing a linux_x86_64 wheel."""
    wheel = edge.zlib_internal_ext(tmp_path, "cp311-cp311-linux_x86_64")
    out = tmp_path / "out"
    assert main(["repair", "-w", str(out), str(wheel)]) == 6
    err = capsys.readouterr().err
    assert "zcalloc" in err and "zcfree" in err and "--plat linux_x86_64" in err
    assert not list(out.glob("*.whl")) if out.exists() else True
    # Asked for explicitly, the linux tag is written.
    result = repair_wheel(wheel, out, RepairOptions(plat="linux_x86_64"))
    assert result.output is not None and result.output.name.endswith("-linux_x86_64.whl")
