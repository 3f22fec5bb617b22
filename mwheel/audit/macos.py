"""macOS rules: a ``macosx_<major>_<minor>_<arch>`` tag against every Mach-O member's slices.

A wheel honours a macOS tag when every Mach-O member has a slice for each architecture the
tag names (``universal2`` = x86_64 + arm64, ``intel``, ...), no such slice needs a newer
macOS than the tag (LC_BUILD_VERSION / LC_VERSION_MIN_MACOSX ``minos``; from macOS 11 on a
tag says ``major.0``, so 11.3 is judged as 11.0), and every non-system install name
resolves inside the wheel. The best tag follows from the highest ``minos`` over all
binaries and the architectures they all have. A slice built for the first macOS of its
architecture constrains nothing: the arm64 slice (11.0) of a ``macosx_10_9_universal2``
wheel is fine, since no arm64 Mac runs 10.9. The data (system prefixes, those first
versions) are in ``policies/macos.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding, Severity
from mwheel.audit.macos_resolve import RPATH, MacResolver, is_cwd_relative, rpaths_of
from mwheel.audit.resolve import DependencyGraph, excluded_names
from mwheel.audit.verdict import PlatformVerdict
from mwheel.binary.model import Binary, MachOSlice
from mwheel.errors import PolicyError
from mwheel.policy_data import load_data
from mwheel.tags import MACOS_ARCH_GROUPS, PlatformTag

Version = tuple[int, int]
_KEYS = {
    "comment",
    "system_prefixes",
    "arch_floors",
    "major_only_from",
    "tag_archs",
    "signature_required",
    "dylibs_dir",
}


@dataclass(frozen=True)
class MacPolicy:
    system_prefixes: tuple[str, ...]
    arch_floors: Mapping[str, Version]
    major_only_from: int
    tag_archs: tuple[str, ...]
    signature_required: frozenset[str]
    dylibs_dir: str

    def floor(self, arch: str) -> Version:
        return self.arch_floors.get(arch, (10, 0))

    def normalize(self, version: tuple[int, ...]) -> Version:
        """The tag version a binary's ``minos`` maps to (11.3 -> 11.0)."""
        major, minor = version[0], version[1]
        return (major, 0) if major >= self.major_only_from else (major, minor)


def _version(text: Any, where: str) -> Version:
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise PolicyError(f"policy macos.json: {where} must look like '10.9', not {text!r}")
    return int(parts[0]), int(parts[1])


@cache
def mac_policy() -> MacPolicy:
    """The macOS data, validated once."""
    raw = load_data("macos.json")
    if not isinstance(raw, dict) or set(raw) != _KEYS:
        raise PolicyError(f"policy macos.json: keys must be {sorted(_KEYS)}")
    strings = ("system_prefixes", "tag_archs", "signature_required")
    for key in strings:
        if not all(isinstance(v, str) for v in raw[key]):
            raise PolicyError(f"policy macos.json: {key} must be a list of strings")
    unknown = [
        a for a in raw["tag_archs"] if a not in MACOS_ARCH_GROUPS and a not in raw["arch_floors"]
    ]
    if unknown:
        raise PolicyError(
            f"policy macos.json: tag_archs {unknown} are neither groups nor "
            "architectures with a floor"
        )
    return MacPolicy(
        system_prefixes=tuple(raw["system_prefixes"]),
        arch_floors={a: _version(v, f"arch_floors[{a}]") for a, v in raw["arch_floors"].items()},
        major_only_from=int(raw["major_only_from"]),
        tag_archs=tuple(raw["tag_archs"]),
        signature_required=frozenset(raw["signature_required"]),
        dylibs_dir=str(raw["dylibs_dir"]),
    )


def tag_archs(arch: str) -> frozenset[str]:
    """The architectures a tag's arch part stands for."""
    return MACOS_ARCH_GROUPS.get(arch, frozenset({arch}))


def fmt(version: tuple[int, ...]) -> str:
    """13.0 for (13, 0, 0), 10.15.4 for (10, 15, 4)."""
    shown = version[:2] if len(version) < 3 or version[2] == 0 else version[:3]
    return ".".join(str(v) for v in shown)


def slices_of(binary: Binary) -> tuple[MachOSlice, ...]:
    assert binary.macho is not None
    return binary.macho.slices


def requirement(s: MachOSlice, policy: MacPolicy) -> Version | None:
    """The tag version this slice forces, None if it runs wherever its arch does."""
    if s.minos is None:
        return None
    need = policy.normalize(s.minos)
    return need if need > policy.floor(s.arch) else None


def best_tag(
    binaries: Mapping[str, Binary], policy: MacPolicy
) -> tuple[PlatformTag | None, list[tuple[str, MachOSlice]]]:
    """The most compatible tag for these binaries, and the slices that decide its version."""
    common: set[str] | None = None
    for b in binaries.values():
        common = set(b.archs) if common is None else common & set(b.archs)
    if not common:
        return None, []
    arch = next((a for a in policy.tag_archs if tag_archs(a) <= common), None)
    if arch is None:
        return None, []
    wanted = tag_archs(arch)
    version = min(policy.floor(a) for a in wanted)
    deciders: list[tuple[str, MachOSlice]] = []
    for label, b in binaries.items():
        for s in slices_of(b):
            need = requirement(s, policy) if s.arch in wanted else None
            if need is not None and need >= version:
                if need > version:
                    deciders = []
                version = need
                deciders.append((label, s))
    return PlatformTag("macosx", version, arch), deciders


def tag_problems(
    tag: PlatformTag, binaries: Mapping[str, Binary], policy: MacPolicy
) -> list[Finding]:
    """Why ``tag`` does not fit these binaries' slices (architectures, minimum versions)."""
    assert tag.version is not None
    out: list[Finding] = []
    wanted = tag_archs(tag.arch)
    for label, b in binaries.items():
        missing = sorted(wanted - set(b.archs))
        if missing:
            out.append(
                Finding(
                    "macos-architecture-missing",
                    label,
                    f"has no {', '.join(missing)} slice (it has "
                    f"{', '.join(b.archs)}), which {tag.name} needs",
                    tag=tag.name,
                    details=(("archs", ",".join(missing)),),
                )
            )
        for s in slices_of(b):
            if s.arch not in wanted or s.minos is None:
                continue
            if policy.normalize(s.minos) > max(tag.version, policy.floor(s.arch)):
                out.append(
                    Finding(
                        "macos-version-too-high",
                        label,
                        f"the {s.arch} slice needs macOS {fmt(s.minos)} ({s.version_command} "
                        f"minos), newer than {tag.name} allows",
                        tag=tag.name,
                        details=(
                            ("arch", s.arch),
                            ("minos", fmt(s.minos)),
                            ("command", s.version_command or ""),
                        ),
                    )
                )
    return out


def load_sites(binary: Binary, name: str) -> str:
    """'LC_LOAD_DYLIB in the arm64 slice'-style text: where a binary loads ``name``."""
    by_cmd: dict[str, list[str]] = {}
    for s in slices_of(binary):
        for load in s.loads:
            if load.name == name:
                by_cmd.setdefault(load.command, []).append(s.arch)
    return "; ".join(
        f"{cmd} in the {', '.join(archs)} slice{'s' if len(archs) > 1 else ''}"
        for cmd, archs in by_cmd.items()
    )


def macho_binaries(ctx: WheelContext) -> dict[str, Binary]:
    return {m: b for m, b in ctx.binaries.items() if b.format == "macho"}


def grafted_binaries(
    ctx: WheelContext, graph: DependencyGraph, excluded: frozenset[str]
) -> dict[str, Binary] | None:
    """The members plus every external library a repair would graft; None if one is missing."""
    out: dict[str, Binary] = dict(macho_binaries(ctx))
    for ext in graph.externals:
        if ext.name in excluded:
            continue
        if ext.binary is None or ext.path is None:
            return None
        out.setdefault(ext.path, ext.binary)
    return out


class MacOSRules:
    os = "macos"

    def evaluate(self, ctx: WheelContext) -> PlatformVerdict:
        policy = mac_policy()
        machos = macho_binaries(ctx)
        graph = MacResolver(ctx, policy.system_prefixes).resolve()
        excluded = excluded_names(graph, ctx.options.exclude)
        claimed = [t for t in ctx.claimed if t.family == "macosx"]
        findings: list[Finding] = []
        external_findings = self._dependency_findings(graph, machos, excluded, bool(claimed))
        findings += external_findings
        findings += self._binary_findings(machos, policy)
        self_contained = not any(f.severity == "error" for f in external_findings)

        honoured: dict[str, bool] = {}
        for tag in claimed:
            problems = tag_problems(tag, machos, policy)
            findings += problems
            honoured[tag.name] = not problems and self_contained

        best, deciders = best_tag(machos, policy)
        if best is None:
            findings.append(
                Finding(
                    "macos-architecture-missing",
                    None,
                    "the Mach-O members share no architecture a macOS tag can name",
                    details=(("archs", ""),),
                )
            )
        elif best.version is not None and deciders:
            for label, s in deciders:
                assert s.minos is not None
                findings.append(
                    Finding(
                        "best-tag-constraint",
                        label,
                        f"the {s.arch} slice needs macOS {fmt(s.minos)} ({s.version_command} "
                        f"minos), which sets {best.name}",
                        severity="info",
                        tag=best.name,
                    )
                )
        after = grafted_binaries(ctx, graph, excluded)
        repair = best_tag(after, policy)[0] if after is not None else None
        return PlatformVerdict(
            honoured=honoured,
            best_tag=best.name if best else None,
            repair_tag=repair.name if repair else None,
            graph=graph,
            findings=tuple(findings),
            arch=best.arch if best else "",
            family="macosx",
        )

    @staticmethod
    def _dependency_findings(
        graph: DependencyGraph,
        machos: Mapping[str, Binary],
        excluded: frozenset[str],
        claimed: bool,
    ) -> list[Finding]:
        severity: Severity = "error" if claimed else "warning"
        out: list[Finding] = []
        by_path = {e.path: e.binary for e in graph.externals if e.path and e.binary}
        for d in graph.dependencies:
            holder = machos.get(d.needed_by) or by_path.get(d.needed_by)
            where = load_sites(holder, d.name) if holder is not None else "a load command"
            details = (("library", d.name), ("load", where))
            if d.name in excluded and d.kind in ("external", "missing"):
                continue
            cwd = _cwd_note(holder, d.name) if holder is not None else ""
            if d.kind == "external":
                out.append(
                    Finding(
                        "macos-library-external",
                        d.needed_by,
                        f"loads {d.name} ({where}), found at {d.path}: outside the wheel and "
                        f"outside /usr/lib and /System; `mwheel repair` grafts it{cwd}",
                        severity=severity,
                        details=details,
                    )
                )
            elif d.kind == "missing":
                out.append(
                    Finding(
                        "library-not-found",
                        d.needed_by,
                        f"loads {d.name} ({where}), found neither in the wheel nor on the library "
                        f"path (try --lib-path){cwd}",
                        severity=severity,
                        details=details,
                    )
                )
            elif d.kind == "bundled" and not d.reachable:
                out.append(
                    Finding(
                        "library-not-on-search-path",
                        d.needed_by,
                        f"loads {d.name} ({where}), bundled as {d.member} but not where dyld "
                        f"looks; `mwheel repair` rewrites the load command{cwd}",
                        severity="warning",
                        details=details,
                    )
                )
        return out

    @staticmethod
    def _binary_findings(machos: Mapping[str, Binary], policy: MacPolicy) -> list[Finding]:
        out: list[Finding] = []
        for member, b in machos.items():
            for s in slices_of(b):
                if s.arch in policy.signature_required and not s.signed:
                    out.append(
                        Finding(
                            "macos-unsigned",
                            member,
                            f"the {s.arch} slice has no LC_CODE_SIGNATURE: macOS refuses to load "
                            "unsigned arm64 code; `mwheel repair` signs it ad hoc",
                            details=(("arch", s.arch),),
                        )
                    )
                if s.platform not in (None, "macos"):
                    out.append(
                        Finding(
                            "wrong-platform",
                            member,
                            f"the {s.arch} slice is built for {s.platform} ({s.version_command}), "
                            "not macOS",
                            details=(("arch", s.arch),),
                        )
                    )
        return out


def _cwd_note(holder: Binary, name: str) -> str:
    """Why a name dyld looks up relative to the current directory does not load in place."""
    if is_cwd_relative(name):
        relative = [name]
    elif name.startswith(RPATH + "/"):
        relative = [r for r in rpaths_of(holder) if is_cwd_relative(r)]
    else:
        relative = []
    if not relative:
        return ""
    if relative == [name] and "/" not in name:
        return (
            f"; the install name {name} is a bare file name: dyld looks for it in the current "
            "directory and DYLD_FALLBACK_LIBRARY_PATH (~/lib, /usr/local/lib, /usr/lib), "
            "never in the wheel"
        )
    what = "install name" if relative == [name] else "LC_RPATH"
    return (
        f"; the {what} {', '.join(relative)} is relative: dyld resolves it against the "
        "current directory, not the wheel"
    )
