"""Names and hashes of grafted libraries, shared by every platform's planner.

A grafted copy is named after its content (``libffi-1a2b3c4d.so.8``) so two different
libraries with one soname never collide, and one library reached through several paths
(symlinks, duplicate directories) is grafted once: copies are keyed by real path.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache


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
