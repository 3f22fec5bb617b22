"""Which wheel directories the wheel's own Python puts on the Windows DLL search path.

Since Python 3.8 an extension module's DLL imports are searched beside the module, in
System32 and in directories passed to ``os.add_dll_directory``; PATH is no longer searched
(it was before 3.8). A DLL already loaded into the process (``ctypes.WinDLL(path)``) is
also found by name. A DLL bundled elsewhere in the wheel (pywin32's ``pywin32_system32/``)
loads only when the wheel's code does one of these at start-up (a ``.pth`` file, which
``site`` runs, or a module such a file imports) or on import (a package's ``__init__.py``).

This module reads those sources statically, never running them, and recognises simple
patterns: ``os.add_dll_directory(<path>)``, ``os.environ["PATH"] = <path> + ...``,
``ctypes.WinDLL(<path>)``, where ``<path>`` is built from ``__file__``, ``os.path`` calls
(``dirname``, ``join`` with literal parts and ``os.pardir``, ``abspath``...), ``pathlib``
(``Path(...).parent``, ``/``), ``<package>.__path__`` / ``.__file__`` and names assigned
(or looped over) from those. Anything else is not understood and counts as adding nothing.
"""

from __future__ import annotations

import ast
import io
import posixpath
import tokenize
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

_MAX_SOURCE = 1 << 20  # larger .py files are not read: generated data, not start-up code
_PASS_THROUGH = frozenset(
    {"abspath", "realpath", "normpath", "normcase", "fspath", "str", "Path", "PurePath"}
    | {"WindowsPath", "PureWindowsPath", "resolve", "absolute", "expanduser"}
)
_LOADERS = frozenset(
    {"WinDLL", "CDLL", "PyDLL", "OleDLL", "LoadLibrary", "LoadLibraryW", "LoadLibraryExW"}
    | {"LoadLibraryA", "LoadLibraryExA"}
)
_UNKNOWN = "\0"  # a path part that could not be evaluated
_MAX_DEPTH = 8


@dataclass(frozen=True)
class DllDirectories:
    """What the wheel's Python does for the DLL search, as install paths (site-packages)."""

    added: frozenset[str] = frozenset()  # os.add_dll_directory
    on_path: frozenset[str] = frozenset()  # put on PATH (searched by Python < 3.8 only)
    preloaded: frozenset[str] = frozenset()  # DLL files (or dir/* patterns) loaded by path
    by: dict[str, str] = field(default_factory=dict, compare=False)  # directory -> source

    def covers(self, dll: str) -> bool:
        """Whether the DLL at install path ``dll`` is found through ``add_dll_directory``
        or because it is loaded by path first."""
        here = posixpath.dirname(dll)
        return (
            here in self.added
            or dll in self.preloaded
            or posixpath.join(here, _UNKNOWN) in self.preloaded
        )


def _norm(path: str) -> str | None:
    out = posixpath.normpath(path.replace("\\", "/"))
    return None if out.startswith("../") or out == ".." else ("" if out == "." else out)


class _Module:
    """One Python source of the wheel, with its assignments, evaluated for paths."""

    def __init__(self, path: str, tree: ast.Module, packages: _Packages) -> None:
        self.path = path
        self.tree = tree
        self.packages = packages
        self.bindings: dict[str, list[ast.expr]] = {}
        self.loops: dict[str, list[ast.expr]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.bindings.setdefault(target.id, []).append(node.value)
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                if isinstance(node.target, ast.Name):
                    self.bindings.setdefault(node.target.id, []).append(node.value)
            elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(
                node.target, ast.Name
            ):
                self.loops.setdefault(node.target.id, []).append(node.iter)

    def paths(self, node: ast.expr, depth: int = 0) -> set[str]:
        """Install paths ``node`` may evaluate to (``_UNKNOWN`` marks an unknown last part)."""
        if depth > _MAX_DEPTH:
            return set()
        d = depth + 1
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                return {self.path}
            out: set[str] = set()
            for value in self.bindings.get(node.id, []):
                out |= self.paths(value, d)
            for iterable in self.loops.get(node.id, []):
                out |= self._elements(iterable, d)
            return out
        if isinstance(node, ast.Attribute):
            if node.attr == "parent":
                return {posixpath.dirname(p) for p in self.paths(node.value, d)}
            if node.attr in ("__path__", "__file__"):
                package = self.packages.directory(_dotted(node.value), self.path)
                if package is None:
                    return set()
                return {package if node.attr == "__path__" else f"{package}/__init__.py"}
            return set()
        if isinstance(node, ast.Subscript):
            return self.paths(node.value, d)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return {_join(p, self._part(node.right)) for p in self.paths(node.left, d)}
        if isinstance(node, ast.Call):
            return self._call(node, d)
        return set()

    def _elements(self, iterable: ast.expr, depth: int) -> set[str]:
        if isinstance(iterable, (ast.List, ast.Tuple, ast.Set)):
            out: set[str] = set()
            for element in iterable.elts:
                out |= self.paths(element, depth)
            return out
        return self.paths(iterable, depth)

    def _part(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        name = _dotted(node)
        if name.endswith("pardir"):
            return ".."
        if name.endswith("curdir"):
            return "."
        return _UNKNOWN

    def _call(self, node: ast.Call, depth: int) -> set[str]:
        name = _dotted(node.func).rpartition(".")[2]
        receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
        if name == "dirname" and node.args:
            return {posixpath.dirname(p) for p in self.paths(node.args[0], depth)}
        if name == "join" and node.args and not _is_string_join(node):
            out = self.paths(node.args[0], depth)
            for arg in node.args[1:]:
                part = self._part(arg)
                out = {_join(p, part) for p in out}
            return out
        if name in ("joinpath",) and receiver is not None:
            out = self.paths(receiver, depth)
            for arg in node.args:
                part = self._part(arg)
                out = {_join(p, part) for p in out}
            return out
        if name in _PASS_THROUGH:
            if node.args:
                return self.paths(node.args[0], depth)
            return self.paths(receiver, depth) if receiver is not None else set()
        return set()

    def path_parts(self, node: ast.expr) -> set[str]:
        """The directories a PATH value names: every part of ``a + os.pathsep + b``."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.path_parts(node.left) | self.path_parts(node.right)
        if isinstance(node, ast.JoinedStr):
            out: set[str] = set()
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    out |= self.path_parts(value.value)
            return out
        # os.pathsep.join([...]), ";".join(...): every element is a directory
        if isinstance(node, ast.Call) and _is_string_join(node):
            return self._elements(node.args[0], 0) if node.args else set()
        return self.paths(node)


def _join(base: str, part: str) -> str:
    if _UNKNOWN in base:
        return base
    joined = posixpath.join(base, part.replace("\\", "/"))
    return joined if part == _UNKNOWN else posixpath.normpath(joined)


def _is_string_join(node: ast.Call) -> bool:
    """``";".join(...)`` or ``os.pathsep.join(...)``, as opposed to a path join (``os.path.join``,
    ``op.join`` after ``import os.path as op``, a bare ``join`` from ``os.path``)."""
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr == "join"):
        return False
    receiver = func.value
    if isinstance(receiver, ast.Constant):
        return isinstance(receiver.value, str)
    return _dotted(receiver).rpartition(".")[2] in ("pathsep", "sep")


def _dotted(node: ast.expr | None) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


class _Packages:
    """Where an importable name lives in the wheel, for ``<package>.__path__``."""

    def __init__(self, directories: Iterable[str], roots: tuple[str, ...]) -> None:
        self.directories = frozenset(directories)
        self.roots = roots

    def directory(self, dotted: str, importer: str) -> str | None:
        if not dotted:
            return None
        rel = dotted.replace(".", "/")
        for root in (*self.roots, posixpath.dirname(importer)):
            candidate = posixpath.join(root, rel) if root else rel
            if candidate in self.directories:
                return candidate
        return None


def _parse(path: str, source: bytes) -> ast.Module | None:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        return ast.parse(source.decode(encoding), path)
    except (SyntaxError, UnicodeDecodeError, LookupError, ValueError):
        return None


def _directories(install_paths: Iterable[str]) -> Iterator[str]:
    for path in install_paths:
        parts = path.split("/")[:-1]
        for n in range(1, len(parts) + 1):
            yield "/".join(parts[:n])


def _pth_files(zf: zipfile.ZipFile, members: dict[str, str]) -> tuple[list[str], list[str]]:
    """The sys.path entries and the ``import`` lines of the wheel's root ``.pth`` files."""
    roots: list[str] = []
    code: list[str] = []
    for install, member in sorted(members.items()):
        if "/" in install or not install.endswith(".pth"):
            continue
        for line in zf.read(member).decode("utf-8", "replace").splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith(("import ", "import\t")):
                code.append(stripped)
            elif (root := _norm(stripped)) is not None:
                roots.append(root)
    return roots, code


def _imported(tree: ast.Module, importer: str) -> Iterator[str]:
    """Dotted names (relative ones made absolute against ``importer``'s package) that the
    module imports, with every ``from X import Y`` also as ``X.Y`` (Y may be a module)."""
    package = posixpath.dirname(importer).replace("/", ".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                up = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*up, base] if base else up)
            if base:
                yield base
            yield from (f"{base}.{a.name}" if base else a.name for a in node.names)


def dll_directories(wheel: Path, members: dict[str, str]) -> DllDirectories:
    """The DLL search set-up done by the wheel's start-up code (``members``: install path ->
    member name): its ``.pth`` files, every ``__init__.py``, and the modules they import."""
    effects: dict[str, set[str]] = {"add": set(), "path": set(), "load": set()}
    by: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as zf:
        roots, code = _pth_files(zf, members)
        packages = _Packages(_directories(members), ("", *roots))
        queue: list[tuple[str, ast.Module]] = []
        for line in code:
            tree = _parse("<pth>", line.encode())
            if tree is not None:
                queue.append(("", tree))
        seen: set[str] = set()

        def enqueue(install: str) -> None:
            member = members.get(install)
            if install in seen or member is None:
                return
            seen.add(install)
            if zf.getinfo(member).file_size <= _MAX_SOURCE:
                tree = _parse(install, zf.read(member))
                if tree is not None:
                    queue.append((install, tree))

        for install in sorted(members):
            if posixpath.basename(install) == "__init__.py":
                enqueue(install)
        while queue:
            install, tree = queue.pop(0)
            module = _Module(install or "__pth__", tree, packages)
            for kind, paths in _effects(module):
                for raw in paths:
                    path = _norm(raw)
                    if path is not None:
                        effects[kind].add(path)
                        by.setdefault(path, install or ".pth file")
            for dotted in _imported(tree, install):
                rel = dotted.replace(".", "/")
                for root in ("", *roots):
                    base = posixpath.join(root, rel) if root else rel
                    enqueue(f"{base}.py")
                    enqueue(f"{base}/__init__.py")
    return DllDirectories(
        frozenset(effects["add"]), frozenset(effects["path"]), frozenset(effects["load"]), by
    )


def _is_path_key(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value == "PATH"


def _effects(module: _Module) -> Iterator[tuple[str, set[str]]]:
    """("add" | "path" | "load", paths) for each DLL-search effect in the module."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func).rpartition(".")[2]
            if name == "add_dll_directory" and node.args:
                yield "add", module.paths(node.args[0])
            elif name in _LOADERS and node.args:
                yield "load", module.paths(node.args[0])
            elif (
                name in ("putenv", "__setitem__", "setdefault")
                and len(node.args) == 2
                and _is_path_key(node.args[0])
            ):
                yield "path", module.path_parts(node.args[1])
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Subscript) and _is_path_key(target.slice):
                    yield "path", module.path_parts(node.value)
