"""Libraries that another wheel installs: which distribution ships which soname.

GPU and ML wheels load libraries from the wheels they depend on (torch's
``libtorch_cuda.so`` needs ``libcudnn.so.9`` from ``nvidia-cudnn-cu12``, reached through
the RUNPATH ``$ORIGIN/../../nvidia/cudnn/lib``). Such a library is neither external (a
repair must not graft gigabytes of CUDA) nor missing: pip installs it with the wheel. It is
*provided* when a distribution the wheel declares in its METADATA ``Requires-Dist`` ships a
file of that name.

What a distribution ships is learned from real wheels, never guessed: the RECORD of a wheel
given with ``--find-links`` (a wheel file or a directory of them), or of a wheel on an index
named with ``--index-url`` (opt-in network, see ``providers_index.py``). A RECORD read is
kept in the user cache, keyed by the wheel file's identity, so a big wheel is opened once.
Users add mappings ``SONAME=DIST`` (``--provided-by`` or ``[tool.mwheel.provided-by]``).
A needed library that no declared dependency ships stays external.

Names: a wheel cannot hold symlinks, so a library ships under its soname
(``libcublas.so.12``) or a longer versioned name (``libfoo.so.1.2.3``), which is indexed
under each shorter version too (``libfoo.so.1.2``, ``libfoo.so.1``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import tomllib

from mwheel.audit.findings import Finding
from mwheel.audit.resolve import DependencyGraph
from mwheel.errors import InputError, MwheelError
from mwheel.precomputed import cache_dir
from mwheel.tags import PlatformTag

# Not packaging.utils: it imports packaging.tags, and this module is imported whenever the
# current directory has a pyproject.toml (cibuildwheel repairs there), mappings or not.
from mwheel.wheel.filename import InvalidWheelFilename, canonical_name, parse_wheel_filename

if TYPE_CHECKING:
    from packaging.requirements import Requirement

# Members that a loader can load: ELF shared objects, Mach-O dylibs, DLLs.
_LIBRARY_RE = re.compile(r"\.so(\.[0-9][0-9.]*)?$|\.dylib$|\.dll$|\.pyd$", re.IGNORECASE)
_CACHE_FORMAT = 1


@dataclass(frozen=True)
class ShippedLibrary:
    """One library file a distribution installs, as its RECORD (or a user) says."""

    dist: str  # canonical distribution name
    install_path: str | None  # relative to site-packages; None for a user mapping
    source: str  # where the fact comes from: a wheel file name, --provided-by, a TOML file


@dataclass(frozen=True)
class Provided:
    """A needed library that a declared dependency installs."""

    soname: str
    dist: str
    requirement: str  # the Requires-Dist entry, as the wheel spells it
    install_path: str | None
    via: str | None  # the RUNPATH entry through which the loader reaches it
    source: str

    def describe(self) -> str:
        where = f" at {self.install_path}" if self.install_path else ""
        if self.via:
            how = f", reached through RUNPATH {self.via}"
        elif self.install_path:
            how = " (no RUNPATH entry reaches it: something must load it first)"
        else:
            how = ""
        return f"provided by {self.dist} ({self.requirement}){where}{how}"


def library_names(file_name: str) -> list[str]:
    """The names a library file answers to: its own and its shorter versioned names."""
    names = [file_name]
    head, sep, version = file_name.partition(".so.")
    if sep:
        parts = version.split(".")
        names += [f"{head}.so.{'.'.join(parts[:n])}" for n in range(len(parts) - 1, 0, -1)]
    return names


def shipped_from_record(record_text: str) -> tuple[str, ...]:
    """Install paths of the loadable libraries a RECORD lists (outside ``.data`` schemes
    other than purelib/platlib, which install elsewhere)."""
    out: list[str] = []
    for line in record_text.splitlines():
        path = line.rsplit(",", 2)[0].strip().strip('"')
        if not _LIBRARY_RE.search(posixpath.basename(path)):
            continue
        top, _, rest = path.partition("/")
        if top.endswith(".data"):
            scheme, _, inner = rest.partition("/")
            if scheme not in ("purelib", "platlib"):
                continue
            path = inner
        out.append(path)
    return tuple(out)


def _cache_file(key: str) -> Path | None:
    base = cache_dir()
    if base is None:
        return None
    digest = hashlib.sha256(f"{_CACHE_FORMAT}:{key}".encode()).hexdigest()[:32]
    return base / "providers" / f"{digest}.json"


def cached_record(key: str, read: object) -> tuple[str, ...]:
    """The library paths of one wheel, from the cache or from ``read()`` (then stored)."""
    path = _cache_file(key)
    if path is not None:
        try:
            data = json.loads(path.read_text())
            if data.get("key") == key:
                return tuple(str(p) for p in data["libraries"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    assert callable(read)
    libraries: tuple[str, ...] = read()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"key": key, "libraries": list(libraries)}))
            os.replace(tmp, path)
        except OSError:
            pass  # no writable cache: only slower next time
    return libraries


def _local_wheel_libraries(wheel: Path) -> tuple[str, ...]:
    from mwheel.wheel.archive import WheelArchive

    st = wheel.stat()
    key = f"file:{wheel.resolve()}:{st.st_size}:{st.st_mtime_ns}"

    def read() -> tuple[str, ...]:
        try:
            with WheelArchive(wheel) as archive:
                return shipped_from_record(archive.read_text(f"{archive.dist_info}/RECORD"))
        except MwheelError as exc:
            why = exc.message.removeprefix(f"{wheel}: ").removeprefix(f"{wheel.name}: ")
            raise InputError(f"{wheel}: cannot read its RECORD: {why}") from None

    return cached_record(key, read)


def _wheels_in(find_links: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for entry in find_links:
        if entry.is_dir():
            out += sorted(p for p in entry.iterdir() if p.suffix == ".whl" and p.is_file())
        elif entry.is_file():
            out.append(entry)
        else:
            raise InputError(f"{entry}: --find-links names no wheel file or directory")
    return out


def _learned(
    find_links: tuple[Path, ...], index_url: str | None, wanted: frozenset[str], target_os: str
) -> tuple[tuple[str, ShippedLibrary], ...]:
    """(name, library) pairs from the RECORDs of the wanted distributions' wheels: those of
    ``find_links`` (listed afresh each time, their RECORDs from the disk cache), then the
    index's for the distributions no local wheel is of."""
    out: list[tuple[str, ShippedLibrary]] = []
    found: set[str] = set()
    for wheel in _wheels_in(find_links):
        try:
            dist = canonical_name(parse_wheel_filename(wheel.name)[0])
        except InvalidWheelFilename:
            continue
        if dist not in wanted:
            continue
        found.add(dist)
        for path in _local_wheel_libraries(wheel):
            lib = ShippedLibrary(dist, path, wheel.name)
            out += [(name, lib) for name in library_names(posixpath.basename(path))]
    if index_url is not None:
        out += _index_learned(index_url, frozenset(wanted - found), target_os)
    return tuple(out)


@cache
def _index_learned(
    index_url: str, dists: frozenset[str], target_os: str
) -> tuple[tuple[str, ShippedLibrary], ...]:
    """What the index says the ``dists`` ship; asked once per process (the pages may change,
    but not within one run)."""
    from mwheel.audit.providers_index import index_libraries

    out: list[tuple[str, ShippedLibrary]] = []
    for dist in sorted(dists):
        for source, path in index_libraries(index_url, dist, target_os):
            lib = ShippedLibrary(dist, path, source)
            out += [(name, lib) for name in library_names(posixpath.basename(path))]
    return tuple(out)


def mappings_from_toml(path: Path) -> tuple[tuple[str, str], ...]:
    """``SONAME = "DIST"`` pairs of ``[tool.mwheel.provided-by]`` (a pyproject.toml) or of
    a top-level ``[provided-by]`` table (a mapping file); none when the file has neither."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read provider mappings: {exc}") from None
    table = data.get("tool", {}).get("mwheel", {}).get("provided-by", data.get("provided-by", {}))
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        raise InputError(f"{path}: provided-by must map library names to distribution names")
    return tuple(sorted(table.items()))


def parse_mapping(text: str) -> tuple[str, str]:
    """``SONAME=DIST`` of ``--provided-by`` (the soname may be a glob)."""
    soname, sep, dist = text.partition("=")
    if not sep or not soname.strip() or not dist.strip():
        raise InputError(f"--provided-by {text!r}: expected SONAME=DISTRIBUTION")
    return soname.strip(), dist.strip()


def declared_requirements(
    requires_dist: Iterable[str], extras: Iterable[str], claimed: Iterable[PlatformTag]
) -> dict[str, str]:
    """Canonical name -> Requires-Dist entry, for the entries that may apply on the tags'
    platforms (markers evaluated for each extra the wheel provides, and for none)."""
    from packaging.requirements import InvalidRequirement, Requirement

    envs = [_marker_env(tag) for tag in claimed if tag.family != "any"] or [{}]
    out: dict[str, str] = {}
    for text in requires_dist:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is not None and not any(
            _marker_may_hold(req, {**env, "extra": extra})
            for env in envs
            for extra in ["", *extras]
        ):
            continue
        out.setdefault(canonical_name(req.name), text.strip())
    return out


def _marker_may_hold(req: Requirement, env: dict[str, str]) -> bool:
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName

    assert req.marker is not None
    try:
        return req.marker.evaluate(env)
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return True


def _marker_env(tag: PlatformTag) -> dict[str, str]:
    """The marker variables a platform tag fixes (PEP 508); the rest stay the host's."""
    system, platform, os_name = {
        "linux": ("Linux", "linux", "posix"),
        "macos": ("Darwin", "darwin", "posix"),
        "windows": ("Windows", "win32", "nt"),
        "android": ("Android", "android", "posix"),
        "ios": ("iOS", "ios", "posix"),
    }.get(tag.os, ("Linux", "linux", "posix"))
    machine = tag.arch
    if tag.os == "windows":
        machine = {"x86_64": "AMD64", "arm64": "ARM64"}.get(tag.arch, tag.arch)
    return {
        "platform_system": system,
        "sys_platform": platform,
        "os_name": os_name,
        "platform_machine": machine,
    }


class Providers:
    """Which declared dependency provides a needed library, for one wheel."""

    def __init__(
        self, requirements: Mapping[str, str], shipped: Iterable[tuple[str, ShippedLibrary]]
    ) -> None:
        self.requirements = dict(requirements)
        self.exact: dict[str, list[ShippedLibrary]] = {}
        self.globs: list[tuple[str, ShippedLibrary]] = []
        for name, lib in shipped:
            if lib.dist not in self.requirements:
                continue
            if any(c in name for c in "*?["):
                self.globs.append((name, lib))
            else:
                self.exact.setdefault(name, []).append(lib)

    def __bool__(self) -> bool:
        return bool(self.exact or self.globs)

    def find(self, soname: str, dirs: Iterable[tuple[str, str]] = ()) -> Provided | None:
        """The provider of ``soname``; ``dirs`` are (RUNPATH entry, install dir) pairs of the
        needing binary: a provider whose file one of them reaches is preferred."""
        candidates = list(self.exact.get(soname, ()))
        candidates += [lib for pattern, lib in self.globs if fnmatch.fnmatchcase(soname, pattern)]
        if not candidates:
            return None
        dirs = list(dirs)
        for lib in candidates:
            if lib.install_path is None:
                continue
            home = posixpath.dirname(posixpath.normpath(lib.install_path))
            for entry, directory in dirs:
                if posixpath.normpath(directory) == home:
                    return self._provided(soname, lib, entry)
        return self._provided(soname, candidates[0], None)

    def _provided(self, soname: str, lib: ShippedLibrary, via: str | None) -> Provided:
        return Provided(
            soname, lib.dist, self.requirements[lib.dist], lib.install_path, via, lib.source
        )


def metadata_requirements(metadata_text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(Requires-Dist entries, Provides-Extra names) of a METADATA file (core metadata)."""
    from email.parser import HeaderParser  # only when providers are asked about

    msg = HeaderParser().parsestr(metadata_text)
    return tuple(msg.get_all("Requires-Dist") or ()), tuple(msg.get_all("Provides-Extra") or ())


def build_providers(
    requires_dist: tuple[str, ...],
    extras: tuple[str, ...],
    claimed: tuple[PlatformTag, ...],
    mappings: tuple[tuple[str, str], ...],
    find_links: tuple[Path, ...],
    index_url: str | None,
) -> Providers:
    """The providers of one wheel: its declared dependencies and what they ship."""
    requirements = declared_requirements(requires_dist, extras, claimed)
    if not requirements:
        return Providers({}, ())
    shipped: list[tuple[str, ShippedLibrary]] = [
        (soname, ShippedLibrary(canonical_name(dist), None, "--provided-by"))
        for soname, dist in mappings
    ]
    target_os = next((t.os for t in claimed if t.family != "any"), "linux")
    shipped += _learned(find_links, index_url, frozenset(requirements), target_os)
    return Providers(requirements, shipped)


def provided_findings(graph: DependencyGraph) -> list[Finding]:
    """One info finding per (binary, library) that a declared dependency provides."""
    out: list[Finding] = []
    for dep in graph.dependencies:
        if dep.kind != "provided" or dep.provided is None:
            continue
        p = dep.provided
        details = [("library", p.soname), ("provider", p.dist), ("requirement", p.requirement)]
        if p.install_path:
            details.append(("provider_path", p.install_path))
        out.append(
            Finding(
                "provided-by-dependency",
                dep.needed_by,
                f"needs {p.soname}, {p.describe()}; not grafted",
                severity="info",
                details=tuple(details),
            )
        )
    return out
