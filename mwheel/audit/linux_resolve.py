"""Where the Linux dynamic loader would find each DT_NEEDED library (ld.so(8) search order).

Inside the wheel: DT_RPATH (when there is no DT_RUNPATH) and DT_RUNPATH entries, with
``$ORIGIN`` taken from the member's install path. Outside: absolute RPATH/RUNPATH
directories, then ``--lib-path``, then ``LD_LIBRARY_PATH`` and the host's library path, the
last two only when the host's libc and architecture are the wheel's, since a host library
of another kind could never be grafted.
"""

from __future__ import annotations

import glob
import os
import posixpath
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from mwheel.audit.context import WheelContext
from mwheel.audit.linux_chain import reachable_through_loaders
from mwheel.audit.resolve import Dependency, DependencyGraph, ExternalLibrary
from mwheel.binary import read_binary
from mwheel.binary.model import Binary
from mwheel.errors import MwheelError

if TYPE_CHECKING:
    from mwheel.audit.providers import Provided

_HOST_DEFAULT_DIRS = ("/lib64", "/usr/lib64", "/lib", "/usr/lib")
# e_machine values, for rejecting a candidate of the wrong architecture without parsing it.
_MACHINES = {
    "x86_64": 62,
    "i686": 3,
    "aarch64": 183,
    "ppc64le": 21,
    "ppc64": 21,
    "s390x": 22,
    "armv7l": 40,
    "armv6l": 40,
    "armv5tejl": 40,
    "armv5tel": 40,
    "armv5tl": 40,
    "armv4tl": 40,
    "armv4l": 40,
    "riscv64": 243,
    "loongarch64": 258,
}


def expand_origin(entry: str, origin: str) -> str:
    """``entry`` with $ORIGIN replaced; an empty origin (the wheel's root) is ``.``."""
    origin = origin or "."
    return posixpath.normpath(entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin))


def search_dirs(binary: Binary) -> tuple[str, ...]:
    """RUNPATH if present (ld.so then ignores RPATH), else RPATH."""
    assert binary.elf is not None
    return binary.elf.runpath or binary.elf.rpath


@cache
def host_library_dirs() -> tuple[str, ...]:
    """ld.so.conf directories (with includes) and the defaults, in ld.so's order."""
    dirs: list[str] = []

    def read_conf(path: str, depth: int = 0) -> None:
        if depth > 8:
            return
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            return
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line.startswith("include "):
                pattern = line.split(None, 1)[1]
                if not pattern.startswith("/"):
                    pattern = os.path.join(os.path.dirname(path), pattern)
                for inc in sorted(glob.glob(pattern)):
                    read_conf(inc, depth + 1)
            elif line:
                dirs.append(line)

    read_conf("/etc/ld.so.conf")
    dirs.extend(_HOST_DEFAULT_DIRS)
    return tuple(dict.fromkeys(dirs))


@cache
def host_kind() -> tuple[str, str]:
    """(libc, arch) of the machine mwheel runs on: only to decide whether its libraries count."""
    try:
        libc = "glibc" if os.confstr("CS_GNU_LIBC_VERSION") else "musl"
    except (ValueError, OSError):
        libc = "musl"
    machine = os.uname().machine
    return libc, {"i386": "i686", "i586": "i686", "amd64": "x86_64", "arm64": "aarch64"}.get(
        machine, machine
    )


def _compatible(path: str, arch: str, elf_class: int) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return False
    cls = 64 if head[4] == 2 else 32
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    return cls == elf_class and machine == _MACHINES.get(arch, machine)


class LinuxResolver:
    """Resolves the DT_NEEDED entries of one wheel against one set of system libraries."""

    def __init__(self, ctx: WheelContext, system: frozenset[str], arch: str, libc: str) -> None:
        self.ctx = ctx
        self.system = system
        self.arch = arch
        self.libc = libc
        opts = ctx.options
        self.extra_dirs = [str(p) for p in opts.lib_paths]
        use_host = opts.host_libs and host_kind() == (libc, arch)
        ld_path = os.environ.get("LD_LIBRARY_PATH", "") if use_host else ""
        self.env_dirs = [d for d in ld_path.split(":") if d]
        self.host_dirs = list(host_library_dirs()) if use_host else []
        # Bundled libraries by soname and by file name, for references no RUNPATH reaches.
        self.bundled: dict[str, str] = {}
        for member, binary in ctx.binaries.items():
            if binary.format != "elf":
                continue
            assert binary.elf is not None
            self.bundled.setdefault(posixpath.basename(member), member)
            if binary.elf.soname:
                self.bundled.setdefault(binary.elf.soname, member)

    def resolve(self) -> DependencyGraph:
        deps: list[Dependency] = []
        externals: dict[str, ExternalLibrary] = {}
        order: list[str] = []
        pending: list[tuple[str, Binary, str, bool]] = []  # (needed_by, binary, origin, host)
        for name, binary in self.ctx.binaries.items():
            if binary.format == "elf":
                origin = posixpath.dirname(self.ctx.install_path(name))
                pending.append((name, binary, origin, False))
        seen_paths: set[str] = set()
        while pending:
            needed_by, binary, origin, on_host = pending.pop(0)
            elf = binary.elf
            assert elf is not None
            for soname in binary.dependencies:
                if soname in self.system or _is_libpython(soname):
                    deps.append(Dependency(soname, needed_by, "system"))
                    continue
                if not on_host:
                    inside = self._in_wheel(binary, origin, soname)
                    if inside is not None:
                        deps.append(Dependency(soname, needed_by, "bundled", member=inside))
                        continue
                    if soname in self.bundled:
                        deps.append(
                            Dependency(
                                soname,
                                needed_by,
                                "bundled",
                                member=self.bundled[soname],
                                reachable=False,
                            )
                        )
                        continue
                provided = self._provided(binary, origin, soname, on_host)
                if provided is not None:
                    deps.append(Dependency(soname, needed_by, "provided", provided=provided))
                    continue
                path = self._on_host(binary, origin, soname)
                deps.append(
                    Dependency(soname, needed_by, "external" if path else "missing", path=path)
                )
                prev = externals.get(soname)
                if prev is None:
                    lib = _parse_host(path)
                    externals[soname] = ExternalLibrary(soname, path, lib, (needed_by,))
                    order.append(soname)
                    if lib is not None and path is not None and path not in seen_paths:
                        seen_paths.add(path)
                        pending.append((path, lib, os.path.dirname(path), True))
                elif needed_by not in prev.needed_by:
                    externals[soname] = ExternalLibrary(
                        prev.name, prev.path, prev.binary, (*prev.needed_by, needed_by)
                    )
        deps = reachable_through_loaders(deps, self.ctx, self.libc)
        return DependencyGraph(tuple(deps), tuple(externals[n] for n in order))

    def _in_wheel(self, binary: Binary, origin: str, soname: str) -> str | None:
        for entry in search_dirs(binary):
            if "$ORIGIN" not in entry and "${ORIGIN}" not in entry:
                continue
            candidate = posixpath.join(expand_origin(entry, origin), soname)
            member = self.ctx.member_at(candidate)
            if member is not None and member in self.ctx.binaries:
                return member
        return None

    def _provided(self, binary: Binary, origin: str, soname: str, on_host: bool) -> Provided | None:
        """A declared dependency's library (providers.py): found through the binary's
        ``$ORIGIN`` RUNPATH entries when they reach where the dependency installs it."""
        providers = self.ctx.providers
        if not providers:
            return None
        dirs = (
            []
            if on_host
            else [
                (e, expand_origin(e, origin))
                for e in search_dirs(binary)
                if "$ORIGIN" in e or "${ORIGIN}" in e
            ]
        )
        return providers.find(soname, dirs)

    def _candidate_dirs(self, binary: Binary, origin: str, on_host: bool) -> Iterable[str]:
        for entry in search_dirs(binary):
            if on_host:
                yield expand_origin(entry, origin)
            elif entry.startswith("/"):
                yield entry
        yield from self.extra_dirs
        yield from self.env_dirs
        yield from self.host_dirs

    def _on_host(self, binary: Binary, origin: str, soname: str) -> str | None:
        if "/" in soname:
            return soname if _compatible(soname, self.arch, _elf_class(binary)) else None
        for directory in self._candidate_dirs(binary, origin, origin.startswith("/")):
            path = os.path.join(directory, soname)
            if _compatible(path, self.arch, _elf_class(binary)):
                return os.path.realpath(path) if os.path.islink(path) else path
        return None


def _elf_class(binary: Binary) -> int:
    assert binary.elf is not None
    return binary.elf.elf_class


def _is_libpython(soname: str) -> bool:
    return soname.startswith("libpython") and ".so" in soname


def _parse_host(path: str | None) -> Binary | None:
    """A library found on this machine, parsed; None where it cannot be read."""
    if path is None:
        return None
    try:
        return _read_host(path)
    except (OSError, MwheelError):
        return None


@cache
def _read_host(path: str) -> Binary:
    return read_binary(path, Path(path).read_bytes())
