"""The abi3 rule: an abi3 wheel's extensions use only the stable ABI of the version it claims.

A wheel tagged ``cp3X-abi3`` (PEP 384, PEP 425) promises that each extension module loads on
CPython 3.X and every later version. The compiler does not enforce that promise: a module
built without ``Py_LIMITED_API`` (or with a newer value) links whatever it uses, and breaks
only at import time on an older interpreter. So this rule reads the Python symbols each
extension imports and looks each one up in ``policies/stable_abi.json`` (CPython's
``Misc/stable_abi.toml``, reduced by ``tools/make_stable_abi.py``): absent, or present only
behind a feature macro the target platform does not define, means outside the limited API;
``added`` later than 3.X means the tag is too low. ``abi3t`` (PEP 803, the free-threaded
stable ABI) is checked the same way, plus its list of excluded symbols.

It works on the one ``Binary`` model, so ELF, Mach-O and PE are checked by the same code: the
readers already give undefined symbols (Mach-O names without their leading underscore) and,
for PE, the DLL each name is imported from. On Windows an abi3 extension must import
``python3.dll`` (``python3t.dll`` for abi3t), never the versioned ``python3X.dll``.

Alongside the errors, an info finding gives the lowest abi3 tag the extensions could honestly
carry (the newest ``added`` over every symbol they use), in its message and in its details.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding
from mwheel.binary.model import Binary, Format
from mwheel.errors import PolicyError
from mwheel.policy_data import load_data

Version = tuple[int, int]

# The first CPython of each stable ABI: abi3 came with 3.2 (PEP 384), abi3t with 3.15
# (PEP 803). No tag of that family can be lower, whatever the symbols say.
FIRST_VERSION: Mapping[str, Version] = MappingProxyType({"abi3": (3, 2), "abi3t": (3, 15)})

# Feature macros (stable_abi.toml ``ifdef``) that release builds of CPython define on each
# platform: a symbol behind any other macro is not exported there, so an abi3 extension
# cannot rely on it. Windows follows the toml's ``[feature_macro.*] windows`` keys, which
# decide what python3.dll re-exports (CPython's Tools/build/stable_abi.py); Linux and macOS
# have fork() and native thread ids. Py_REF_DEBUG/Py_TRACE_REFS exist only in debug builds,
# which do not load release extensions, so they are nowhere.
PLATFORM_MACROS: Mapping[Format, frozenset[str]] = MappingProxyType(
    {
        "elf": frozenset({"HAVE_FORK", "PY_HAVE_THREAD_NATIVE_ID"}),
        "macho": frozenset({"HAVE_FORK", "PY_HAVE_THREAD_NATIVE_ID"}),
        "pe": frozenset({"MS_WINDOWS", "PY_HAVE_THREAD_NATIVE_ID", "USE_STACKCHECK"}),
    }
)
_PLATFORM_NAME: Mapping[Format, str] = MappingProxyType(
    {"elf": "Linux", "macho": "macOS", "pe": "Windows"}
)

_VERSION_RE = re.compile(r"3\.(\d+)")
_CP_RE = re.compile(r"cp3(\d+)")
# The stable-ABI DLL of Windows (python3t.dll for the free-threaded build) and the
# version-specific ones (python311.dll, python313t.dll, python311_d.dll).
_STABLE_DLL_RE = re.compile(r"python3t?\.dll", re.IGNORECASE)
_VERSIONED_DLL_RE = re.compile(r"python3\d+t?(_d)?\.dll", re.IGNORECASE)
_PY_PREFIXES = ("Py", "_Py")
_SYMBOL_KEYS = frozenset({"added", "kind", "ifdef"})


@dataclass(frozen=True)
class StableSymbol:
    """One exported symbol of the stable ABI."""

    name: str
    added: Version
    kind: str  # function or data
    ifdef: str | None = None


@dataclass(frozen=True)
class StableAbi:
    """The stable ABI's symbols, and those the free-threaded variant (abi3t) leaves out."""

    symbols: Mapping[str, StableSymbol]
    abi3t_excluded: frozenset[str] = field(default=frozenset())


def _parse_version(text: Any, where: str) -> Version:
    match = _VERSION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise PolicyError(f"stable_abi.json: {where}: 'added' must look like '3.10'")
    return (3, int(match.group(1)))


def parse_stable_abi(data: Any) -> StableAbi:
    """Validate the stable-ABI document (see ``tools/make_stable_abi.py``)."""
    if not isinstance(data, dict) or not isinstance(data.get("symbols"), dict):
        raise PolicyError("stable_abi.json: top level must be an object with 'symbols'")
    symbols: dict[str, StableSymbol] = {}
    # Each audit of an abi3 wheel validates the ~1,000 entries: the dozen distinct versions
    # are parsed once each, and the key check is a view comparison, not a new set per entry.
    versions: dict[str, Version] = {}
    for name, raw in data["symbols"].items():
        if not isinstance(raw, dict) or raw.get("kind") not in ("function", "data"):
            raise PolicyError(f"stable_abi.json: {name}: needs kind 'function' or 'data'")
        if not raw.keys() <= _SYMBOL_KEYS:
            unknown = sorted(set(raw) - _SYMBOL_KEYS)
            raise PolicyError(f"stable_abi.json: {name}: unknown keys {unknown}")
        ifdef = raw.get("ifdef")
        if ifdef is not None and not isinstance(ifdef, str):
            raise PolicyError(f"stable_abi.json: {name}: 'ifdef' must be a string")
        added = raw.get("added")
        version = versions.get(added) if isinstance(added, str) else None
        if version is None:
            version = _parse_version(added, name)  # refuses anything but a '3.X' string
            versions[str(added)] = version
        symbols[name] = StableSymbol(name, version, raw["kind"], ifdef)
    excluded = data.get("abi3t_excluded", [])
    if not isinstance(excluded, list) or not all(isinstance(s, str) for s in excluded):
        raise PolicyError("stable_abi.json: 'abi3t_excluded' must be a list of names")
    return StableAbi(MappingProxyType(symbols), frozenset(excluded))


@cache
def stable_abi() -> StableAbi:
    """The stable ABI shipped with mwheel. Loaded and validated once."""
    return parse_stable_abi(load_data("stable_abi.json"))


def cp_tag(version: Version) -> str:
    return f"cp{version[0]}{version[1]}"


def _show(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def is_extension(binary: Binary) -> bool:
    """Whether the binary is an extension module: it exports a ``PyInit_<name>``.

    Shared libraries bundled beside extensions are not loaded by the interpreter as modules,
    and the abi3 promise is about what the interpreter loads.
    """
    return any(n.startswith(("PyInit_", "_PyInit_")) for n in binary.exported)


def claimed_minimum(interpreters: Iterable[str]) -> Version | None:
    """The oldest CPython the interpreter tags name (cp37 -> 3.7), if any names one."""
    versions = [(3, int(m.group(1))) for t in interpreters if (m := _CP_RE.fullmatch(t))]
    return min(versions) if versions else None


def python_imports(binary: Binary, own: frozenset[str]) -> list[str]:
    """The CPython symbols ``binary`` takes from the interpreter, sorted.

    Names it (or a library it bundles) defines are not uses of CPython: psutil, for one,
    defines its own ``PyErr_SetFromOSErrnoWithSyscall``. A PE file names the DLL of each
    import, so only names bound to a python3*.dll count there.
    """
    names: set[str] = set()
    for sym in binary.imported:
        if not sym.name.startswith(_PY_PREFIXES) or sym.name in own:
            continue
        if binary.format == "pe" and not (
            sym.library
            and (_STABLE_DLL_RE.fullmatch(sym.library) or _VERSIONED_DLL_RE.fullmatch(sym.library))
        ):
            continue
        names.add(sym.name)
    return sorted(names)


@dataclass(frozen=True)
class _Claim:
    abi: str  # abi3 or abi3t
    version: Version | None

    @property
    def tag(self) -> str:
        return f"{cp_tag(self.version)}-{self.abi}" if self.version else self.abi


class Abi3Rule:
    """The ``WheelRule`` for abi3 and abi3t wheels, on every binary format.

    ``abi`` replaces the shipped stable-ABI data (tests give it a synthetic abi3t exclusion,
    since CPython's list is still empty).
    """

    def __init__(self, abi: StableAbi | None = None) -> None:
        self._abi = abi

    @property
    def abi(self) -> StableAbi:
        return self._abi if self._abi is not None else stable_abi()

    def check(self, ctx: WheelContext) -> list[Finding]:
        version = claimed_minimum(ctx.claimed_interpreters) or ctx.options.assume_minimum_abi3
        claims = [_Claim(abi, version) for abi in ("abi3", "abi3t") if abi in ctx.claimed_abis]
        extensions = {m: b for m, b in ctx.binaries.items() if is_extension(b)}
        if not claims or not extensions:
            return []
        findings: list[Finding] = []
        needed: dict[str, Version] = {c.abi: FIRST_VERSION[c.abi] for c in claims}
        outside = False
        for member, binary in extensions.items():
            findings += self._check_dlls(member, binary, claims)
            for name in python_imports(binary, self._own_symbols(ctx, binary)):
                found, added = self._check_symbol(member, binary.format, name, claims)
                findings += found
                if added is None:
                    outside = True
                    continue
                for abi in needed:
                    needed[abi] = max(needed[abi], added)
        for claim in claims:
            findings.append(self._minimum(claim, needed[claim.abi], outside))
        return findings

    @staticmethod
    def _own_symbols(ctx: WheelContext, binary: Binary) -> frozenset[str]:
        """What the binary and the wheel's libraries it links define: not CPython's API."""
        own = set(binary.exported)
        deps = {d.rsplit("/", 1)[-1].lower() for d in binary.dependencies}
        for member, other in ctx.binaries.items():
            if other is not binary and member.rsplit("/", 1)[-1].lower() in deps:
                own |= other.exported
        return frozenset(own)

    @staticmethod
    def _check_dlls(member: str, binary: Binary, claims: list[_Claim]) -> list[Finding]:
        if binary.format != "pe":
            return []
        stable = "python3t.dll" if all(c.abi == "abi3t" for c in claims) else "python3.dll"
        return [
            Finding(
                "abi3-not-python3-dll",
                member,
                f"imports {dll}, which ties it to one CPython version, but the wheel "
                f"claims {claims[0].tag}: it must import {stable} instead",
                details=(("library", dll),),
            )
            for dll in binary.dependencies
            if _VERSIONED_DLL_RE.fullmatch(dll)
        ]

    def _check_symbol(
        self, member: str, fmt: Format, name: str, claims: list[_Claim]
    ) -> tuple[list[Finding], Version | None]:
        """Findings for one used symbol, and the version it needs (None: not stable ABI)."""
        sym = self.abi.symbols.get(name)
        details = (("symbol", name),)
        if sym is None:
            return [
                Finding(
                    "abi3-symbol-not-limited",
                    member,
                    f"uses {name}, which is not in the limited API, but the wheel "
                    f"claims {claims[0].tag}",
                    details=details,
                )
            ], None
        if sym.ifdef is not None and sym.ifdef not in PLATFORM_MACROS[fmt]:
            return [
                Finding(
                    "abi3-symbol-not-limited",
                    member,
                    f"uses {name}, which the stable ABI offers only where {sym.ifdef} "
                    f"is defined, not on {_PLATFORM_NAME[fmt]}, but the wheel claims "
                    f"{claims[0].tag}",
                    details=details,
                )
            ], None
        out: list[Finding] = []
        for claim in claims:
            if claim.abi == "abi3t" and name in self.abi.abi3t_excluded:
                out.append(
                    Finding(
                        "abi3t-symbol-excluded",
                        member,
                        f"uses {name}, which the free-threaded stable ABI leaves "
                        f"out, but the wheel claims {claim.tag}",
                        details=details,
                    )
                )
            elif claim.version is not None and sym.added > claim.version:
                out.append(
                    Finding(
                        "abi3-version-too-low",
                        member,
                        f"uses {name}, limited API only since {_show(sym.added)}, but the wheel "
                        f"claims {claim.tag}",
                        details=(*details, ("version", _show(sym.added))),
                    )
                )
        return out, sym.added

    @staticmethod
    def _minimum(claim: _Claim, needed: Version, outside: bool) -> Finding:
        lowest = f"{cp_tag(needed)}-{claim.abi}"
        message = f"the extensions need at least {lowest}"
        if outside:
            message += " once they stop using symbols outside the limited API"
        elif claim.version is not None and needed < claim.version:
            message += f" by the symbols they import (the wheel claims {claim.tag})"
        return Finding(
            "abi3-minimum",
            None,
            message,
            severity="info",
            details=((f"{claim.abi}_minimum", cp_tag(needed)),),
        )
