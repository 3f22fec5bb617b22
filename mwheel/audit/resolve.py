"""The dependency graph of a wheel's binaries, whatever the format.

Each reference from a binary to a library is classified once: bundled (a member of the
wheel), system (allowed by the platform without bundling), external (found outside the
wheel, so a repair must graft it), provided (installed by a distribution the wheel
declares as a dependency: providers.py; neither grafted nor counted against a policy) or
missing (found nowhere). The repair planner works only from this graph, never from the
file system.
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mwheel.binary.model import Binary

if TYPE_CHECKING:
    from mwheel.audit.providers import Provided

Kind = Literal["bundled", "system", "external", "missing", "provided"]


@dataclass(frozen=True)
class Dependency:
    name: str  # as the referencing binary spells it (soname, install name, DLL name)
    needed_by: str  # a wheel member, or the host path of an external library
    kind: Kind
    member: str | None = None  # the bundled member it resolves to
    path: str | None = None  # the host path of an external library
    reachable: bool = True  # False: bundled, but the loader would not find it there
    provided: Provided | None = None  # for kind "provided": which dependency installs it


@dataclass(frozen=True)
class ExternalLibrary:
    """A library outside the wheel that a repair has to graft (or that cannot be found)."""

    name: str
    path: str | None
    binary: Binary | None  # parsed from the host file, for its own needs and symbols
    needed_by: tuple[str, ...]


@dataclass(frozen=True)
class DependencyGraph:
    dependencies: tuple[Dependency, ...]
    externals: tuple[ExternalLibrary, ...]

    def external_map(self) -> dict[str, str | None]:
        return {e.name: e.path for e in self.externals}

    def for_binary(self, needed_by: str) -> list[Dependency]:
        return [d for d in self.dependencies if d.needed_by == needed_by]


def excluded_names(
    graph: DependencyGraph, globs: tuple[str, ...], *, fold_case: bool = False
) -> frozenset[str]:
    """Libraries kept external on purpose (``repair --exclude``).

    A glob matches the name as referenced or its last path component (Mach-O install names
    are paths); ``fold_case`` for Windows, whose DLL names are case-insensitive.
    """
    if not globs:
        return frozenset()
    fold = str.lower if fold_case else str
    patterns = [fold(g) for g in globs]
    return frozenset(
        d.name
        for d in graph.dependencies
        if any(
            fnmatch.fnmatchcase(fold(d.name), g)
            or fnmatch.fnmatchcase(fold(posixpath.basename(d.name)), g)
            for g in patterns
        )
    )
