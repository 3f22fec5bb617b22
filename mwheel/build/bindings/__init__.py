"""Python modules that wrap a plain C-ABI cdylib: cffi and uniffi bindings.

pyo3 and pyo3-ffi crates build an extension module Python imports directly; a cffi or
uniffi crate builds an ordinary shared library, and the wheel carries a generated Python
package that loads it: ``<module>/__init__.py``, the generated declarations and the
library itself beside them (the layout maturin writes, so existing projects move over
unchanged). Each generator returns the members to add, as ``ModuleFiles``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModuleFiles:
    """Members of a generated package: native files (member, path, mode) and generated text."""

    natives: tuple[tuple[str, Path, int], ...]
    files: tuple[tuple[str, bytes], ...]


def package_dir(module_name: str) -> str:
    """``pkg._native`` -> ``pkg/_native``: the package directory inside the wheel."""
    return module_name.replace(".", "/")
