"""Real PyPI wheels for the Windows rules of issue 14 (``tests/data/wheels/macwin-real.lst``).

- MarkupSafe 3.0.2 ``cp313t`` (free-threaded CPython 3.13): its extension imports
  ``python313t.dll``, the interpreter, never an external DLL to graft.
- pywin32 306: ``pywintypes311.dll`` and ``pythoncom311.dll`` live in ``pywin32_system32/``,
  where Windows finds them only because ``pywin32.pth`` imports ``pywin32_bootstrap``, which
  passes that directory to ``os.add_dll_directory``. The same bytes without the ``.pth``
  file (or with a bootstrap that only extends PATH) get a warning.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib.pypi import pinned_wheel
from fixturelib.wheels import make_wheel, normalize_name, wheel_members

from mwheel.audit import audit_wheel
from mwheel.audit.findings import Finding
from mwheel.audit.windows_resolve import windows_policy
from mwheel.cli import main

_GENERATED = ("WHEEL", "METADATA", "RECORD")


def _rebuilt(
    wheel: Path,
    dest: Path,
    tag: str,
    drop: tuple[str, ...] = (),
    add: dict[str, bytes] | None = None,
) -> Path:
    """The wheel's own member bytes in a new wheel (new tag, members dropped or replaced)."""
    name, version = wheel.name.split("-")[:2]
    dist_info = f"{normalize_name(name)}-{version}.dist-info"
    members: dict[str, bytes | Path] = {}
    for member, data in wheel_members(wheel).items():
        top, _, rest = member.partition("/")
        if member in drop or (top.endswith(".dist-info") and rest in _GENERATED):
            continue
        members[f"{dist_info}/{rest}" if top.endswith(".dist-info") else member] = data
    members.update(add or {})
    return make_wheel(dest, name, version, tag, members)


@pytest.fixture(scope="module")
def markupsafe_cp313t() -> Path:
    return pinned_wheel("macwin-real", "markupsafe==3.0.2", "win_amd64")


@pytest.fixture(scope="module")
def pywin32() -> Path:
    return pinned_wheel("macwin-real", "pywin32==306", "win_amd64")


def test_free_threaded_interpreter_dll_is_the_interpreter(markupsafe_cp313t: Path) -> None:
    report = audit_wheel(markupsafe_cp313t)
    assert report.compliant and report.best_tag == "win_amd64"
    assert report.external_libraries == {}
    graph = report.verdicts["windows"].graph
    kinds = {d.name.lower(): d.kind for d in graph.dependencies}
    assert kinds["python313t.dll"] == "system"


def test_free_threaded_wheel_repairs(markupsafe_cp313t: Path, tmp_path: Path) -> None:
    assert main(["repair", "-w", str(tmp_path), str(markupsafe_cp313t)]) == 0
    [out] = tmp_path.glob("*.whl")
    assert out.name == markupsafe_cp313t.name
    assert audit_wheel(out).compliant


def test_gil_wheel_importing_free_threaded_dll_is_wrong(
    markupsafe_cp313t: Path, tmp_path: Path
) -> None:
    """The same extension in a wheel tagged for the GIL build: python313t.dll is another
    interpreter's DLL than cp313's python313.dll."""
    wrong = _rebuilt(markupsafe_cp313t, tmp_path, "cp313-cp313-win_amd64")
    report = audit_wheel(wrong)
    assert not report.compliant
    [finding] = [f for f in report.findings if f.severity == "error"]
    assert finding.code == "library-not-allowed" and "python313t.dll" in finding.message


def test_interpreter_dlls_by_tag() -> None:
    policy = windows_policy()
    cases = {
        ("cp313", "cp313t"): {"python3t.dll", "python313t.dll"},
        ("cp315", "abi3t"): {"python3t.dll", "python315t.dll"},
        ("cp311", "cp311d"): {"python3_d.dll", "python311_d.dll"},
        ("pp310", "pypy310_pp73"): {"libpypy3.10-c.dll", "libpypy3-c.dll"},
        ("graalpy311", "graalpy242_311_native"): {"python-native.dll"},
        ("cp37", "cp37m"): {"python3.dll", "python37.dll"},
        ("cp27", "cp27m"): {"python3.dll", "python27.dll"},
    }
    for (interpreter, abi), dlls in cases.items():
        assert policy.python_dlls((interpreter,), (abi,)) == frozenset(dlls), abi
    for name in ("python313t.dll", "python3t.dll", "Python-Native.dll", "libpypy3.9-c.dll"):
        assert policy.is_python(name), name
    assert not policy.is_python("pythoncom311.dll") and not policy.is_python("python.exe")


def _off_path(findings: tuple[Finding, ...]) -> list[dict[str, str]]:
    return [dict(f.details) for f in findings if f.code == "library-not-on-search-path"]


def test_pywin32_system32_is_added_by_its_pth(pywin32: Path) -> None:
    report = audit_wheel(pywin32)
    assert report.compliant
    assert _off_path(report.findings) == []
    graph = report.verdicts["windows"].graph
    bundled = {d.member for d in graph.dependencies if d.kind == "bundled"}
    assert "pywin32_system32/pywintypes311.dll" in bundled


def test_pywin32_without_pth_warns(pywin32: Path, tmp_path: Path) -> None:
    bare = _rebuilt(pywin32, tmp_path, "cp311-cp311-win_amd64", drop=("pywin32.pth",))
    report = audit_wheel(bare)
    assert report.compliant  # pip installs it; a warning, not an error
    found = {d["library"]: d for d in _off_path(report.findings)}
    assert set(found) == {"pywintypes311.dll", "pythoncom311.dll"}
    assert "win32/win32api.pyd" in found["pywintypes311.dll"]["needed_by"].split(",")
    assert main(["audit", str(bare)]) == 0


def test_pywin32_bootstrap_with_path_only_warns_on_38_plus(pywin32: Path, tmp_path: Path) -> None:
    bootstrap = (
        b"import os\n"
        b"import pywin32_system32\n"
        b"for path in pywin32_system32.__path__:\n"
        b"    os.environ['PATH'] = path + os.pathsep + os.environ['PATH']\n"
    )
    patched = _rebuilt(
        pywin32,
        tmp_path,
        "cp311-cp311-win_amd64",
        add={"win32/lib/pywin32_bootstrap.py": bootstrap},
    )
    [first, *_] = _off_path(audit_wheel(patched).findings)
    report = audit_wheel(patched)
    messages = [f.message for f in report.findings if f.code == "library-not-on-search-path"]
    assert messages and all("only puts it on PATH" in m for m in messages)
    assert first["library"] in ("pywintypes311.dll", "pythoncom311.dll")


def test_vcruntime140_1_is_not_shipped_before_39(pywin32: Path, tmp_path: Path) -> None:
    """pywin32's binaries import VCRUNTIME140_1.dll, which CPython ships from 3.9 only: for
    a wheel whose tags allow 3.8 it is part of the redistributable, not of CPython."""

    def kinds(wheel: Path) -> dict[str, str]:
        return {
            dict(f.details)["library"].lower(): dict(f.details)["runtime"]
            for f in audit_wheel(wheel).findings
            if f.code == "windows-runtime-assumed"
        }

    assert kinds(pywin32)["vcruntime140_1.dll"] == "python"
    old = _rebuilt(pywin32, tmp_path, "cp38-cp38-win_amd64")
    found = kinds(old)
    assert found["vcruntime140_1.dll"] == "vc_redist" and found["vcruntime140.dll"] == "python"
