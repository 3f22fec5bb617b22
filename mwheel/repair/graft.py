"""Names and hashes of grafted libraries, shared by every platform's planner.

A grafted copy is named after its content (``libffi-1a2b3c4d.so.8``) so two different
libraries with one soname never collide, and one library reached through several paths
(symlinks, duplicate directories) is grafted once: copies are keyed by real path.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache

from mwheel.audit.context import WheelContext
from mwheel.audit.resolve import DependencyGraph, excluded_names
from mwheel.errors import MissingLibraryError


@cache
def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def hashed_name(name: str, digest: str, marker: str) -> str:
    """Insert ``-<8 hex>`` before ``marker`` (``.so``, ``.dylib``, ``.dll``) in ``name``.

    A name that already carries a hash of the same content is left alone, so repairing a
    repaired wheel renames nothing.
    """
    short = digest[:8]
    base = os.path.basename(name)
    index = base.find(marker)
    stem, rest = (base[:index], base[index:]) if index > 0 else (base, "")
    if stem.endswith(f"-{short}"):
        return base
    return f"{stem}-{short}{rest}"


def graftable(
    ctx: WheelContext,
    graph: DependencyGraph,
    exclude: tuple[str, ...],
    verb: str,
    fold_case: bool = False,
) -> tuple[frozenset[str], list[str]]:
    """The names kept external on purpose, and the plan notes saying so.

    Raises ``MissingLibraryError`` for the first external library that was not found and is
    not excluded: a repair cannot graft what it cannot read. ``verb`` says how binaries
    refer to libraries on the platform (needed, loaded, imported).
    """
    excluded = excluded_names(graph, exclude, fold_case=fold_case)
    missing = [e for e in graph.externals if e.path is None and e.name not in excluded]
    if missing:
        first = missing[0]
        raise MissingLibraryError(
            f"{ctx.label}: {first.name} ({verb} by {', '.join(first.needed_by)}) not found; "
            "pass --lib-path DIR or --exclude it"
        )
    return excluded, [f"kept external on purpose: {n}" for n in sorted(excluded)]
