"""Target interpreters: found on PATH or named, then asked for their facts by running them.

The extension suffix (``EXT_SUFFIX``), SOABI and version come from the interpreter the wheel
is for, never from the one mwheel runs on: a build for python3.12 from a python3.11 process
must name its module ``.cpython-312-...so``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mwheel.errors import BuildError

_PROBE = r"""
import json, sys, sysconfig
print(json.dumps({
    "executable": sys.executable,
    "implementation": sys.implementation.name,
    "version": list(sys.version_info[:2]),
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or "",
    "soabi": sysconfig.get_config_var("SOABI") or "",
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "pointer_bits": 64 if sys.maxsize > 2**32 else 32,
}))
"""

# Versions -f looks for, oldest first (pyo3 0.30 supports 3.9 and later).
_FIND_VERSIONS = [f"3.{m}" for m in range(9, 16)]


@dataclass(frozen=True)
class Interpreter:
    executable: Path
    implementation: str  # "cpython", "pypy", ...
    version: tuple[int, int]
    ext_suffix: str
    soabi: str
    gil_disabled: bool

    @property
    def python_tag(self) -> str:
        short = {"cpython": "cp", "pypy": "pp", "graalpy": "graalpy"}.get(
            self.implementation, self.implementation
        )
        if short == "pp":
            return f"pp{self.version[0]}{self.version[1]}"
        return f"{short}{self.version[0]}{self.version[1]}"

    @property
    def abi_tag(self) -> str:
        if self.implementation == "cpython":
            return f"cp{self.version[0]}{self.version[1]}" + ("t" if self.gil_disabled else "")
        # PyPy and others: the SOABI with '-' and '.' as '_' (pypy310-pp73 -> pypy310_pp73).
        return self.soabi.replace("-", "_").replace(".", "_") or "none"

    def __str__(self) -> str:
        return f"{self.implementation} {self.version[0]}.{self.version[1]} ({self.executable})"


def probe(executable: str | Path) -> Interpreter:
    """Run ``executable`` once and read its facts; a BuildError names it when that fails."""
    exe = str(executable)
    found = shutil.which(exe) if not Path(exe).is_file() else exe
    if not found:
        raise BuildError(f"interpreter {exe} not found")
    try:
        proc = subprocess.run(
            [found, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
        )
        data = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        raise BuildError(f"interpreter {exe} does not run as Python: {exc}") from None
    if data["pointer_bits"] != 64:
        raise BuildError(f"interpreter {exe} is 32-bit; only 64-bit targets are supported")
    return Interpreter(
        Path(data["executable"]),
        data["implementation"],
        (data["version"][0], data["version"][1]),
        data["ext_suffix"],
        data["soabi"],
        data["gil_disabled"],
    )


def find_interpreters(names: tuple[str, ...], search: bool) -> list[Interpreter]:
    """Interpreters named with ``-i``, those on PATH with ``-f``, else the one running mwheel.

    Duplicates (the same executable reached by two names) are kept once.
    """
    found: dict[Path, Interpreter] = {}
    for name in names:
        interp = probe(name)
        found.setdefault(interp.executable, interp)
    if search:
        for version in _FIND_VERSIONS:
            exe = shutil.which(f"python{version}")
            if exe:
                try:
                    interp = probe(exe)
                except BuildError:
                    continue  # a pyenv shim for a version that is not installed
                found.setdefault(interp.executable, interp)
        if not found:
            raise BuildError(
                "no Python interpreter found on PATH (looked for "
                f"python{_FIND_VERSIONS[0]} to python{_FIND_VERSIONS[-1]})"
            )
    if not found:
        found[Path(sys.executable)] = probe(sys.executable)
    return list(found.values())
