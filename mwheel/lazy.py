"""A registry whose entries are imported on first use.

The registries of readers (one per binary format) and of audit rules (one per operating
system) name every implementation, but a command that audits one Windows wheel should not
import the ELF reader, the Mach-O reader (and macholib) or the Linux policies: start-up time
is what a user of ``mwheel audit`` in a CI loop waits for. Keys are fixed when the registry
is made, so ``in``, ``len`` and iteration stay cheap and a test can still check that every
format and operating system has an entry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LazyRegistry(Mapping[K, V], Generic[K, V]):
    """``{key: "module:attribute"}``; the attribute is loaded (and ``make`` applied) once."""

    def __init__(self, entries: Mapping[K, str], make: Callable[[object], V] | None = None) -> None:
        self._entries = dict(entries)
        self._make = make
        self._loaded: dict[K, V] = {}

    def __getitem__(self, key: K) -> V:
        if key not in self._loaded:
            module, _, attr = self._entries[key].partition(":")
            value: object = getattr(importlib.import_module(module), attr)
            self._loaded[key] = self._make(value) if self._make else value  # type: ignore[assignment]
        return self._loaded[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
