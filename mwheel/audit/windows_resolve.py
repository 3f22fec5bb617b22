"""Where Windows would find each DLL a wheel's binaries import, and which need no bundling.

Classification of one imported name, compared case-insensitively as Windows does:

1. an API set (``api-ms-win-*``, ``ext-ms-*``) or a DLL of System32 on Windows 10
   (``policies/windows.json``): *system*;
2. the interpreter's DLL (``python3.dll``, ``python311.dll`` for a cp311 wheel,
   ``python313t.dll`` / ``python3t.dll`` for the free-threaded cp313t, PyPy's
   ``libpypy3.9-c.dll``, GraalPy's ``python-native.dll``): *system*, and an error when it
   is another interpreter's than the wheel's interpreter and ABI tags name;
3. a DLL of the wheel: next to the importing binary (the directory Python's
   ``LoadLibraryExW(LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR)`` searches), then in a ``*.libs``
   directory (where delvewheel and mwheel graft, added by ``os.add_dll_directory``), then
   anywhere in the wheel (packages such as scikit-learn load their own DLLs first): *bundled*;
   outside the importer's directory it loads only when the wheel's ``.pth`` or ``__init__``
   code adds its directory or loads it first (``windows_dll_dirs``), else a warning;
4. the VC++ runtime when not bundled: *system*, reported as assumed present;
5. a DLL in a ``--lib-path`` directory for the same machine: *external* (a repair grafts it,
   and its own imports are resolved the same way);
6. otherwise *missing*.

Host directories are never searched otherwise: mwheel runs anywhere, and a Windows wheel's
DLLs are found only where the user points.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mwheel.audit.context import WheelContext
from mwheel.audit.resolve import Dependency, DependencyGraph, ExternalLibrary
from mwheel.binary import read_binary
from mwheel.binary.model import Binary
from mwheel.binary.pe import MACHINES
from mwheel.errors import MwheelError, PolicyError
from mwheel.policy_data import load_data

ARCHS = ("x86", "x86_64", "arm64")
_FILE_KEYS = {"format", "about", "api_set_prefixes", "system_dlls", "python_dlls", "runtime"}
_INTERPRETER = re.compile(r"^([a-z]+)(\d)(\d+)$")
# A CPython/generic interpreter tag with its version: cp27 -> (2, 7), py311 -> (3, 11).
_INTERPRETER_VERSION = re.compile(r"(?:cp|py)(\d)(\d+)")
_RULE_KEYS = {"interpreter", "abi", "dlls"}


@dataclass(frozen=True)
class WindowsPolicy:
    """``policies/windows.json``, validated: what a Windows wheel may import unbundled."""

    api_set_prefixes: tuple[str, ...]
    system: Mapping[str, frozenset[str]]  # arch -> lower-case DLL names
    python_patterns: tuple[re.Pattern[str], ...]  # any interpreter's DLL
    # (interpreter prefix, ABI template, DLL name templates), e.g. ("cp", "cp{major}{minor}t",
    # ("python3t.dll", "python{major}{minor}t.dll")).
    python_rules: tuple[tuple[str, str, tuple[str, ...]], ...]
    python_runtime: Mapping[str, frozenset[str]]  # arch -> DLLs shipped with CPython
    # DLL -> the first CPython (3, minor) whose installer ships it (vcruntime140_1.dll: 3.9).
    python_since: Mapping[str, tuple[int, int]]
    vc_redist: frozenset[str]
    # The C runtime of older CPythons (msvcr90.dll: 2.6 to 3.2) -> first and last version.
    python_series: Mapping[str, tuple[tuple[int, int], tuple[int, int]]] = field(
        default_factory=dict
    )

    def is_system(self, name: str, arch: str) -> bool:
        lower = name.lower()
        return lower.startswith(self.api_set_prefixes) or lower in self.system.get(arch, ())

    def runtime_kind(
        self,
        name: str,
        arch: str,
        oldest: tuple[int, int] | None = None,
        pythons: frozenset[tuple[int, int]] | None = None,
    ) -> str | None:
        """ "python" (ships with CPython), "vc_redist" or None. ``oldest``: the oldest
        CPython the wheel's tags allow, when one that predates the DLL makes it redist.
        ``pythons``: the versions the tags name (None: not known), for the C runtime of
        older CPythons, which is the interpreter's own only if every one of them uses it."""
        lower = name.lower()
        series = self.python_series.get(lower)
        if series is not None:
            first, last = series
            inside = pythons is not None and all(first <= v <= last for v in pythons)
            return "python" if pythons and inside else "vc_redist"
        if lower in self.python_runtime.get(arch, ()):
            since = self.python_since.get(lower)
            if since is not None and oldest is not None and oldest < since:
                return "vc_redist"
            return "python"
        return "vc_redist" if lower in self.vc_redist else None

    def is_python(self, name: str) -> bool:
        """Whether ``name`` is some interpreter's own DLL (never bundled, never grafted)."""
        lower = name.lower()
        return any(p.fullmatch(lower) for p in self.python_patterns)

    def python_dlls(
        self, interpreters: tuple[str, ...], abis: tuple[str, ...]
    ) -> frozenset[str] | None:
        """The interpreter DLLs the wheel's tags allow; None when no tag names a version."""
        names: set[str] = set()
        for interp in interpreters:
            m = _INTERPRETER.match(interp)
            if m is None:
                continue
            for prefix, abi_template, templates in self.python_rules:
                if prefix != m[1]:
                    continue
                want = abi_template.format(major=m[2], minor=m[3])
                if not any(fnmatch.fnmatchcase(abi, want) for abi in abis):
                    continue
                names.update(t.format(major=m[2], minor=m[3]).lower() for t in templates)
        return frozenset(names) or None


def _names(value: Any, where: str) -> frozenset[str]:
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise PolicyError(f"policy windows.json: {where} must be a list of strings")
    bad = [v for v in value if v != v.lower() or not v.endswith((".dll", ".drv"))]
    if bad:
        raise PolicyError(f"policy windows.json: {where}: not lower-case DLL names: {bad[:3]}")
    return frozenset(value)


def parse_windows_policy(raw: Any) -> WindowsPolicy:
    if not isinstance(raw, dict) or set(raw) != _FILE_KEYS or raw["format"] != 1:
        raise PolicyError(f"policy windows.json: expected format 1 with keys {sorted(_FILE_KEYS)}")
    system = raw["system_dlls"]
    if not isinstance(system, dict) or set(system) != {"all", *ARCHS}:
        raise PolicyError("policy windows.json: system_dlls needs 'all' and one list per arch")
    common = _names(system["all"], "system_dlls.all")
    by_arch = {a: common | _names(system[a], f"system_dlls.{a}") for a in ARCHS}
    runtime = raw["runtime"]
    if (
        not isinstance(runtime, dict)
        or not {"python", "vc_redist"}
        <= set(runtime)
        <= {"python", "vc_redist", "python_since", "python_series", "older_redist"}
        or not isinstance(runtime["python"], dict)
        or set(runtime["python"]) != set(ARCHS)
    ):
        raise PolicyError("policy windows.json: runtime needs python (per arch) and vc_redist")
    python_rt = {a: _names(runtime["python"][a], f"runtime.python.{a}") for a in ARCHS}
    redist = _names(runtime["vc_redist"], "runtime.vc_redist")
    series_raw = runtime.get("python_series", {})
    if not isinstance(series_raw, dict) or not all(
        isinstance(v, list) and len(v) == 2 and all(re.fullmatch(r"\d\.\d+", x) for x in v)
        for v in series_raw.values()
    ):
        raise PolicyError("policy windows.json: runtime.python_series maps DLLs to [X.Y, X.Y]")
    series = {k.lower(): (_version(v[0]), _version(v[1])) for k, v in series_raw.items()}
    redist |= _names(runtime.get("older_redist", []), "runtime.older_redist")
    since = runtime.get("python_since", {})
    if not isinstance(since, dict) or not all(
        isinstance(v, str) and re.fullmatch(r"3\.\d+", v) for v in since.values()
    ):
        raise PolicyError("policy windows.json: runtime.python_since maps DLLs to '3.X'")
    python_since = {k.lower(): (3, int(v.split(".")[1])) for k, v in since.items()}
    for arch in ARCHS:
        clash = by_arch[arch] & (python_rt[arch] | redist)
        if clash:
            raise PolicyError(
                f"policy windows.json: {sorted(clash)} listed as both system and runtime"
            )
    patterns, rules = _python_dlls(raw["python_dlls"])
    prefixes = raw["api_set_prefixes"]
    if not (isinstance(prefixes, list) and all(isinstance(p, str) for p in prefixes)):
        raise PolicyError("policy windows.json: api_set_prefixes must be a list of strings")
    return WindowsPolicy(
        api_set_prefixes=tuple(prefixes),
        system=MappingProxyType(by_arch),
        python_patterns=patterns,
        python_rules=rules,
        python_runtime=MappingProxyType(python_rt),
        python_since=MappingProxyType(python_since),
        vc_redist=redist,
        python_series=MappingProxyType(series),
    )


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def _python_dlls(
    raw: Any,
) -> tuple[tuple[re.Pattern[str], ...], tuple[tuple[str, str, tuple[str, ...]], ...]]:
    """``python_dlls``: patterns of every interpreter DLL, and which tags allow which."""
    if not isinstance(raw, dict) or not {"patterns", "by_tag"} <= set(raw):
        raise PolicyError("policy windows.json: python_dlls needs patterns and by_tag")
    if not (isinstance(raw["patterns"], list) and all(isinstance(p, str) for p in raw["patterns"])):
        raise PolicyError("policy windows.json: python_dlls.patterns must be a list of strings")
    try:
        patterns = tuple(re.compile(p) for p in raw["patterns"])
    except re.error as exc:
        raise PolicyError(f"policy windows.json: python_dlls.patterns: {exc}") from None
    rules = []
    for rule in raw["by_tag"] if isinstance(raw["by_tag"], list) else [None]:
        if not (isinstance(rule, dict) and set(rule) == _RULE_KEYS):
            raise PolicyError(f"policy windows.json: python_dlls.by_tag entries need {_RULE_KEYS}")
        dlls = _names(rule["dlls"], f"python_dlls.by_tag {rule['interpreter']}/{rule['abi']}")
        # Every DLL a tag allows must be recognised as an interpreter DLL, or the rule is dead.
        for dll in dlls:
            sample = dll.format(major="3", minor="11")
            if not any(p.fullmatch(sample) for p in patterns):
                raise PolicyError(
                    f"policy windows.json: {dll} matches none of python_dlls.patterns"
                )
        rules.append((str(rule["interpreter"]), str(rule["abi"]), tuple(sorted(dlls))))
    return patterns, tuple(rules)


@cache
def windows_policy() -> WindowsPolicy:
    """Loaded and validated once."""
    return parse_windows_policy(load_data("windows.json"))


@dataclass(frozen=True)
class WindowsGraph:
    """The dependency graph, plus what the Windows rules report beyond it."""

    graph: DependencyGraph
    # Runtime DLL (as first spelled) -> (runtime kind, importers), assumed present.
    assumed: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    # (importer, DLL) pairs naming another Python version's DLL than the wheel's tags.
    wrong_python: tuple[tuple[str, str], ...] = ()
    # (importer, DLL, member): bundled, but not beside the importer, so found only if the
    # wheel's Python adds its directory or loads it first (windows_dll_dirs).
    off_path: tuple[tuple[str, str, str], ...] = ()


def _machine_of(path: str) -> str | None:
    """The architecture of a PE file from its COFF header, without parsing the rest."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if len(head) < 64 or head[:2] != b"MZ":
        return None
    at = int.from_bytes(head[60:64], "little")
    if at + 6 > len(head) or head[at : at + 4] != b"PE\0\0":
        return None
    machine = int.from_bytes(head[at + 4 : at + 6], "little")
    return MACHINES.get(machine, ("", ""))[1] or None


class WindowsResolver:
    """Resolves the imported DLLs of one wheel's PE binaries for one architecture."""

    def __init__(self, ctx: WheelContext, policy: WindowsPolicy, arch: str) -> None:
        self.ctx = ctx
        self.policy = policy
        self.arch = arch
        self.python = policy.python_dlls(ctx.claimed_interpreters, ctx.claimed_abis)
        minors = [i[3:] for i in ctx.claimed_interpreters if i.startswith("cp3")]
        self.oldest = min(((3, int(m)) for m in minors if m.isdigit()), default=None)
        # Every Python version the tags name (cp27 -> 2.7); None when one names none (py3).
        named = [_INTERPRETER_VERSION.fullmatch(i) for i in ctx.claimed_interpreters]
        self.pythons: frozenset[tuple[int, int]] | None = (
            frozenset((int(m[1]), int(m[2])) for m in named if m) if named and all(named) else None
        )
        # Lower-case file name -> PE members installed into site-packages with that name.
        self.by_name: dict[str, list[str]] = {}
        for member, binary in ctx.binaries.items():
            if binary.format == "pe" and not ctx.install_path(member).startswith("<"):
                self.by_name.setdefault(posixpath.basename(member).lower(), []).append(member)
        self._listings: dict[str, dict[str, str]] = {}

    def resolve(self) -> WindowsGraph:
        deps: list[Dependency] = []
        externals: dict[str, ExternalLibrary] = {}
        assumed: dict[str, tuple[str, list[str]]] = {}
        wrong_python: list[tuple[str, str]] = []
        off_path: list[tuple[str, str, str]] = []
        pending: list[tuple[str, Binary, bool]] = [
            (m, b, False) for m, b in self.ctx.binaries.items() if b.format == "pe"
        ]
        while pending:
            needed_by, binary, on_host = pending.pop(0)
            for name in binary.dependencies:
                lower = name.lower()
                # --include/--add-dll: a DLL the user wants vendored even if it is a system
                # or runtime DLL (delvewheel's meaning); it is looked for like any other.
                forced = lower in self.ctx.options.include
                if self.policy.is_system(name, self.arch) and not forced:
                    deps.append(Dependency(name, needed_by, "system"))
                    continue
                if self.policy.is_python(lower):
                    deps.append(Dependency(name, needed_by, "system"))
                    if self.python is not None and lower not in self.python:
                        wrong_python.append((needed_by, name))
                    continue
                member = self._in_wheel(needed_by, lower, on_host)
                if member is not None:
                    deps.append(Dependency(name, needed_by, "bundled", member=member))
                    if not on_host and not self._on_search_path(needed_by, member):
                        off_path.append((needed_by, name, member))
                    continue
                runtime = (
                    None
                    if forced
                    else self.policy.runtime_kind(name, self.arch, self.oldest, self.pythons)
                )
                if runtime is not None:
                    deps.append(Dependency(name, needed_by, "system"))
                    key = next((k for k in assumed if k.lower() == lower), name)
                    assumed.setdefault(key, (runtime, []))[1].append(needed_by)
                    continue
                path = self._on_lib_path(lower)
                deps.append(
                    Dependency(name, needed_by, "external" if path else "missing", path=path)
                )
                known = next((k for k in externals if k.lower() == lower), None)
                if known is None:
                    lib = _read_host(path) if path else None
                    externals[name] = ExternalLibrary(name, path, lib, (needed_by,))
                    if lib is not None and path is not None:
                        pending.append((path, lib, True))
                elif needed_by not in externals[known].needed_by:
                    prev = externals[known]
                    externals[known] = ExternalLibrary(
                        prev.name, prev.path, prev.binary, (*prev.needed_by, needed_by)
                    )
        graph = DependencyGraph(tuple(deps), tuple(externals.values()))
        return WindowsGraph(
            graph,
            {k: (kind, tuple(v)) for k, (kind, v) in assumed.items()},
            tuple(wrong_python),
            tuple(off_path),
        )

    def _on_search_path(self, needed_by: str, member: str) -> bool:
        """Beside its importer (``LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR``). Anywhere else, a
        ``*.libs`` directory included, the wheel's own code must add the directory
        (``windows_dll_dirs``), as delvewheel's and mwheel's ``__init__`` patches do."""
        there = posixpath.dirname(self.ctx.install_path(member))
        return there == posixpath.dirname(self.ctx.install_path(needed_by))

    def _in_wheel(self, needed_by: str, lower: str, on_host: bool) -> str | None:
        candidates = self.by_name.get(lower)
        if not candidates:
            return None
        if not on_host:
            here = posixpath.dirname(self.ctx.install_path(needed_by))
            for member in candidates:
                if posixpath.dirname(self.ctx.install_path(member)) == here:
                    return member
        for member in candidates:
            if posixpath.dirname(self.ctx.install_path(member)).endswith(".libs"):
                return member
        return sorted(candidates)[0]

    def _listing(self, directory: str) -> dict[str, str]:
        if directory not in self._listings:
            try:
                names = os.listdir(directory)
            except OSError:
                names = []
            self._listings[directory] = {n.lower(): n for n in sorted(names, reverse=True)}
        return self._listings[directory]

    def _on_lib_path(self, lower: str) -> str | None:
        for directory in self.ctx.options.lib_paths:
            actual = self._listing(str(directory)).get(lower)
            if actual is None:
                continue
            path = os.path.join(str(directory), actual)
            if os.path.isfile(path) and _machine_of(path) == self.arch:
                return path
        return None


@cache
def _read_host(path: str) -> Binary | None:
    try:
        return read_binary(path, Path(path).read_bytes())
    except (OSError, MwheelError):
        return None
