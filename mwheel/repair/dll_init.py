"""The Python that makes a repaired Windows wheel's grafted DLLs findable at import time.

Since Python 3.8, Windows extension modules are loaded with
``LOAD_LIBRARY_SEARCH_DEFAULT_DIRS | LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR``: a DLL's imports are
looked up beside it, in System32 and in directories added by ``os.add_dll_directory``,
never on PATH. Grafts live in ``<dist>.libs/``, so each top-level package's ``__init__.py``
calls ``os.add_dll_directory`` on it before any of its extension modules is imported (PATH
is extended instead on Python < 3.8, which still searches it; nothing happens off Windows).

The call goes after the module docstring and the ``from __future__`` imports, which must
stay first. Extension modules that no ``__init__.py`` precedes (top-level modules, modules
at the root of a namespace package) get the same code as a module of their own, imported
from a ``.pth`` file, which ``site`` runs at interpreter start-up.
"""

from __future__ import annotations

import ast
import hashlib
import io
import tokenize

from mwheel.errors import RepairError

MARKER = "# start mwheel DLL patch"
_END = "# end mwheel DLL patch"


def patch_code(
    libs_dir: str, depth: int, newline: str = "\n", preload: tuple[str, ...] = ()
) -> str:
    """The patch for a module ``depth`` directories below site-packages (0: at its root).

    ``preload`` names grafted DLLs that some binary delay-loads: the delay-load helper looks
    a DLL up with plain ``LoadLibrary``, whose search ignores ``add_dll_directory``, but it
    does find a module of that name already loaded, so these are loaded up front by path.

    Written for every Python 3 (no f-strings, no walrus), since the wheel's tags, not the
    interpreter running mwheel, decide which Pythons import it.
    """
    func = "_mwheel_dll_directory_" + hashlib.sha256(libs_dir.encode()).hexdigest()[:8]
    parts = ", ".join(["os.pardir"] * depth + [repr(libs_dir)])
    lines = [
        f"{MARKER}: let Windows find the DLLs bundled in {libs_dir}",
        f"def {func}():",
        "    import os",
        "    import sys",
        "",
        '    if sys.platform != "win32":',
        "        return",
        f"    libs = os.path.abspath(os.path.join(os.path.dirname(__file__), {parts}))",
        "    if not os.path.isdir(libs):",
        "        return",
        '    if hasattr(os, "add_dll_directory"):  # Python 3.8+',
        "        os.add_dll_directory(libs)",
        "    else:  # older Pythons search PATH for an extension's DLLs",
        '        os.environ["PATH"] = libs + os.pathsep + os.environ.get("PATH", "")',
    ]
    if preload:
        lines += [
            "    # Delay-loaded DLLs: found by name once loaded (plain LoadLibrary ignores",
            "    # add_dll_directory).",
            "    import ctypes",
            "",
            f"    for name in {tuple(preload)!r}:",
            "        ctypes.WinDLL(os.path.join(libs, name))",
        ]
    lines += [
        "",
        "",
        f"{func}()",
        f"del {func}",
        _END,
    ]
    return newline.join(lines) + newline


def _insertion_line(tree: ast.Module, lines: list[str]) -> int:
    """How many leading lines stay before the patch: docstring and __future__ imports, or
    else a shebang and coding line (which must remain on lines 1-2)."""
    after = 0
    body = tree.body
    i = 0
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        after = body[0].end_lineno or after
        i = 1
    while i < len(body) and isinstance(body[i], ast.ImportFrom) and body[i].module == "__future__":  # type: ignore[attr-defined]
        after = body[i].end_lineno or after
        i += 1
    if after == 0:
        while after < min(2, len(lines)) and lines[after].lstrip().startswith("#"):
            after += 1
    return after


def patch_init(
    member: str, source: bytes, libs_dir: str, depth: int, preload: tuple[str, ...] = ()
) -> bytes:
    """``source`` (an ``__init__.py``) with the patch inserted; unchanged if already there."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(encoding)
        tree = ast.parse(text)
    except (SyntaxError, UnicodeDecodeError, LookupError, ValueError) as exc:
        raise RepairError(
            f"{member}: cannot add the DLL directory call: the file does not parse ({exc})"
        ) from None
    if f"{MARKER}: let Windows find the DLLs bundled in {libs_dir}" in text:
        return source
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    at = _insertion_line(tree, lines)
    head = "".join(lines[:at])
    if head and not head.endswith(("\n", "\r")):
        head += newline
    patch = patch_code(libs_dir, depth, newline, preload)
    tail = "".join(lines[at:])
    joined = head + (newline if head else "") + patch + (newline + tail if tail else "")
    return joined.encode(encoding)


def startup_module(libs_dir: str, preload: tuple[str, ...] = ()) -> bytes:
    """A module at the root of site-packages doing the patch, for a ``.pth`` to import."""
    doc = '"""Adds the DLL directory of a repaired wheel (written by mwheel repair)."""\n\n'
    return (doc + patch_code(libs_dir, 0, preload=preload)).encode("utf-8")


def pth_line(module: str) -> bytes:
    """A ``.pth`` line: ``site`` executes lines that start with ``import``."""
    return f"import {module}\n".encode()
