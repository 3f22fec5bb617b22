"""A repaired Windows wheel really loads: under wine, the way CPython 3.8+ loads extensions.

The structural checks of test_windows_repair.py show the imports renamed to DLLs that
exist and export the right symbols; only a loader shows the result runs. ``loader.exe``
(fixtures/windows/loader.c) does what CPython and the patched ``__init__.py`` do:
AddDllDirectory on the wheel's ``.libs`` directory (and on the directory of a stand-in
``python3.dll``, which a Python installation provides), then
``LoadLibraryExW(LOAD_LIBRARY_SEARCH_DEFAULT_DIRS | LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR)`` on
the extension, then calls ``ext_value`` and prints it.

Skipped when wine is not installed (Debian: ``apt-get install wine64``, which puts the
loader at /usr/lib/wine/wine64, or ``wine``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fixturelib.build import cache_root
from fixturelib.wheels import unpack_wheel
from fixturelib.windows import EXT_VALUE, WindowsFixture, build_loader, build_windows_fixture

from mwheel.audit.context import AuditOptions
from mwheel.repair import repair_wheel
from mwheel.repair.model import RepairOptions


def _wine() -> str | None:
    for candidate in (shutil.which("wine64"), shutil.which("wine"), "/usr/lib/wine/wine64"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


WINE = _wine()
pytestmark = pytest.mark.skipif(WINE is None, reason="wine is not installed")


def _windows_path(path: Path) -> str:
    """wine maps the Unix root to drive Z:."""
    return "Z:" + str(path.resolve()).replace("/", "\\")


def _load(
    module: Path, dirs: list[Path], preload: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    assert WINE is not None
    prefix = cache_root() / "wineprefix"
    prefix.mkdir(parents=True, exist_ok=True)
    # No Mono/Gecko install prompts when the prefix is created.
    env = dict(
        os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml="
    )
    argv = [
        WINE,
        str(build_loader()),
        _windows_path(module),
        "ext_value",
        *map(_windows_path, dirs),
        *(f"preload={_windows_path(p)}" for p in preload),
    ]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)


def _repaired(fx: WindowsFixture, tmp_path: Path) -> Path:
    result = repair_wheel(
        fx.wheel, tmp_path / "out", RepairOptions(), AuditOptions(lib_paths=(fx.lib_dir,))
    )
    assert result.output is not None
    return unpack_wheel(result.output, tmp_path / "site-packages")


def test_repaired_extension_loads_and_runs(tmp_path: Path) -> None:
    fx = build_windows_fixture(tmp_path)
    original = unpack_wheel(fx.wheel, tmp_path / "original")
    # Control: as built, the extension's DLLs are nowhere the loader looks.
    before = _load(original / fx.extension, [fx.python_dir])
    assert before.stdout.strip() != str(EXT_VALUE)
    site = _repaired(fx, tmp_path)
    shutil.rmtree(fx.lib_dir)  # the repaired wheel must not need them
    after = _load(site / fx.extension, [site / "winext.libs", fx.python_dir])
    assert after.stdout.strip() == str(EXT_VALUE), after.stderr[-2000:]


def test_renamed_delay_import_loads(tmp_path: Path) -> None:
    """priv_outer delay-loads priv_inner: its delay-load helper asks for the renamed name,
    which resolves to the DLL the patched __init__.py preloads."""
    fx = build_windows_fixture(tmp_path, delay=True)
    site = _repaired(fx, tmp_path)
    libs = site / "winext.libs"
    inner = next(libs.glob("priv_inner-*.dll"))
    init = (site / "winext" / "__init__.py").read_text()
    assert repr(inner.name) in init  # the patch preloads exactly this file
    after = _load(site / fx.extension, [libs, fx.python_dir], preload=(inner,))
    assert after.stdout.strip() == str(EXT_VALUE), after.stderr[-2000:]
