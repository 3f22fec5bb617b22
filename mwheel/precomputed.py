"""Data parsed and validated once, kept in a precomputed form for later runs.

The Linux policies are JSON (400 kB for manylinux) that the loader validates strictly;
parsing and validating them takes longer than the rest of an audit of a small wheel, on
every run. The result is a handful of frozen dataclasses of frozensets and read-only
mappings, so it is written once to the user's cache in ``marshal`` form (which, unlike
pickle, cannot run code when loaded) under a key hashing mwheel's version, the data files
and the loader's source: a new policy or loader makes a new key, so a stale entry is never
read. Without a writable cache directory everything still works, only slower.

``MWHEEL_CACHE_DIR`` overrides the directory (default ``$XDG_CACHE_HOME/mwheel``, else
``~/.cache/mwheel``); ``MWHEEL_CACHE_DIR=`` (empty) turns the cache off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import marshal
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

T = TypeVar("T")

# Tags of the encoded form (lists never occur in the encoded data otherwise).
_DATACLASS, _MAPPING = "dataclass", "mapping"


def cache_dir() -> Path | None:
    configured = os.environ.get("MWHEEL_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mwheel"


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [_encode(getattr(value, f.name)) for f in dataclasses.fields(value)]
        return [_DATACLASS, type(value).__name__, fields]
    if isinstance(value, Mapping):
        return [_MAPPING, {k: _encode(v) for k, v in value.items()}]
    if isinstance(value, tuple):
        return tuple(_encode(v) for v in value)
    return value  # str, int, bool, None, frozenset of str


def _decode(value: Any, types: Mapping[str, type]) -> Any:
    if isinstance(value, list):
        if value[0] == _DATACLASS:
            return types[value[1]](*(_decode(v, types) for v in value[2]))
        return MappingProxyType({k: _decode(v, types) for k, v in value[1].items()})
    if isinstance(value, tuple):
        return tuple(_decode(v, types) for v in value)
    return value


def precomputed(
    name: str, sources: Iterable[bytes], build: Callable[[], T], types: Iterable[type]
) -> T:
    """``build()``, or its result from an earlier run with the same ``sources``.

    ``types``: the dataclasses the value is made of (fields in declaration order).
    """
    from mwheel import __version__

    digest = hashlib.sha256(__version__.encode())
    for source in sources:
        digest.update(len(source).to_bytes(8, "little") + source)
    directory = cache_dir()
    path = directory / f"{name}-{digest.hexdigest()[:32]}.marshal" if directory else None
    by_name = {t.__name__: t for t in types}
    if path is not None:
        try:
            decoded: T = _decode(marshal.loads(path.read_bytes()), by_name)
            return decoded
        except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError):
            pass  # absent or unreadable: rebuilt below
    value = build()
    if path is not None:
        _write(path, marshal.dumps(_encode(value)))
    return value


def _write(path: Path, data: bytes) -> None:
    """Best effort, atomic: a reader sees the old file, the new one, or none."""
    import tempfile  # only on the run that writes the cache: start-up skips its imports

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only home: run without the cache
