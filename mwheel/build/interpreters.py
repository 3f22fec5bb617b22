"""Target interpreters: run and asked for their facts, or described from shipped facts.

The extension suffix (``EXT_SUFFIX``), SOABI and version come from the interpreter the wheel
is for, never from the one mwheel runs on: a build for python3.12 from a python3.11 process
must name its module ``.cpython-312-...so``.

A native build runs each interpreter once (``-i``, ``-f`` or the running one). A cross build
cannot run the target's interpreter, so ``-i python3.11`` names a version and the facts come
from ``mwheel/build/data/targets.json`` (what CPython's own build writes into its sysconfig
on that target). Discovery knows the places the official installers use: the ``py``
launcher on Windows (``py -3.11``) and the framework builds on macOS.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mwheel.build.targets import Target, cpython_versions, free_threaded_versions
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
# -i names that stand for a version: python3.11, python3.13t, 3.12, cp311.
_VERSION_NAME = re.compile(r"^(?:python)?(3)\.(\d+)(t?)(?:\.exe)?$|^cp(3)(\d+)(t?)$")
# Where the python.org installers and Homebrew put their interpreters on macOS.
_MACOS_PLACES = (
    "/Library/Frameworks/Python.framework/Versions/{v}/bin/python{v}",
    "/opt/homebrew/bin/python{v}",
    "/usr/local/bin/python{v}",
)


@dataclass(frozen=True)
class Interpreter:
    executable: Path | None  # None: described from shipped facts (a cross build)
    implementation: str  # "cpython", "pypy", ...
    version: tuple[int, int]
    ext_suffix: str
    soabi: str
    gil_disabled: bool
    pointer_bits: int = 64

    @property
    def python_tag(self) -> str:
        short = {"cpython": "cp", "pypy": "pp", "graalpy": "graalpy"}.get(
            self.implementation, self.implementation
        )
        return f"{short}{self.version[0]}{self.version[1]}"

    @property
    def abi_tag(self) -> str:
        if self.implementation == "cpython":
            return f"cp{self.version[0]}{self.version[1]}" + ("t" if self.gil_disabled else "")
        # PyPy and others: the SOABI with '-' and '.' as '_' (pypy310-pp73 -> pypy310_pp73).
        return self.soabi.replace("-", "_").replace(".", "_") or "none"

    def __str__(self) -> str:
        where = self.executable or "shipped facts"
        return f"{self.implementation} {self.version[0]}.{self.version[1]} ({where})"


def for_target(target: Target, version: tuple[int, int], free_threaded: bool) -> Interpreter:
    """CPython ``version`` on ``target``, from the facts mwheel ships."""
    known = cpython_versions() if not free_threaded else free_threaded_versions()
    if version not in known:
        what = f"{version[0]}.{version[1]}{'t' if free_threaded else ''}"
        raise BuildError(
            f"no facts for CPython {what} on {target.triple} "
            f"(known: {', '.join(f'3.{m}' for _, m in known)}); cross builds need one of them"
        )
    suffix = target.ext_suffix(version, free_threaded)
    soabi = suffix.split(".")[1] if target.os != "windows" else ""
    return Interpreter(None, "cpython", version, suffix, soabi, free_threaded, target.pointer_width)


def version_of_name(name: str) -> tuple[tuple[int, int], bool] | None:
    """``python3.11`` -> ((3, 11), False); ``python3.13t`` -> ((3, 13), True); else None."""
    m = _VERSION_NAME.match(Path(name).name.lower())
    if m is None:
        return None
    major, minor, t = (m[1], m[2], m[3]) if m[1] else (m[4], m[5], m[6])
    return (int(major), int(minor)), bool(t)


def probe(executable: str | Path, launcher: tuple[str, ...] = ()) -> Interpreter:
    """Run the interpreter once and read its facts; a BuildError names it when that fails.

    ``launcher`` runs it through another program (``("py", "-3.11")`` on Windows).
    """
    exe = str(executable)
    if launcher:
        cmd = [*launcher, "-c", _PROBE]
    else:
        found = shutil.which(exe) if not Path(exe).is_file() else exe
        if not found:
            raise BuildError(f"interpreter {exe} not found")
        cmd = [found, "-c", _PROBE]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        data = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        raise BuildError(f"interpreter {exe} does not run as Python: {exc}") from None
    return Interpreter(
        Path(data["executable"]),
        data["implementation"],
        (data["version"][0], data["version"][1]),
        data["ext_suffix"],
        data["soabi"],
        data["gil_disabled"],
        data["pointer_bits"],
    )


def _locate(version: str) -> Interpreter | None:
    """python<version> on PATH, else through ``py -<version>`` or in the macOS places."""
    exe = shutil.which(f"python{version}")
    if exe:
        try:
            return probe(exe)
        except BuildError:
            pass  # a pyenv shim for a version that is not installed
    launcher = shutil.which("py") if sys.platform == "win32" else None
    if launcher:
        try:
            return probe(f"py -{version}", launcher=(launcher, f"-{version}"))
        except BuildError:
            return None
    if sys.platform == "darwin":
        for place in _MACOS_PLACES:
            path = Path(place.format(v=version))
            if path.is_file():
                return probe(path)
    return None


def find_interpreters(names: tuple[str, ...], search: bool) -> list[Interpreter]:
    """Interpreters named with ``-i``, those found with ``-f``, else the one running mwheel.

    Duplicates (the same executable reached by two names) are kept once.
    """
    found: dict[Path | None, Interpreter] = {}
    for name in names:
        located = None
        if not Path(name).is_file() and shutil.which(name) is None:
            parsed = version_of_name(name)
            if parsed is not None:
                v = parsed[0]
                located = _locate(f"{v[0]}.{v[1]}{'t' if parsed[1] else ''}")
        interp = located or probe(name)
        found.setdefault(interp.executable, interp)
    if search:
        for version in _FIND_VERSIONS:
            interp_or_none = _locate(version)
            if interp_or_none is not None:
                found.setdefault(interp_or_none.executable, interp_or_none)
        if not found:
            raise BuildError(
                "no Python interpreter found on PATH (looked for "
                f"python{_FIND_VERSIONS[0]} to python{_FIND_VERSIONS[-1]})"
            )
    if not found:
        found[Path(sys.executable)] = probe(sys.executable)
    return list(found.values())


def cross_interpreters(
    target: Target, names: tuple[str, ...], search: bool, abi3: tuple[int, int] | None
) -> list[Interpreter]:
    """The target interpreters of a cross build, from ``-i`` names and the shipped facts.

    Without ``-i``: the abi3 floor for an abi3 crate, every shipped version with ``-f``,
    else the version of the Python running mwheel.
    """
    out: list[Interpreter] = []
    for name in names:
        parsed = version_of_name(name)
        if parsed is None:
            raise BuildError(
                f"-i {name}: cross-compiling for {target.triple}, the target interpreter "
                "cannot run here; name its version instead (-i python3.11, -i python3.13t)"
            )
        out.append(for_target(target, *parsed))
    if not out:
        if abi3 is not None:
            out.append(for_target(target, abi3, False))
        elif search:
            out += [for_target(target, v, False) for v in cpython_versions() if v >= (3, 9)]
        else:
            out.append(for_target(target, sys.version_info[:2], False))
    return list({(i.version, i.gil_disabled): i for i in out}.values())
