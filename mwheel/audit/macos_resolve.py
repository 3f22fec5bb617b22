"""Where dyld would find each install name a Mach-O member loads (dyld(1) search rules).

``@loader_path`` is the directory of the binary holding the load command, taken from its
install path; ``@executable_path`` is known only for an executable of the wheel (for an
extension it is the Python interpreter's directory, outside the wheel); ``@rpath`` is tried
against the LC_RPATHs of the loading binary and then of every binary that loads it, as dyld
walks the chain of loaders. Install names under the system prefixes of ``macos.json``
(``/usr/lib``, ``/System``) are the OS's own. Outside the wheel, absolute install names and
absolute LC_RPATHs are looked up on this host (a Linux host has them only when a build put
them there; ``--no-host-libs`` skips them), then the leaf name in each ``--lib-path``
directory. A relative LC_RPATH or install name (``libs/``, no ``@`` prefix) is relative to
the process's current directory, as dyld resolves it (delocate's fakepkg_rpath wheel): it
never reaches a wheel member, and is looked up against mwheel's own current directory, as a
build tree left there would be, when host libraries are searched.
"""

from __future__ import annotations

import os
import posixpath
from functools import cache
from pathlib import Path

from mwheel.audit.context import WheelContext
from mwheel.audit.resolve import Dependency, DependencyGraph, ExternalLibrary
from mwheel.binary import SNIFF_BYTES, read_binary, sniff
from mwheel.binary.model import Binary
from mwheel.errors import MwheelError

LOADER, EXECUTABLE, RPATH = "@loader_path", "@executable_path", "@rpath"


def is_system(name: str, prefixes: tuple[str, ...]) -> bool:
    return name.startswith(prefixes)


def rpaths_of(binary: Binary) -> tuple[str, ...]:
    """Every slice's LC_RPATHs, in order, once each."""
    assert binary.macho is not None
    return tuple(dict.fromkeys(r for s in binary.macho.slices for r in s.rpaths))


def is_cwd_relative(entry: str) -> bool:
    """An install name or LC_RPATH dyld resolves against the current directory."""
    return not entry.startswith(("@", "/"))


def _from_cwd(entry: str) -> str:
    return os.path.normpath(os.path.join(os.getcwd(), entry))


def expand(entry: str, loader_dir: str, exe_dir: str | None) -> str | None:
    """An install name or LC_RPATH with its @loader_path/@executable_path prefix replaced.

    Inside the wheel the directories are install paths (relative to site-packages); for a
    host library they are absolute. None: @executable_path of an extension (unknowable).
    """
    for token, directory in ((LOADER, loader_dir), (EXECUTABLE, exe_dir)):
        if entry == token or entry.startswith(token + "/"):
            if directory is None:
                return None
            rest = entry[len(token) + 1 :]
            return posixpath.normpath(posixpath.join(directory, rest)) if rest else directory
    return entry


def _is_macho_file(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return os.path.isfile(path) and sniff(f.read(SNIFF_BYTES)) == "macho"
    except OSError:
        return False


@cache
def _read_host(path: str) -> Binary:
    return read_binary(path, Path(path).read_bytes())


class MacResolver:
    """Resolves the load commands of one wheel's Mach-O members (and of what they pull in)."""

    def __init__(self, ctx: WheelContext, system_prefixes: tuple[str, ...]) -> None:
        self.ctx = ctx
        self.system = system_prefixes
        self.lib_dirs = [str(p) for p in ctx.options.lib_paths]
        self.machos = {m: b for m, b in ctx.binaries.items() if b.format == "macho"}
        self.dirs = {m: posixpath.dirname(ctx.install_path(m)) for m in self.machos}
        # Bundled dylibs by install id, for names that reach them by no search path.
        self.by_id: dict[str, str] = {}
        for member, binary in self.machos.items():
            assert binary.macho is not None
            for s in binary.macho.slices:
                if s.install_id:
                    self.by_id.setdefault(s.install_id, member)

    def _exe_dir(self, member: str) -> str | None:
        if self.machos[member].is_executable:
            return self.dirs[member]
        # An extension's executable is the interpreter: known only when the user says where.
        return self.ctx.options.executable_path

    def _own_rpaths(self, member: str) -> list[str]:
        out = []
        for r in rpaths_of(self.machos[member]):
            if is_cwd_relative(r):
                out.append(_from_cwd(r))  # a host path: never a wheel member
                continue
            e = expand(r, self.dirs[member], self._exe_dir(member))
            if e is not None:
                out.append(e)
        return out

    def resolve(self) -> DependencyGraph:
        # Rpaths inherited from loaders grow until no new edge appears (dyld's loader chain);
        # each round can only add, and there are at most as many rounds as members.
        inherited: dict[str, list[str]] = {m: [] for m in self.machos}
        for _ in range(len(self.machos) + 1):
            deps = [d for m in self.machos for d in self._member_deps(m, inherited[m])]
            new: dict[str, list[str]] = {m: [] for m in self.machos}
            for d in deps:
                if d.kind == "bundled" and d.member in new and d.member != d.needed_by:
                    chain = self._own_rpaths(d.needed_by) + inherited[d.needed_by]
                    new[d.member] = list(dict.fromkeys(new[d.member] + chain))
            if new == inherited:
                break
            inherited = new
        return self._with_externals(deps)

    def _member_deps(self, member: str, inherited: list[str]) -> list[Dependency]:
        binary = self.machos[member]
        rpaths = list(dict.fromkeys(self._own_rpaths(member) + inherited))
        out = []
        for name in binary.dependencies:
            if is_system(name, self.system):
                out.append(Dependency(name, member, "system"))
                continue
            found = self._in_wheel(name, self.dirs[member], self._exe_dir(member), rpaths)
            if found is not None:
                out.append(Dependency(name, member, "bundled", member=found))
            elif name in self.by_id and self.by_id[name] != member:
                out.append(
                    Dependency(name, member, "bundled", member=self.by_id[name], reachable=False)
                )
            else:
                path = self._on_host(name, rpaths)
                out.append(Dependency(name, member, "external" if path else "missing", path=path))
        return out

    def _candidates(
        self, name: str, loader_dir: str, exe_dir: str | None, rpaths: list[str]
    ) -> list[str]:
        if name.startswith(RPATH + "/"):
            rest = name[len(RPATH) + 1 :]
            return [posixpath.normpath(posixpath.join(r, rest)) for r in rpaths]
        if is_cwd_relative(name):
            return [_from_cwd(name)]
        path = expand(name, loader_dir, exe_dir)
        return [path] if path is not None else []

    def _in_wheel(
        self, name: str, loader_dir: str, exe_dir: str | None, rpaths: list[str]
    ) -> str | None:
        for path in self._candidates(name, loader_dir, exe_dir, rpaths):
            if path.startswith("/"):
                continue  # a host path, never a wheel member
            member = self.ctx.member_at(path)
            if member is not None and member in self.machos:
                return member
        return None

    def _on_host(self, name: str, rpaths: list[str], beside_host_lib: bool = False) -> str | None:
        """An absolute host path for ``name``, or None. ``rpaths`` here are expanded.

        Absolute paths are tried unless ``--no-host-libs``, or when they come from a host
        library already chosen (its @loader_path and LC_RPATHs lead to its siblings)."""
        use_paths = self.ctx.options.host_libs or beside_host_lib
        candidates = [
            p for p in self._candidates(name, "", None, rpaths) if p.startswith("/") and use_paths
        ]
        leaf = posixpath.basename(name)
        candidates += [os.path.join(d, leaf) for d in self.lib_dirs]
        for path in candidates:
            if _is_macho_file(path):
                return os.path.realpath(path)
        return None

    def _with_externals(self, deps: list[Dependency]) -> DependencyGraph:
        """Add the needs of every external library, found on this host, recursively."""
        externals: dict[str, ExternalLibrary] = {}
        order: list[str] = []
        pending = [d for d in deps if d.kind in ("external", "missing")]
        seen_paths: set[str] = set()
        while pending:
            d = pending.pop(0)
            prev = externals.get(d.name)
            if prev is not None:
                if d.needed_by not in prev.needed_by:
                    externals[d.name] = ExternalLibrary(
                        prev.name, prev.path, prev.binary, (*prev.needed_by, d.needed_by)
                    )
                continue
            lib = self._parse_host(d.path)
            externals[d.name] = ExternalLibrary(d.name, d.path, lib, (d.needed_by,))
            order.append(d.name)
            if lib is None or d.path is None or d.path in seen_paths:
                continue
            seen_paths.add(d.path)
            host_dir = os.path.dirname(d.path)
            rpaths = [
                _from_cwd(r) if is_cwd_relative(r) else e
                for r in rpaths_of(lib)
                if (e := expand(r, host_dir, None)) is not None
            ]
            for name in lib.dependencies:
                if is_system(name, self.system):
                    deps.append(Dependency(name, d.path, "system"))
                    continue
                path = self._on_host(expand(name, host_dir, None) or name, rpaths, True)
                dep = Dependency(name, d.path, "external" if path else "missing", path=path)
                deps.append(dep)
                pending.append(dep)
        return DependencyGraph(tuple(deps), tuple(externals[n] for n in order))

    @staticmethod
    def _parse_host(path: str | None) -> Binary | None:
        if path is None:
            return None
        try:
            binary = _read_host(path)
        except (OSError, MwheelError):
            return None
        return binary if binary.format == "macho" else None
