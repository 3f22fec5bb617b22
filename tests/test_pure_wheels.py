"""Pure wheels (platform ``any``) that ship binaries: compliant unless Python imports them.

Real bytes: setuptools 70.0.0 from PyPI (py3-none-any with eight Windows launchers) and
wheels built here around an extension module and a ctypes library compiled with gcc.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixturelib.build import compile_c
from fixturelib.pypi import pinned_wheel
from fixturelib.wheels import make_wheel

from mwheel.audit import audit_wheel
from mwheel.cli import main
from mwheel.errors import RepairError
from mwheel.repair import repair_wheel
from mwheel.repair.model import RepairOptions

LINUX = Path(__file__).resolve().parent.parent / "fixtures" / "linux"


@pytest.fixture(scope="module")
def setuptools70() -> Path:
    return pinned_wheel("macwin-real", "setuptools==70.0.0")


def test_setuptools_launchers_are_data(
    setuptools70: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = audit_wheel(setuptools70)
    assert report.compliant and report.best_tag == "any"
    assert not [f for f in report.findings if f.severity != "info"]
    [data] = [f for f in report.findings if f.code == "binary-in-pure-wheel"]
    files = set(dict(data.details)["files"].split(","))
    assert {"setuptools/cli-64.exe", "setuptools/gui-arm64.exe", "setuptools/cli-32.exe"} <= files
    assert len(files) == len(report.binaries) == 8
    assert main(["audit", str(setuptools70)]) == 0
    assert "OK" in capsys.readouterr().out


def test_repair_of_pure_wheel_writes_nothing(setuptools70: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = repair_wheel(setuptools70, out)
    assert result.output is None
    assert "pure wheel" in result.plan.notes[0] and "nothing written" in result.plan.notes[0]
    assert not out.exists() or not any(out.iterdir())
    assert main(["repair", "-w", str(out), str(setuptools70)]) == 0
    assert not out.exists() or not any(out.iterdir())


def test_repair_copies_pure_wheel_byte_identical_on_request(
    setuptools70: Path, tmp_path: Path
) -> None:
    result = repair_wheel(setuptools70, tmp_path, RepairOptions(allow_pure=True))
    assert result.output == tmp_path / setuptools70.name
    assert result.output.read_bytes() == setuptools70.read_bytes()
    # Repairing the copy in place leaves it as it is.
    again = repair_wheel(result.output, tmp_path, RepairOptions(allow_pure=True))
    assert again.output == result.output
    assert result.output.read_bytes() == setuptools70.read_bytes()


def _extension() -> Path:
    return compile_c([LINUX / "clean.c"], "_ext.so", compiler="gcc")


def _ctypes_library() -> Path:
    return compile_c(
        [LINUX / "runpath_lib.c"], "libhelper.so", compiler="gcc", include_python=False
    )


def test_ctypes_library_in_pure_wheel_is_data(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path,
        "purelib",
        "1.0",
        "py3-none-any",
        {"purelib/__init__.py": b"", "purelib/libhelper.so": _ctypes_library()},
        root_is_purelib=True,
    )
    report = audit_wheel(wheel)
    assert report.compliant and report.best_tag == "any"
    assert [f.code for f in report.findings] == ["binary-in-pure-wheel"]


def test_extension_module_in_pure_wheel_is_an_error(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path,
        "pureext",
        "1.0",
        "py3-none-any",
        {"pureext/__init__.py": b"", "pureext/_ext.so": _extension()},
        root_is_purelib=True,
    )
    report = audit_wheel(wheel)
    assert not report.compliant
    errors = [f for f in report.findings if f.severity == "error"]
    assert [f.code for f in errors] == ["extension-in-pure-wheel"]
    assert errors[0].member == "pureext/_ext.so" and "Linux x86_64" in errors[0].message
    # The platform rules judged the module: the report says which tag it would honour.
    assert report.best_tag is not None and report.best_tag.startswith("manylinux_")
    assert main(["audit", str(wheel)]) == 1
    out = tmp_path / "out"
    with pytest.raises(RepairError, match="pure wheel is not retagged") as exc:
        repair_wheel(wheel, out)
    assert exc.value.exit_code == 6
    assert not out.exists() or not any(out.iterdir())


def test_extension_module_with_fallback_is_a_warning(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path,
        "purefb",
        "1.0",
        "py3-none-any",
        {
            "purefb/__init__.py": b"",
            "purefb/_ext.so": _extension(),
            "purefb/_ext.py": b"def add(a, b):\n    return a + b\n",
        },
        root_is_purelib=True,
    )
    report = audit_wheel(wheel)
    assert report.compliant and report.best_tag == "any"
    [warning] = [f for f in report.findings if f.severity == "warning"]
    assert warning.code == "extension-in-pure-wheel" and "pure-Python module" in warning.message


def test_pure_wheel_without_binaries_is_left_alone(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path, "plain", "1.0", "py3-none-any", {"plain.py": b"x = 1\n"}, root_is_purelib=True
    )
    out = tmp_path / "out"
    assert repair_wheel(wheel, out).output is None
    copy = repair_wheel(wheel, out, RepairOptions(allow_pure=True)).output
    assert copy is not None and copy.read_bytes() == wheel.read_bytes()
    shutil.rmtree(out)
