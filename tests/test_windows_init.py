"""The ``__init__.py`` patch that adds a repaired wheel's DLL directory (repair/dll_init.py)."""

from __future__ import annotations

import ast
import ctypes
import os
import sys
from pathlib import Path

import pytest

from mwheel.errors import RepairError
from mwheel.repair.dll_init import MARKER, patch_init, pth_line, startup_module

LIBS = "demo.libs"


def _body_kinds(source: bytes) -> list[str]:
    return [type(node).__name__ for node in ast.parse(source).body]


def test_after_docstring_and_future_imports() -> None:
    source = b'"""Doc\n\nstring."""\nfrom __future__ import annotations\nimport os\nX = 1\n'
    out = patch_init("demo/__init__.py", source, LIBS, 1)
    text = out.decode()
    assert text.startswith('"""Doc\n\nstring."""\nfrom __future__ import annotations\n')
    assert text.index(MARKER) < text.index("import os\nX = 1")
    assert ast.get_docstring(ast.parse(out)) == "Doc\n\nstring."
    kinds = _body_kinds(out)
    assert kinds[:3] == ["Expr", "ImportFrom", "FunctionDef"]
    compile(out, "demo/__init__.py", "exec")


def test_empty_and_comment_only_files() -> None:
    assert _body_kinds(patch_init("a", b"", LIBS, 1))[0] == "FunctionDef"
    out = patch_init(
        "a", b"#!/usr/bin/env python\n# -*- coding: latin-1 -*-\nX = '\xe9'\n", LIBS, 1
    )
    lines = out.split(b"\n")
    assert lines[1] == b"# -*- coding: latin-1 -*-"  # the coding line stays on line 2
    assert b"X = '\xe9'" in out  # re-encoded in the file's own encoding
    compile(out, "a", "exec")


def test_crlf_and_idempotent() -> None:
    source = b'"""Doc."""\r\nX = 1\r\n'
    out = patch_init("a", source, LIBS, 2)
    assert b"\n" not in out.replace(b"\r\n", b"")
    assert b"os.pardir, os.pardir, 'demo.libs'" in out
    assert patch_init("a", out, LIBS, 2) == out


def test_unparsable_init_is_an_error() -> None:
    with pytest.raises(RepairError, match=r"pkg/__init__\.py"):
        patch_init("pkg/__init__.py", b"def broken(:\n", LIBS, 1)


def _run(code: bytes, file: Path) -> None:
    exec(compile(code, str(file), "exec"), {"__file__": str(file), "__name__": "demo"})


def test_patch_is_a_no_op_off_windows(tmp_path: Path) -> None:
    (tmp_path / LIBS).mkdir()
    path_before = os.environ.get("PATH")
    _run(patch_init("i", b"", LIBS, 1), tmp_path / "demo" / "__init__.py")
    assert os.environ.get("PATH") == path_before


def test_patch_on_windows_adds_the_directory_and_preloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the generated code as Windows would, recording what it asks of the OS."""
    (tmp_path / LIBS).mkdir()
    added: list[str] = []
    loaded: list[str] = []
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(os, "add_dll_directory", added.append, raising=False)
    monkeypatch.setattr(ctypes, "WinDLL", loaded.append, raising=False)
    _run(patch_init("i", b"", LIBS, 1, preload=("x-1234.dll",)), tmp_path / "demo" / "__init__.py")
    assert added == [str(tmp_path / LIBS)]
    assert loaded == [str(tmp_path / LIBS / "x-1234.dll")]
    # Python < 3.8 (no add_dll_directory): PATH instead.
    monkeypatch.delattr(os, "add_dll_directory")
    monkeypatch.setenv("PATH", "/bin")
    _run(startup_module(LIBS), tmp_path / "_mwheel_dlls_demo.py")
    assert os.environ["PATH"] == str(tmp_path / LIBS) + os.pathsep + "/bin"


def test_pth_line() -> None:
    assert pth_line("_mwheel_dlls_demo") == b"import _mwheel_dlls_demo\n"
