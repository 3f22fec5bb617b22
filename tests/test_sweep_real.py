"""Regressions found by the verdict sweep (``tools/sweep.py``) on real wheels and on the peer
tools' own test data.

Each case is a wheel pip installs and the platform loads, or one a peer's test suite says is
not manylinux: the verdict must be right, and where the peer is wrong the test says why. Real
wheels are pinned in ``tests/data/wheels/sweep.lst``; the rest are compiled here with gcc.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fixturelib import linux_edge as edge
from fixturelib.build import compile_c
from fixturelib.pypi import pinned_wheel
from fixturelib.wheels import make_wheel

from mwheel.audit import WheelReport, audit_wheel
from mwheel.audit.windows_resolve import windows_policy
from mwheel.cli import main
from mwheel.errors import RepairError
from mwheel.repair import repair_wheel

LIST = "sweep"
ARMV7_2014 = "cp311-cp311-manylinux_2_17_armv7l.manylinux2014_armv7l"
LINUX_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "linux"
AUDITWHEEL = Path(os.environ.get("MWHEEL_REF_VENV", "/opt/reftools")) / "bin" / "auditwheel"


def _codes(report: WheelReport, severity: str = "error") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in report.findings:
        if f.severity == severity:
            out.setdefault(f.code, []).append(f.message)
    return out


def _auditwheel_show(wheel: Path) -> str | None:
    """``auditwheel show`` output, whitespace folded; None without the reference venv."""
    if not AUDITWHEEL.exists():
        return None
    done = subprocess.run([str(AUDITWHEEL), "show", str(wheel)], capture_output=True, text=True)
    return " ".join((done.stdout + done.stderr).split())


# --- PyFPE_jbuf (auditwheel's fpewheel) ---------------------------------------------------


def test_pyfpe_jbuf_is_never_manylinux(tmp_path: Path) -> None:
    """An extension referencing PyFPE_jbuf imports only into CPython built --with-fpectl
    (PEP 513): mwheel used to call auditwheel's fpewheel manylinux_2_5 and repair it into a
    manylinux1 wheel. Now the honest linux tag stands and repair refuses (exit 6)."""
    wheel = edge.pyfpe_ext(tmp_path, "cp35-cp35m-linux_x86_64")
    report = audit_wheel(wheel)
    assert report.compliant  # linux_x86_64 is what it is
    assert report.best_tag == "linux_x86_64"
    assert report.repair_tag is None
    why = [f.message for f in report.findings if f.code == "best-tag-constraint"]
    assert why and all("PyFPE_jbuf" in m and "PEP 513" in m for m in why)
    with pytest.raises(RepairError) as raised:
        repair_wheel(wheel, tmp_path / "out")
    assert raised.value.exit_code == 6 and "PyFPE_jbuf" in str(raised.value)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    shown = _auditwheel_show(wheel)
    if shown is not None:  # auditwheel 6.8.2 agrees (main_show: "uses the PyFPE_jbuf function")
        assert 'platform tag: "linux_x86_64"' in shown and "PyFPE_jbuf" in shown


@pytest.mark.parametrize("interpreter", ["cp37-cp37m", "cp311-cp311"])
def test_pyfpe_jbuf_is_fine_from_python_3_7(tmp_path: Path, interpreter: str) -> None:
    """From 3.7 every CPython defines PyFPE_jbuf (Python/pyfpe.c keeps it for extensions
    that reference it): a wheel whose tags admit only those keeps its manylinux tag.
    auditwheel 6.8.2 refuses it whatever the Python tags: mwheel is right here."""
    wheel = edge.pyfpe_ext(tmp_path, f"{interpreter}-manylinux_2_17_x86_64.manylinux2014_x86_64")
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert report.best_tag == "manylinux_2_5_x86_64" == report.repair_tag


def test_pyfpe_jbuf_claimed_manylinux_is_an_error(tmp_path: Path) -> None:
    wheel = edge.pyfpe_ext(tmp_path, "cp35-cp35m-manylinux1_x86_64")
    report = audit_wheel(wheel)
    assert not report.compliant
    assert any("PyFPE_jbuf" in m for m in _codes(report)["blacklisted-symbol"])
    assert main(["audit", "-q", str(wheel)]) == 1


# --- libraries found through the loading chain --------------------------------------------


def _chain_wheel(dest: Path, *, runpath: bool) -> Path:
    """ext -> libmwouter.so -> libmwinner.so, both in ``mwchain.libs``; only the extension
    has a search path ($ORIGIN/../mwchain.libs): DT_RPATH (inherited by what it loads, as
    auditwheel writes it) or DT_RUNPATH (not inherited)."""
    inner = compile_c(
        [LINUX_FIXTURES / "chain_inner.c"],
        "libmwinner.so",
        compiler="gcc",
        include_python=False,
        soname="libmwinner.so",
    )
    outer = compile_c(
        [LINUX_FIXTURES / "chain_outer.c"],
        "libmwouter.so",
        compiler="gcc",
        include_python=False,
        soname="libmwouter.so",
        lib_dirs=[inner.parent],
        libs=["mwinner"],
    )
    ext = compile_c(
        [LINUX_FIXTURES / "chain_ext.c"],
        "_ext.so",
        compiler="gcc",
        lib_dirs=[outer.parent],
        libs=["mwouter"],
        rpath=["$ORIGIN/../mwchain.libs"],
        runpath=runpath,
    )
    dest.mkdir(parents=True, exist_ok=True)
    return make_wheel(
        dest,
        "mwchain",
        "1.0",
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
        {
            "mwchain/__init__.py": b"",
            "mwchain/_ext.cpython-311-x86_64-linux-gnu.so": ext,
            "mwchain.libs/libmwouter.so": outer,
            "mwchain.libs/libmwinner.so": inner,
        },
    )


def _loads(wheel: Path, dest: Path) -> str:
    """'' when the unpacked extension loads on this host, else the loader's message. In a
    child process: a library loaded once stays matched by its soname for the process."""
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(dest)
    ext = dest / "mwchain" / "_ext.cpython-311-x86_64-linux-gnu.so"
    code = "import ctypes, sys; ctypes.CDLL(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", code, str(ext)], capture_output=True, text=True)
    return done.stderr.strip().splitlines()[-1] if done.returncode else ""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="loads x86_64 glibc objects")
def test_rpath_of_the_loader_reaches_a_library_without_runpath(tmp_path: Path) -> None:
    """auditwheel's layout (pillow's libharfbuzz needs libfreetype and has no RUNPATH): the
    extension's DT_RPATH is searched for the needs of what it loads. mwheel used to warn
    'not on its RUNPATH' on such wheels, which load fine (checked here by loading it)."""
    wheel = _chain_wheel(tmp_path / "rpath", runpath=False)
    assert _loads(wheel, tmp_path / "unpacked-rpath") == ""
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert "library-not-on-search-path" not in _codes(report, "warning")


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="loads x86_64 glibc objects")
def test_runpath_of_the_loader_does_not_reach(tmp_path: Path) -> None:
    """DT_RUNPATH applies to the file's own needs only: the warning stays, and is true."""
    wheel = _chain_wheel(tmp_path / "runpath", runpath=True)
    assert "libmwinner.so" in _loads(wheel, tmp_path / "unpacked-runpath")
    report = audit_wheel(wheel)
    warned = _codes(report, "warning")["library-not-on-search-path"]
    assert len(warned) == 1 and "libmwinner.so" in warned[0]


@pytest.mark.parametrize(
    ("requirement", "platform"),
    [
        ("pillow==11.0.0", "manylinux_2_28_x86_64"),
        ("numpy==1.16.6", "manylinux1_i686"),
        ("pyzmq==26.2.0", "musllinux_1_1_x86_64"),
    ],
)
def test_auditwheel_repaired_wheels_have_no_search_path_warning(
    requirement: str, platform: str
) -> None:
    """Real auditwheel-repaired wheels whose bundled libraries find each other through the
    extension's RPATH (glibc) or the loading chain (musl searches every RUNPATH of it)."""
    report = audit_wheel(pinned_wheel(LIST, requirement, platform))
    assert report.compliant, _codes(report)
    assert "library-not-on-search-path" not in _codes(report, "warning")


# --- musl: the wheel's symbols decide, not the host ---------------------------------------


@pytest.mark.parametrize(
    ("requirement", "platform", "best"),
    [
        ("msgpack==1.1.0", "musllinux_1_2_i686", "musllinux_1_1_i686"),
        ("cffi==1.17.1", "musllinux_1_1_aarch64", "musllinux_1_1_aarch64"),
    ],
)
def test_musl_wheels_get_the_oldest_musl_their_imports_allow(
    requirement: str, platform: str, best: str
) -> None:
    """auditwheel 6.8.2 says musllinux_1_2 for both: it takes the musl version from the host,
    not from the wheel. msgpack's i686 extension imports no time64 name (musl 1.2.0's
    32-bit redirections) nor any later addition, so musl 1.1 loads it: musllinux_1_1."""
    wheel = pinned_wheel(LIST, requirement, platform)
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert report.best_tag == best == report.repair_tag
    shown = _auditwheel_show(wheel)
    if shown is not None:
        found = re.search(r'platform tag: "([^"]+)"', shown)
        assert found is not None and found[1].startswith("musllinux_1_2_")


def test_static_executable_claiming_both_families_is_best_manylinux() -> None:
    """uv 0.5.0's aarch64 wheel (static executable, manylinux2014 and musllinux_1_1): both
    honoured; the best tag is the manylinux one, as auditwheel 6.8.2 says (it used to be
    musllinux_1_1, equally true, but a needless disagreement)."""
    wheel = pinned_wheel(LIST, "uv==0.5.0", "manylinux_2_17_aarch64")
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert report.verdicts["linux"].honoured == {
        "manylinux_2_17_aarch64": True,
        "musllinux_1_1_aarch64": True,
    }
    assert report.best_tag == "manylinux_2_17_aarch64"


@pytest.mark.parametrize(
    ("target", "suffix", "arch"),
    [
        ("mips64el-linux-gnuabi64", "mips64el-linux-gnuabi64", "mips64"),
        ("mips64-linux-gnuabi64", "mips64-linux-gnuabi64", "mips64"),
        ("mipsel-linux-gnueabihf", "mipsel-linux-gnu", "mips"),
    ],
)
def test_architectures_without_policy_keep_uname_names(
    tmp_path: Path, target: str, suffix: str, arch: str
) -> None:
    """auditwheel's own linux_mips64 test wheel: a 64-bit MIPS file is mips64 whatever its
    byte order (uname's name, which pip puts in the tag). mwheel used to call it "mips",
    refuse the honest linux_mips64 tag and suggest linux_mips, which no 64-bit process loads."""
    ext = compile_c(
        [LINUX_FIXTURES / "edge_plain.c"],
        "_ext.so",
        compiler="zig",
        target=target,
        include_python=False,
    )
    wheel = make_wheel(
        tmp_path,
        "mwmips",
        "1.0",
        f"cp311-cp311-linux_{arch}",
        {"mwmips/__init__.py": b"", f"mwmips/_ext.cpython-311-{suffix}.so": ext},
    )
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert report.best_tag == f"linux_{arch}"


def test_older_arm_code_under_a_linux_armv7l_tag_is_accepted(tmp_path: Path) -> None:
    """ARMv6 hard-float code tagged linux_armv7l (Raspberry Pi OS builds): pip installs it on
    armv7l machines and the code runs there, so the claim holds with a warning. It is never
    given a manylinux armv7l tag (issue 14: pre-v7 code is not armv7l)."""
    wheel = edge.cross_ext(tmp_path / "a", "cp311-cp311-linux_armv7l", "armv6-hardfloat")
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert report.best_tag == "linux_armv7l"
    assert report.repair_tag is None
    [warned] = _codes(report, "warning")["architecture-mismatch"]
    assert "ARMv6" in warned and "armv7l" in warned
    claimed = edge.cross_ext(tmp_path / "b", ARMV7_2014, "armv6-hardfloat")
    refused = audit_wheel(claimed)
    assert not refused.compliant and "architecture-mismatch" in _codes(refused)


def test_python27_windows_wheel_finds_msvcr90_in_the_interpreter() -> None:
    """MarkupSafe 1.1.1 cp27m win32 imports MSVCR90.dll, the C runtime of CPython 2.6 to 3.2
    (Visual Studio 2008): pip installs it for Python 2.7 and it loads there. mwheel used to
    call it NOT COMPLIANT (MSVCR90.dll not found) and refuse to repair it (exit 5)."""
    report = audit_wheel(pinned_wheel(LIST, "markupsafe==1.1.1", "win32"))
    assert report.compliant, _codes(report)
    assert report.best_tag == "win32"
    kinds = {
        dict(f.details)["library"]: dict(f.details)["runtime"]
        for f in report.findings
        if f.code == "windows-runtime-assumed"
    }
    assert kinds == {"MSVCR90.dll": "python"}


def test_old_c_runtimes_are_the_interpreters_only_for_their_pythons() -> None:
    """msvcr90.dll belongs to CPython 2.6-3.2, msvcr100.dll to 3.3-3.4; a wheel whose tags
    admit another Python (or say none) cannot count on it: VC++ redistributable."""
    policy = windows_policy()
    assert policy.runtime_kind("MSVCR90.dll", "x86", None, frozenset({(2, 7)})) == "python"
    assert policy.runtime_kind("msvcr90.dll", "x86", None, frozenset({(2, 7), (3, 5)})) == (
        "vc_redist"
    )
    assert policy.runtime_kind("msvcr100.dll", "x86_64", None, frozenset({(3, 4)})) == "python"
    assert policy.runtime_kind("msvcr100.dll", "x86_64", None, None) == "vc_redist"
    assert policy.runtime_kind("msvcp90.dll", "x86", None, frozenset({(2, 7)})) == "vc_redist"


def test_abi3_extension_may_define_its_own_py_names() -> None:
    """psutil 6.0.0's abi3 extensions define (export) PyErr_SetFromOSErrnoWithSyscall, a
    helper of their own: abi3audit 0.0.26 reports it as an ABI violation because of the
    prefix, but the stable ABI only constrains what an extension imports from the
    interpreter. mwheel accepts the wheel: right beats agreeing."""
    wheel = pinned_wheel(LIST, "psutil==6.0.0", "manylinux_2_17_x86_64")
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert not [f for f in report.findings if f.code.startswith("abi3") and f.severity != "info"]
    abi3audit = AUDITWHEEL.parent / "abi3audit"
    if abi3audit.exists():
        done = subprocess.run([str(abi3audit), "-v", str(wheel)], capture_output=True, text=True)
        assert "PyErr_SetFromOSErrnoWithSyscall" in done.stdout + done.stderr


def test_armv7l_wheel_may_bundle_older_core_hard_float_library(tmp_path: Path) -> None:
    """pydantic-core 2.27.1's musllinux_1_1_armv7l wheel bundles libgcc_s with the ARMv5TE
    core attribute, hard-float: ARMv7 runs it and pip installs the wheel there. mwheel used to
    say NOT COMPLIANT and refuse the repair; now a warning. (auditwheel 6.8.2 crashes on this
    wheel: ELFError.)"""
    wheel = pinned_wheel(LIST, "pydantic-core==2.27.1", "musllinux_1_1_armv7l")
    report = audit_wheel(wheel)
    assert report.compliant, _codes(report)
    assert report.best_tag == "musllinux_1_1_armv7l" == report.repair_tag
    [warned] = _codes(report, "warning")["architecture-mismatch"]
    assert "ARMv5TE" in warned and "hard-float" in warned
    result = repair_wheel(wheel, tmp_path)
    assert result.output is not None and result.output.name.endswith("musllinux_1_1_armv7l.whl")
