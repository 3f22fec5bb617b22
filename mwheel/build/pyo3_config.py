"""A complete PyO3 interpreter configuration for a target interpreter that cannot run here.

pyo3's build script normally asks a Python interpreter for its facts; when cross-compiling
there is no interpreter of the target to ask, and pyo3 stops with ``PYO3_CROSS_PYTHON_VERSION
... must be specified``. ``PYO3_CONFIG_FILE`` (pyo3-build-config's ``key=value`` file, read
by every pyo3 since 0.16) replaces the question with the answer: implementation, version,
whether libpython is shared, pointer width and build flags (``Py_GIL_DISABLED`` for a
free-threaded CPython). ``abi3`` is left to the crate's ``abi3-py3X`` features, which pyo3
applies on top of a config file; ``lib_name`` to pyo3's per-target default.

The file lives at a stable path in the cargo target directory and is rewritten only when
its text changes: pyo3 reruns its build script (and rebuilds everything above it) when the
file changes, so an unchanged file keeps a second build warm.
"""

from __future__ import annotations

from pathlib import Path

from mwheel.build.interpreters import Interpreter
from mwheel.build.targets import Target
from mwheel.errors import OutputError

_IMPLEMENTATION = {"cpython": "CPython", "pypy": "PyPy", "graalpy": "GraalPy"}


def config_text(interp: Interpreter, target: Target) -> str:
    """pyo3-build-config's file for ``interp`` running on ``target``."""
    flags = "Py_GIL_DISABLED" if interp.gil_disabled else ""
    lines = [
        f"implementation={_IMPLEMENTATION.get(interp.implementation, interp.implementation)}",
        f"version={interp.version[0]}.{interp.version[1]}",
        # CPython on Linux/macOS may be static or shared; an extension module never links
        # libpython there, so the value only matters for Windows, where it is shared.
        "shared=true",
        f"pointer_width={target.pointer_width}",
        f"build_flags={flags}",
        "suppress_build_script_link_lines=false",
    ]
    return "\n".join(lines) + "\n"


def write_config(directory: Path, interp: Interpreter, target: Target) -> Path:
    """Write (only if changed) the config for ``interp`` on ``target``; return its path."""
    tag = interp.python_tag + ("t" if interp.gil_disabled else "")
    path = (directory / f"pyo3-{target.triple}-{tag}.cfg").resolve()
    text = config_text(interp, target)
    try:
        if path.is_file() and path.read_text() == text:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the pyo3 configuration: {exc}") from None
    return path
