"""Android rules (PEP 738): ELF binaries against ``android_<API level>_<ABI>`` tags.

A wheel honours ``android_<N>_<abi>`` when every ELF member is for the ABI's machine, needs
only libraries that are bundled, provided by a declared dependency, or NDK system libraries
that devices of API level N have (``android.json``), and imports no bionic symbol of a
version node introduced after N (``LIBC_P`` needs 28: bionic versions its exports by the
release that added them, as glibc does). Bionic's private nodes (``LIBC_PRIVATE``,
``LIBC_PLATFORM``) are off limits to apps at every level. Everything else, ``libc++_shared.so``
first of all, must be bundled: ``mwheel repair`` grafts it as for Linux. Extension modules
link ``libpython3.X.so`` on Android, which the interpreter's app provides.

The libraries are looked for as on Linux (``linux_resolve``), never on this machine's own
library path: a host library is never an Android one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding, Severity
from mwheel.audit.linux_resolve import LinuxResolver
from mwheel.audit.resolve import DependencyGraph, excluded_names
from mwheel.audit.verdict import PlatformVerdict, explained
from mwheel.binary.model import Binary
from mwheel.policies.mobile import AndroidPolicy, android_policy
from mwheel.tags import PlatformTag


@dataclass(frozen=True)
class ApiNeed:
    """Why a binary needs an API level: a symbol version node or a system library."""

    level: int
    why: str  # "imports LIBC_P symbols from libc.so", "needs libaaudio.so"


def api_needs(
    binary: Binary, graph: DependencyGraph, needed_by: str, policy: AndroidPolicy
) -> tuple[list[ApiNeed], list[str]]:
    """The API levels ``binary`` needs, and the private bionic nodes it imports."""
    assert binary.elf is not None
    needs: list[ApiNeed] = []
    private: list[str] = []
    for library, versions in binary.elf.version_needs:
        if library not in policy.versioned_libraries:
            continue
        for version in versions:
            if version in policy.private_versions:
                private.append(f"{version} of {library}")
            level = policy.symbol_versions.get(version)
            if level is not None:
                needs.append(ApiNeed(level, f"imports {version} symbols of {library}"))
    for dep in graph.for_binary(needed_by):
        level = policy.libraries.get(dep.name) if dep.kind == "system" else None
        if level is not None:
            needs.append(ApiNeed(level, f"needs {dep.name}"))
    return needs, private


def _without_rpath(graph: DependencyGraph, elfs: dict[str, Binary]) -> DependencyGraph:
    """Bionic's loader reads DT_RUNPATH only: a bundled library that a wheel member reaches
    through DT_RPATH alone is not found on a device (auditwheel: "Android supports only
    RUNPATH")."""
    deps = []
    for d in graph.dependencies:
        binary = elfs.get(d.needed_by)
        elf = binary.elf if binary is not None else None
        if d.kind == "bundled" and d.reachable and elf is not None and not elf.runpath:
            d = replace(d, reachable=False)
        deps.append(d)
    return replace(graph, dependencies=tuple(deps))


class AndroidRules:
    os = "android"

    def evaluate(self, ctx: WheelContext) -> PlatformVerdict:
        policy = android_policy()
        elfs = {m: b for m, b in ctx.binaries.items() if b.format == "elf"}
        claimed = [t for t in ctx.claimed if t.os == "android"]
        findings: list[Finding] = []
        abis = {m: policy.abi_of_machine(b.elf.machine if b.elf else "") for m, b in elfs.items()}
        named = [a.name for a in abis.values() if a is not None]
        claimed_abi = next((t.arch for t in claimed if t.arch in named), None)
        abi_name = claimed_abi or (max(set(named), key=named.count) if named else "arm64_v8a")
        abi = policy.abis[abi_name]
        for member, other in abis.items():
            if other is None or other.name != abi_name:
                machine = elfs[member].elf.machine if elfs[member].elf else "?"  # type: ignore[union-attr]
                findings.append(
                    Finding(
                        "architecture-mismatch",
                        member,
                        f"is {machine}, the wheel is for the Android ABI {abi_name}",
                    )
                )

        system = frozenset(policy.libraries)
        graph = _without_rpath(LinuxResolver(ctx, system, abi.arch, "bionic").resolve(), elfs)
        excluded = excluded_names(graph, ctx.options.exclude)

        needs: dict[str, list[ApiNeed]] = {}
        for member, binary in elfs.items():
            member_needs, private = api_needs(binary, graph, member, policy)
            needs[member] = member_needs
            findings += [
                Finding(
                    "android-private-api",
                    member,
                    f"imports {p}, which bionic keeps for the platform: apps cannot use it",
                    details=(("version", p.split(" ", 1)[0]),),
                )
                for p in private
            ]
        grafted_needs: list[ApiNeed] = []
        for ext in graph.externals:
            if ext.binary is not None and ext.path is not None and ext.name not in excluded:
                grafted_needs += api_needs(ext.binary, graph, ext.path, policy)[0]

        unbundled = [
            d
            for d in graph.dependencies
            if d.kind in ("external", "missing") and d.name not in excluded and d.needed_by in elfs
        ]
        # A tag's API level is the build's minSdkVersion, which the binaries' symbol
        # versions only bound from below (base LIBC symbols of API 21 or 23 carry no newer
        # node): the best tag never drops below the claimed level, as auditwheel keeps it.
        claimed_levels = [t.version[0] for t in claimed if t.version is not None]
        floor = max(
            [policy.oldest_api, *claimed_levels] + [n.level for ns in needs.values() for n in ns]
        )
        best_tag = PlatformTag("android", (floor, 0), abi_name).name if not unbundled else None
        repair_tag: str | None = None
        if not any(e.path is None and e.name not in excluded for e in graph.externals):
            grafting = any(e.name not in excluded for e in graph.externals)
            # Grafted libraries are found through DT_RUNPATH, which older loaders ignore.
            level = max(
                [floor, policy.runpath_api if grafting else floor]
                + [n.level for n in grafted_needs]
            )
            repair_tag = PlatformTag("android", (level, 0), abi_name).name

        honoured: dict[str, bool] = {}
        for tag in claimed:
            problems: list[Finding] = []
            if tag.arch != abi_name:
                problems.append(
                    Finding(
                        "architecture-mismatch",
                        None,
                        f"the binaries are for {abi_name}, the tag {tag.name} is for {tag.arch}",
                        tag=tag.name,
                    )
                )
            assert tag.version is not None
            api = tag.version[0]
            for member, member_needs in needs.items():
                for need in member_needs:
                    if need.level > api:
                        problems.append(
                            Finding(
                                "android-api-too-new",
                                member,
                                f"{need.why}, which API level {need.level} introduced; "
                                f"{tag.name} promises API level {api}",
                                tag=tag.name,
                                details=(("api_level", str(need.level)),),
                            )
                        )
            for dep in unbundled:
                problems.append(
                    Finding(
                        "library-not-allowed",
                        dep.needed_by,
                        f"needs {dep.name}, which is no Android system library: it must be "
                        "bundled (`mwheel repair` grafts it)",
                        tag=tag.name,
                        details=(("library", dep.name),),
                    )
                )
            honoured[tag.name] = not problems and not any(
                f.severity == "error" and f.tag is None for f in findings
            )
            findings += problems
        severity: Severity = "error" if claimed else "warning"
        for dep in graph.dependencies:
            if dep.kind == "bundled" and not dep.reachable:
                findings.append(
                    Finding(
                        "library-not-on-search-path",
                        dep.needed_by,
                        f"needs {dep.name}, bundled as {dep.member} but not on its RUNPATH "
                        "(bionic ignores DT_RPATH); `mwheel repair` sets one",
                        severity="warning",
                        details=(("library", dep.name),),
                    )
                )
            if dep.kind == "missing" and dep.name not in excluded:
                findings.append(
                    Finding(
                        "library-not-found",
                        dep.needed_by,
                        f"needs {dep.name}, found neither in the wheel nor on --lib-path "
                        "(an NDK library such as libc++_shared.so: pass its directory)",
                        severity=severity,
                        details=(("library", dep.name),),
                    )
                )
        return explained(
            PlatformVerdict(
                honoured, best_tag, repair_tag, graph, tuple(findings), abi.arch, "android"
            )
        )
