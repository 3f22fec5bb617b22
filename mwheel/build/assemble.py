"""Laying out a built crate as a wheel (PEP 427), written with the one ``WheelWriter``.

Layouts, as maturin makes them:

* an extension module alone: ``<module><EXT_SUFFIX>`` at the root (``.abi3.so`` for abi3);
* inside a ``python-source`` package: the package tree copied from ``python-source`` and the
  extension at the dotted ``module-name`` path (``pkg/_native.cpython-311-...so``);
* programs (bin crates): ``<dist>-<ver>.data/scripts/<bin>``, installed onto PATH.

Members are written in sorted order with fixed dates (SOURCE_DATE_EPOCH or 1980), so the
same inputs give the same bytes.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mwheel import __version__
from mwheel.build.config import FileRule
from mwheel.build.metadata import ProjectMetadata
from mwheel.errors import BuildError, ConfigError
from mwheel.wheel.writer import WheelWriter

_LICENSE_GLOBS = ("LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*")
_SKIP_DIRS = {"__pycache__", ".git", ".mypy_cache", ".pytest_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dylib")


@dataclass(frozen=True)
class Layout:
    """Where the built files go inside the wheel."""

    project_root: Path
    module_name: str | None  # dotted, e.g. "pkg._native"; None for bin wheels
    python_source: Path | None  # directory holding the python packages, if any
    python_packages: tuple[str, ...] = ()
    include: tuple[FileRule, ...] = ()
    exclude: tuple[FileRule, ...] = ()
    data: Path | None = None
    mixed: bool = False  # python_source/<top> is a package the extension goes into
    wrap: bool = False  # a pure extension, shipped as maturin does: inside a package
    stub: Path | None = None  # <module>.pyi of a pure layout: the package's __init__.pyi
    sbom: tuple[str, bytes] | None = None  # (file name, CycloneDX) of the Rust crates

    def extension_member(self, suffix: str) -> str:
        """The extension's member name (see mwheel.build.layout for the rules)."""
        module = self.module_name or ""
        last = module.rsplit(".", 1)[-1]
        if self.wrap or ("." not in module and self.mixed):
            return f"{last}/{last}{suffix}"
        return extension_member(module, suffix)


@dataclass(frozen=True)
class WheelSpec:
    """One wheel to write: its tag and the native files with their member names."""

    tag: str  # python-abi-platform
    natives: tuple[tuple[str, Path, int], ...]  # member, file, mode
    files: tuple[tuple[str, bytes], ...] = ()  # generated members (an editable's .pth)
    python: bool = True  # False for editables: the python-source tree stays where it is


def extension_member(module_name: str, suffix: str) -> str:
    """``pkg._native`` + ``.abi3.so`` -> ``pkg/_native.abi3.so``."""
    return module_name.replace(".", "/") + suffix


def walk_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` in sorted order, without caches, VCS dirs or built binaries."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if not name.endswith(_SKIP_SUFFIXES):
                yield Path(dirpath) / name


def python_files(layout: Layout) -> dict[str, Path]:
    """The pure-Python members: the module's top package under python-source, and extras."""
    out: dict[str, Path] = {}
    src = layout.python_source
    if src is None or (layout.module_name is None and not layout.python_packages):
        return out
    tops = list(layout.python_packages)
    if layout.module_name and (layout.mixed or "." in layout.module_name):
        tops.insert(0, layout.module_name.split(".", 1)[0])
    for top in dict.fromkeys(tops):
        pkg = src / top
        if pkg.is_dir():
            for path in walk_files(pkg):
                out[path.relative_to(src).as_posix()] = path
        elif (src / f"{top}.py").is_file():
            out[f"{top}.py"] = src / f"{top}.py"
        elif top != tops[0] or top in layout.python_packages:
            raise ConfigError(f"{src}: python package {top} not found")
    return out


def generated_files(layout: Layout) -> dict[str, Path | bytes]:
    """The package maturin makes around a pure extension: a re-exporting ``__init__.py``,
    and the ``<module>.pyi`` stub as ``__init__.pyi`` with a ``py.typed`` marker."""
    if not layout.wrap or not layout.module_name:
        return {}
    m = layout.module_name.rsplit(".", 1)[-1]
    out: dict[str, Path | bytes] = {f"{m}/__init__.py": stub_init(m)}
    if layout.stub is not None:
        out[f"{m}/__init__.pyi"] = layout.stub
        out[f"{m}/py.typed"] = b""
    return out


def stub_init(module: str) -> bytes:
    """The ``__init__.py`` of a stub-only package: re-export the extension, as maturin does."""
    return (
        f"from .{module} import *\n\n"
        f"__doc__ = {module}.__doc__\n"
        f'if hasattr({module}, "__all__"):\n'
        f"    __all__ = {module}.__all__"
    ).encode()


def _matches(member: str, rules: tuple[FileRule, ...]) -> bool:
    return any(r.applies_to("wheel") and fnmatch.fnmatch(member, r.path) for r in rules)


def _included(layout: Layout) -> dict[str, Path]:
    out: dict[str, Path] = {}
    root = layout.project_root
    for rule in layout.include:
        if not rule.applies_to("wheel"):
            continue
        for path in sorted(root.glob(rule.path)):
            if path.is_file():
                out[path.relative_to(root).as_posix()] = path
    return out


def license_files(root: Path) -> list[Path]:
    found = {p for pattern in _LICENSE_GLOBS for p in root.glob(pattern) if p.is_file()}
    return sorted(found)


def _wheel_file(tags: list[str]) -> bytes:
    lines = [
        "Wheel-Version: 1.0",
        f"Generator: mwheel {__version__}",
        "Root-Is-Purelib: false",
        *[f"Tag: {t}" for t in tags],
    ]
    return ("\n".join(lines) + "\n").encode()  # maturin ends WHEEL without a blank line


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BuildError(f"{path}: cannot read: {exc}") from None


def _mode(path: Path) -> int:
    return 0o755 if os.access(path, os.X_OK) else 0o644


def write_wheel(
    meta: ProjectMetadata,
    layout: Layout,
    spec: WheelSpec,
    out_dir: Path,
    compresslevel: int | None = None,
) -> Path:
    """Write one wheel into ``out_dir`` and return its path."""
    dist = meta.dist_name
    version = meta.version.replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    data_dir = f"{dist}-{version}.data"
    dest = out_dir / f"{dist}-{version}-{spec.tag}.whl"
    members: dict[str, tuple[Path | bytes, int]] = {}
    for member, path in (python_files(layout) if spec.python else {}).items():
        members[member] = (path, 0o644)
    for member, source in generated_files(layout).items():
        members[member] = (source, 0o644)
    for member, path in _included(layout).items():
        members[member] = (path, _mode(path))
    if layout.data and layout.data.is_dir():
        for path in walk_files(layout.data):
            rel = path.relative_to(layout.data).as_posix()
            members[f"{data_dir}/{rel}"] = (path, _mode(path))
    members = {m: v for m, v in members.items() if not _matches(m, layout.exclude)}
    for member, path, mode in spec.natives:
        members[member.replace("{data}", data_dir)] = (path, mode)
    for member, data in spec.files:
        members[member] = (data, 0o644)
    members[f"{dist_info}/METADATA"] = (meta.render(), 0o644)
    members[f"{dist_info}/WHEEL"] = (_wheel_file(_expand(spec.tag)), 0o644)
    if entry_points := meta.render_entry_points():
        members[f"{dist_info}/entry_points.txt"] = (entry_points, 0o644)
    for rel, path in meta.license_files:
        members[f"{dist_info}/licenses/{rel}"] = (path, 0o644)
    if layout.sbom is not None:
        members[f"{dist_info}/sboms/{layout.sbom[0]}"] = (layout.sbom[1], 0o644)
    with WheelWriter(dest, compresslevel=compresslevel) as writer:
        for member in sorted(members, key=lambda m: (m.startswith(dist_info), m)):
            source, mode = members[member]
            data = source if isinstance(source, bytes) else _read(source)
            writer.add_bytes(member, data, mode=mode)
        writer.finish(dist_info)
        return writer.commit()


def _expand(tag: str) -> list[str]:
    """A compressed tag set (``cp311.cp312-none-x``) as the WHEEL file's single tags."""
    py, abi, plat = tag.split("-")
    return [f"{p}-{a}-{q}" for p in py.split(".") for a in abi.split(".") for q in plat.split(".")]
