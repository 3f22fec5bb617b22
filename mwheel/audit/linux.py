"""Linux rules: manylinux (PEP 600) and musllinux (PEP 656) policies against ELF binaries.

A wheel honours a policy when every ELF member runs on the policy's architecture, needs
only libraries that are bundled or allowed, needs no symbol version outside the allowed
sets, uses no forbidden symbol of an allowed library, imports no function that only a newer
policy's libc has (musl, which has no symbol versions), and needs no newer x86-64 ISA level.
Policies are ordered oldest first and each allows more than the last, so the best tag is
the first policy with no violation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding, Severity
from mwheel.audit.linux_resolve import LinuxResolver
from mwheel.audit.resolve import DependencyGraph, excluded_names
from mwheel.audit.verdict import PlatformVerdict
from mwheel.binary.model import Binary
from mwheel.policies import LinuxPolicy, linux_policies, policy_for
from mwheel.tags import PlatformTag

# Version needs on the dynamic loader itself are not checked: its versions move with
# glibc's and are covered by libc's own needs.
_LOADER_PREFIXES = ("ld-linux", "ld64.so", "ld.so")


@dataclass(frozen=True)
class _Requirement:
    """What one ELF file (bundled or to be grafted) asks of the system."""

    label: str  # member, or host path of a library a repair would graft
    binary: Binary
    libraries: tuple[str, ...]  # needed libraries that must come from the system
    # Imported symbol names per version, and the strong (non-weak) imports: computed once
    # here because every policy asks for them.
    by_version: dict[str, list[str]] = field(default_factory=dict, compare=False)
    strong: frozenset[str] = frozenset()
    # Strong imports that no library of the wheel's own (bundled or grafted) defines: only
    # these can come from libc (the musl rule judges them).
    from_system: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        label: str,
        binary: Binary,
        libraries: tuple[str, ...],
        provided: frozenset[str] = frozenset(),
    ) -> _Requirement:
        by_version: dict[str, set[str]] = {}
        for s in binary.imported:
            if s.version:
                by_version.setdefault(s.version, set()).add(s.name)
        # Weak imports are optional (Rust's std probes __cxa_thread_atexit_impl weakly and
        # falls back when it is missing), so only strong ones can break on an older system.
        strong = frozenset(s.name for s in binary.imported if not s.weak)
        return cls(
            label,
            binary,
            libraries,
            {v: sorted(n) for v, n in by_version.items()},
            strong,
            strong - provided,
        )


def _libc_of(binary: Binary) -> str | None:
    elf = binary.elf
    assert elf is not None
    interp = elf.interpreter or ""
    if "ld-musl" in interp or any(
        d.startswith("ld-musl-") or d == "libc.so" for d in binary.dependencies
    ):
        return "musl"
    if "libc.so.6" in binary.dependencies or "ld-linux" in interp:
        return "glibc"
    return None


def _violations(req: _Requirement, policy: LinuxPolicy, arch: str, tag: str) -> list[Finding]:
    out: list[Finding] = []
    b = req.binary
    elf = b.elf
    assert elf is not None
    if arch not in policy.architectures:
        out.append(
            Finding(
                "architecture-mismatch",
                req.label,
                f"{policy.name} does not exist for {arch}",
                tag=tag,
            )
        )
        return out
    for lib in req.libraries:
        if lib.startswith("libpython"):
            out.append(
                Finding(
                    "libpython-linked",
                    req.label,
                    f"links {lib}; extensions must not link libpython (PEP 513)",
                    tag=tag,
                    details=(("library", lib),),
                )
            )
        elif lib not in policy.libraries:
            out.append(
                Finding(
                    "library-not-allowed",
                    req.label,
                    f"needs {lib}, which {policy.name} does not allow without bundling",
                    tag=tag,
                    details=(("library", lib),),
                )
            )
    allowed = policy.symbol_versions.get(arch, MappingProxyType({}))
    for lib, versions in elf.version_needs:
        if lib.startswith(_LOADER_PREFIXES):
            continue
        for version in versions:
            space = version.partition("_")[0]
            if space in allowed and version not in allowed[space]:
                symbols = req.by_version.get(version, [])
                shown = ", ".join(f"{s}@{version}" for s in symbols[:5]) or version
                more = f" and {len(symbols) - 5} more" if len(symbols) > 5 else ""
                out.append(
                    Finding(
                        "symbol-version-too-new",
                        req.label,
                        f"{shown}{more} from {lib} needs {version}, "
                        f"newer than {policy.name} allows",
                        tag=tag,
                        details=(
                            ("library", lib),
                            ("version", version),
                            ("symbols", ",".join(symbols)),
                        ),
                    )
                )
    imported = req.strong
    for lib, forbidden in policy.blacklist.items():
        if lib in b.dependencies:
            for sym in sorted(imported & forbidden):
                out.append(
                    Finding(
                        "blacklisted-symbol",
                        req.label,
                        f"uses {sym} of {lib}, which {policy.name} forbids",
                        tag=tag,
                        details=(("library", lib), ("symbol", sym)),
                    )
                )
    # musl has no symbol versions: a function a newer musl added is the only sign that a
    # binary needs that musl (e.g. reallocarray, 1.2.2; __time64 on 32-bit archs, 1.2.0).
    newer = policy.forbidden_newer.get(arch)
    if newer:
        for sym in sorted(req.from_system & newer.keys()):
            origin = newer[sym]
            out.append(
                Finding(
                    "symbol-too-new",
                    req.label,
                    f"uses {sym}, added in {policy.libc} {origin.release} ({origin.policy}); "
                    f"{policy.name} lacks it",
                    tag=tag,
                    details=(
                        ("symbol", sym),
                        ("introduced_in", f"{policy.libc} {origin.release}"),
                        ("introduced_by", origin.policy),
                    ),
                )
            )
    max_level = policy.isa_levels.get(arch)
    if max_level is not None and elf.isa_level is not None and elf.isa_level > max_level:
        out.append(
            Finding(
                "isa-level-too-high",
                req.label,
                f"needs x86-64-v{elf.isa_level}, {policy.name} allows at most x86-64-v{max_level}"
                if max_level > 1
                else f"needs x86-64-v{elf.isa_level}, {policy.name} allows the baseline",
                tag=tag,
                details=(("isa_level", f"x86-64-v{elf.isa_level}"),),
            )
        )
    return out


def requirements(
    elfs: dict[str, Binary],
    graph: DependencyGraph,
    grafted: bool,
    excluded: frozenset[str] = frozenset(),
) -> list[_Requirement]:
    """What the wheel asks of the system as it is, or once its external libraries are grafted.

    ``excluded`` libraries stay external on purpose (``repair --exclude``): like auditwheel,
    they do not count against the policy, and they are not grafted.
    """
    external = {e.name: e.binary for e in graph.externals if e.binary is not None}

    def provided(needed_by: str) -> frozenset[str]:
        """What the non-system libraries ``needed_by`` loads define (bundled or grafted)."""
        names: set[str] = set()
        for d in graph.for_binary(needed_by):
            lib = elfs.get(d.member or "") if d.kind == "bundled" else external.get(d.name)
            if lib is not None and d.kind != "system":
                names |= lib.exported
        return frozenset(names)

    reqs: list[_Requirement] = []
    for member, b in elfs.items():
        libs = tuple(
            d.name
            for d in graph.for_binary(member)
            if d.name not in excluded
            # A repair removes DT_NEEDED libpython (the interpreter provides its symbols).
            and not (grafted and d.name.startswith("libpython"))
            and (d.kind == "system" or (d.kind in ("external", "missing") and not grafted))
        )
        reqs.append(_Requirement.of(member, b, libs, provided(member)))
    if grafted:
        for ext in graph.externals:
            if ext.binary is not None and ext.path is not None and ext.name not in excluded:
                libs = tuple(d.name for d in graph.for_binary(ext.path) if d.kind == "system")
                reqs.append(_Requirement.of(ext.path, ext.binary, libs, provided(ext.path)))
    return reqs


def check_policy(reqs: list[_Requirement], policy: LinuxPolicy, arch: str) -> list[Finding]:
    tag = policy.tag(arch).name
    return [f for r in reqs for f in _violations(r, policy, arch, tag)]


def elf_binaries(ctx: WheelContext) -> dict[str, Binary]:
    return {m: b for m, b in ctx.binaries.items() if b.format == "elf"}


class LinuxRules:
    os = "linux"

    def evaluate(self, ctx: WheelContext) -> PlatformVerdict:
        elfs = elf_binaries(ctx)
        findings: list[Finding] = []
        claimed = [t for t in ctx.claimed if t.is_linux]
        arch_counts = Counter(b.archs[0] for b in elfs.values())
        claimed_archs = [t.arch for t in claimed]
        arch = next(
            (a for a in claimed_archs if a in arch_counts), arch_counts.most_common(1)[0][0]
        )
        for member, b in elfs.items():
            if b.archs[0] != arch:
                findings.append(
                    Finding(
                        "architecture-mismatch", member, f"is {b.archs[0]}, the wheel is {arch}"
                    )
                )

        libcs = {m: _libc_of(b) for m, b in elfs.items()}
        claimed_families = {t.family for t in claimed} - {"linux"}
        if "musllinux" in claimed_families:
            libc = "musl"
        elif "manylinux" in claimed_families:
            libc = "glibc"
        else:
            libc = "musl" if "musl" in libcs.values() else "glibc"
        for member, other in libcs.items():
            if other is not None and other != libc:
                findings.append(
                    Finding(
                        "libc-mismatch",
                        member,
                        f"is linked against {other}, the wheel is for {libc}",
                    )
                )
        family = "musllinux" if libc == "musl" else "manylinux"
        policies = linux_policies()[family]
        graph = LinuxResolver(ctx, policies[-1].libraries, arch, libc).resolve()

        excluded = excluded_names(graph, ctx.options.exclude)
        as_is = requirements(elfs, graph, grafted=False, excluded=excluded)
        results = [(p, check_policy(as_is, p, arch)) for p in policies]
        best = next((p for p, v in results if not v and p.preferred), None)
        best_tag = best.tag(arch).name if best else f"linux_{arch}"

        repair_tag: str | None = None
        if not any(e.path is None and e.name not in excluded for e in graph.externals):
            after = requirements(elfs, graph, grafted=True, excluded=excluded)
            fixed = next(
                (p for p in policies if p.preferred and not check_policy(after, p, arch)), None
            )
            repair_tag = fixed.tag(arch).name if fixed else f"linux_{arch}"

        honoured: dict[str, bool] = {}
        for tag in claimed:
            if tag.arch != arch:
                findings.append(
                    Finding(
                        "architecture-mismatch",
                        None,
                        f"the binaries are {arch}, the tag {tag.name} is for {tag.arch}",
                        tag=tag.name,
                    )
                )
                honoured[tag.name] = False
                continue
            if tag.family == "linux":
                honoured[tag.name] = True
                continue
            policy = policy_for(tag)
            if policy is None:
                findings.append(
                    Finding(
                        "unknown-platform-tag", None, f"no policy defines {tag.name}", tag=tag.name
                    )
                )
                honoured[tag.name] = False
                continue
            if tag.family != family:
                honoured[tag.name] = False
                continue
            problems = dict(results)[policy]
            honoured[tag.name] = not problems
            findings.extend(problems)

        self._explain_best(
            findings,
            [(p, v) for p, v in results if p.preferred and arch in p.architectures],
            best,
            arch,
        )
        self._external_findings(findings, graph, claimed_families, excluded)
        return PlatformVerdict(honoured, best_tag, repair_tag, graph, tuple(findings), arch, family)

    @staticmethod
    def _explain_best(
        findings: list[Finding],
        results: list[tuple[LinuxPolicy, list[Finding]]],
        best: LinuxPolicy | None,
        arch: str,
    ) -> None:
        """Say which symbols keep the wheel from the next more compatible tag."""
        index = next((i for i, (p, _) in enumerate(results) if p is best), len(results))
        if index == 0:
            return
        blocked, problems = results[index - 1]
        target = PlatformTag(blocked.family, blocked.version, arch).name
        for f in problems:
            findings.append(
                Finding(
                    "best-tag-constraint",
                    f.member,
                    f"{f.message} (keeps the wheel from {target})",
                    severity="info",
                    tag=target,
                    details=f.details,
                )
            )

    @staticmethod
    def _external_findings(
        findings: list[Finding],
        graph: DependencyGraph,
        claimed_families: set[str],
        excluded: frozenset[str],
    ) -> None:
        severity: Severity = "error" if claimed_families else "warning"
        for dep in graph.dependencies:
            if dep.kind == "missing" and dep.name not in excluded:
                findings.append(
                    Finding(
                        "library-not-found",
                        dep.needed_by,
                        f"needs {dep.name}, found neither in the wheel nor on "
                        "the library path (try --lib-path)",
                        severity=severity,
                        details=(("library", dep.name),),
                    )
                )
            elif dep.name.startswith("libpython") and not claimed_families:
                # With a manylinux/musllinux claim the policy check reports it as an error.
                findings.append(
                    Finding(
                        "libpython-linked",
                        dep.needed_by,
                        f"links {dep.name}; manylinux and musllinux forbid it (PEP 513), "
                        "`mwheel repair` removes it",
                        severity="warning",
                        details=(("library", dep.name),),
                    )
                )
            elif dep.kind == "bundled" and not dep.reachable:
                findings.append(
                    Finding(
                        "library-not-on-search-path",
                        dep.needed_by,
                        f"needs {dep.name}, bundled as {dep.member} but not on "
                        "its RUNPATH; `mwheel repair` sets one",
                        severity="warning",
                        details=(("library", dep.name),),
                    )
                )
