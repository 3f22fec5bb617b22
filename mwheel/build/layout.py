"""Where a crate's module goes in the wheel: maturin's project layouts, decided once.

The rules are maturin's (its ``ProjectLayout`` and module writer, checked against the wheels
maturin 1.16 builds), so a maturin project gets the same wheel:

* The *python root* is ``python-source`` when set, else ``src`` when ``src/<top>/`` is a
  package (the src layout), else the project root (the directory of pyproject.toml).
* The module name is ``module-name``, else the cdylib's name. When ``<root>/<top>/`` (``top``
  is its first dotted part) is a package (``__init__.py`` or ``__init__.pyi``), the project is
  *mixed*: that package is shipped and the extension goes inside it, at ``top/rest.so`` for a
  dotted name and at ``top/top.so`` for a plain one (orjson's ``orjson/orjson.so``).
* Otherwise (pure Rust) maturin ships a package named after the extension (the last dotted
  part): ``ext/ext.so`` beside an ``__init__.py`` that re-exports it; a ``ext.pyi`` beside
  pyproject.toml or Cargo.toml becomes ``ext/__init__.pyi`` with a ``py.typed`` marker
  (PEP 561).
"""

from __future__ import annotations

from pathlib import Path

from mwheel.build.assemble import Layout
from mwheel.build.cargo import Crate
from mwheel.build.cargo_sbom import rust_sbom, sbom_file_name
from mwheel.build.options import Resolved


def is_package(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in ("__init__.py", "__init__.pyi"))


def python_root(source: Path | None, root: Path, top: str) -> Path:
    if source is not None:
        return source
    if is_package(root / "src" / top):
        return root / "src"
    return root


def build_layout(resolved: Resolved, root: Path, crate: Crate) -> Layout:
    tool = resolved.tool
    module = resolved.module_name or crate.lib_name or crate.name.replace("-", "_")
    top = module.split(".", 1)[0]
    py_root = python_root(resolved.python_source, root, top)
    mixed = is_package(py_root / top)
    wrap = not mixed and crate.lib_name is not None and resolved.bindings != "bin"
    last = module.rsplit(".", 1)[-1]
    stub = None
    if wrap:
        for base in (root, crate.root):
            if (base / f"{last}.pyi").is_file():
                stub = base / f"{last}.pyi"
                break
    data = root / tool.data if tool.data else None
    if data is None:
        for name in (module, crate.name.replace("-", "_")):
            if (root / f"{name}.data").is_dir():
                data = root / f"{name}.data"
                break
    keep_root = mixed or bool(tool.python_packages) or resolved.python_source is not None
    return Layout(
        project_root=root,
        module_name=module,
        python_source=py_root if keep_root else None,
        python_packages=tool.python_packages,
        include=tool.include,
        exclude=tool.exclude,
        data=data,
        mixed=mixed,
        wrap=wrap,
        stub=stub,
        sbom=(
            (
                sbom_file_name(crate),
                rust_sbom(crate, "library" if crate.lib_name else "application"),
            )
            if tool.sbom_rust and crate.metadata
            else None
        ),
    )
