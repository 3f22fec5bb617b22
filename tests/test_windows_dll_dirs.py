"""The static reading of a wheel's start-up code for DLL directories (windows_dll_dirs.py).

Each case is a real pattern: delvewheel's ``__init__.py`` patch, pywin32's ``.pth`` +
bootstrap loop over ``<package>.__path__``, pathlib spellings, ``ctypes`` preloading, PATH.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from fixturelib.wheels import make_wheel, wheel_members
from fixturelib.windows import INIT_PY, build_windows_fixture

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.audit.windows_dll_dirs import DllDirectories, dll_directories
from mwheel.repair import repair_wheel


def _scan(tmp_path: Path, files: dict[str, str]) -> DllDirectories:
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return dll_directories(wheel, {name: name for name in files})


DELVEWHEEL = """
def _delvewheel_patch_1_7_0():
    import os
    libs_dir = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, 'pkg.libs'))
    if os.path.isdir(libs_dir):
        os.add_dll_directory(libs_dir)

_delvewheel_patch_1_7_0()
"""


@pytest.mark.parametrize(
    ("files", "added"),
    [
        ({"pkg/__init__.py": DELVEWHEEL, "pkg.libs/x.dll": ""}, {"pkg.libs"}),
        (
            {
                "pkg/__init__.py": "from pathlib import Path\nimport os\n"
                "os.add_dll_directory(str(Path(__file__).resolve().parent / 'bin'))\n",
                "pkg/bin/x.dll": "",
            },
            {"pkg/bin"},
        ),
        (
            {
                "pkg/__init__.py": "from . import _loader\n",
                "pkg/_loader.py": "import os\nhere = os.path.dirname(__file__)\n"
                "os.add_dll_directory(os.path.join(here, 'dlls'))\n",
                "pkg/dlls/x.dll": "",
            },
            {"pkg/dlls"},
        ),
        (
            {
                "site.pth": "lib\nimport boot\n",
                "lib/boot.py": "import os, dllpkg\nfor p in dllpkg.__path__:\n"
                "    os.add_dll_directory(p)\n",
                "dllpkg/x.dll": "",
            },
            {"dllpkg"},
        ),
        # Not imported by anything that runs: adds nothing.
        (
            {"tools/setup_dlls.py": "import os\nos.add_dll_directory(os.path.dirname(__file__))\n"},
            set(),
        ),
        # A directory outside site-packages, or computed at run time: not understood.
        ({"pkg/__init__.py": "import os, sys\nos.add_dll_directory(sys.prefix)\n"}, set()),
    ],
)
def test_added_directories(tmp_path: Path, files: dict[str, str], added: set[str]) -> None:
    result = _scan(tmp_path, files)
    assert set(result.added) == added


def test_preload_and_path(tmp_path: Path) -> None:
    result = _scan(
        tmp_path,
        {
            "pkg/__init__.py": "import ctypes, os\n"
            "libs = os.path.join(os.path.dirname(__file__), '.libs')\n"
            "for name in os.listdir(libs):\n"
            "    ctypes.WinDLL(os.path.join(libs, name))\n"
            "os.environ['PATH'] = os.path.join(os.path.dirname(__file__), 'bin') + ';' + "
            "os.environ['PATH']\n",
            "pkg/.libs/a.dll": "",
        },
    )
    assert result.covers("pkg/.libs/a.dll")
    assert not result.covers("pkg/bin/b.dll")
    assert set(result.on_path) == {"pkg/bin"}


def test_libs_directory_needs_the_init_patch(tmp_path: Path) -> None:
    """A repaired wheel's ``winext.libs`` is found through the ``__init__.py`` patch; the
    same wheel with the original ``__init__.py`` gets a warning for each grafted DLL."""
    fx = build_windows_fixture(tmp_path / "fx", "x86_64")
    repaired = repair_wheel(
        fx.wheel, tmp_path / "out", audit_options=AuditOptions(lib_paths=(fx.lib_dir,))
    ).output
    assert repaired is not None
    assert not [f for f in audit_wheel(repaired).findings if f.severity == "warning"]
    members: dict[str, bytes | Path] = {
        n: d for n, d in wheel_members(repaired).items() if ".dist-info/" not in n
    }
    members["winext/__init__.py"] = INIT_PY
    unpatched = make_wheel(tmp_path / "bare", "winext", "1.0", "cp311-cp311-win_amd64", members)
    report = audit_wheel(unpatched)
    assert report.compliant
    warned = {
        dict(f.details)["path"] for f in report.findings if f.code == "library-not-on-search-path"
    }
    assert warned == {m for m in members if m.startswith("winext.libs/priv_outer")}
