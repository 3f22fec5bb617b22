"""The per-policy checks of the Linux rules: what one ELF file asks of the system, and
which of those asks one manylinux/musllinux policy refuses.

Each check yields a Finding with the why (the library, the symbol and its version, the
loader feature). ``linux.py`` runs them for every policy and turns the results into tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding
from mwheel.audit.linux_libc import arm_abi_text, glibc_only, is_armhf, needs_glibc_relr_node
from mwheel.audit.resolve import DependencyGraph
from mwheel.binary.model import Binary
from mwheel.policies import LinuxPolicy

# Version needs on the dynamic loader itself are not checked: its versions move with
# glibc's and are covered by libc's own needs.
_LOADER_PREFIXES = ("ld-linux", "ld64.so", "ld.so")


@dataclass(frozen=True)
class _Summary:
    """What every policy asks of one ELF file's imports, computed once per file rather than
    once per policy (pyarrow: 30 files, 44 policies, tens of thousands of imports)."""

    # Imported symbol names per version (sorted), strong (non-weak) imports, all imports.
    by_version: dict[str, list[str]]
    strong: frozenset[str]
    names: frozenset[str]
    # (library, version, namespace) of the version needs the policies judge: all but the
    # dynamic loader's.
    versions: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, binary: Binary) -> _Summary:
        by_version: dict[str, set[str]] = {}
        strong: set[str] = set()
        names: set[str] = set()
        for s in binary.imported:
            names.add(s.name)
            # Weak imports are optional (Rust's std probes __cxa_thread_atexit_impl weakly
            # and falls back when it is missing), so only strong ones can break on an
            # older system.
            if not s.weak:
                strong.add(s.name)
            if s.version:
                by_version.setdefault(s.version, set()).add(s.name)
        elf = binary.elf
        assert elf is not None
        versions = tuple(
            (lib, version, version.partition("_")[0])
            for lib, needed in elf.version_needs
            if not lib.startswith(_LOADER_PREFIXES)
            for version in needed
        )
        return cls(
            {v: sorted(n) for v, n in by_version.items()},
            frozenset(strong),
            frozenset(names),
            versions,
        )


@dataclass(frozen=True)
class _Requirement:
    """What one ELF file (bundled or to be grafted) asks of the system."""

    label: str  # member, or host path of a library a repair would graft
    binary: Binary
    libraries: tuple[str, ...]  # needed libraries that must come from the system
    summary: _Summary = field(compare=False)
    # Strong imports that no library of the wheel's own (bundled or grafted) defines: only
    # these can come from libc (the musl rule judges them).
    from_system: frozenset[str] = frozenset()
    # The oldest Python the wheel's interpreter tags admit ((0, 0): unknown, any): whether a
    # symbol only some old interpreters define (the policy's interpreter_blacklist) matters.
    oldest_python: tuple[int, int] = (0, 0)

    @property
    def by_version(self) -> dict[str, list[str]]:
        return self.summary.by_version

    @property
    def strong(self) -> frozenset[str]:
        return self.summary.strong

    @classmethod
    def of(
        cls,
        label: str,
        binary: Binary,
        libraries: tuple[str, ...],
        provided: frozenset[str] = frozenset(),
        oldest_python: tuple[int, int] = (0, 0),
        summary: _Summary | None = None,
    ) -> _Requirement:
        summary = summary or _Summary.of(binary)
        return cls(label, binary, libraries, summary, summary.strong - provided, oldest_python)


def violations(req: _Requirement, policy: LinuxPolicy, arch: str, tag: str) -> list[Finding]:
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
    summary = req.summary
    for lib, version, space in summary.versions:
        if space in allowed and version not in allowed[space]:
            symbols = summary.by_version.get(version, [])
            shown = ", ".join(f"{s}@{version}" for s in symbols[:5]) or version
            more = f" and {len(symbols) - 5} more" if len(symbols) > 5 else ""
            out.append(
                Finding(
                    "symbol-version-too-new",
                    req.label,
                    f"{shown}{more} from {lib} needs {version}, newer than {policy.name} allows",
                    tag=tag,
                    details=(
                        ("library", lib),
                        ("version", version),
                        ("symbols", ",".join(symbols)),
                    ),
                )
            )
    imported = summary.strong
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
    # intersection() walks the small side; `&` with a dict view walks the whole frozenset.
    for sym in sorted(summary.names.intersection(policy.interpreter_blacklist)):
        why, python_before = policy.interpreter_blacklist[sym]
        if req.oldest_python < python_before:
            out.append(
                Finding(
                    "blacklisted-symbol",
                    req.label,
                    f"uses {sym} of the interpreter, which {policy.name} forbids for the "
                    f"Pythons the wheel's tags admit: {why}",
                    tag=tag,
                    details=(("library", "(interpreter)"), ("symbol", sym)),
                )
            )
    # musl has no symbol versions: a function a newer musl added is the only sign that a
    # binary needs that musl (e.g. reallocarray, 1.2.2; __time64 on 32-bit archs, 1.2.0).
    newer = policy.forbidden_newer.get(arch)
    if newer:
        for sym in sorted(req.from_system.intersection(newer)):
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
    out.extend(_loader_violations(req, policy, arch, tag))
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


def _loader_violations(
    req: _Requirement, policy: LinuxPolicy, arch: str, tag: str
) -> list[Finding]:
    """What the policy's loader and libc cannot do, though no symbol version says so."""
    out: list[Finding] = []
    elf = req.binary.elf
    assert elf is not None
    if arch == "armv7l" and elf.machine == "EM_ARM" and not is_armhf(req.binary):
        out.append(
            Finding(
                "arm-float-abi",
                req.label,
                f"is {arm_abi_text(req.binary)}; {policy.name} is for the hard-float EABI5 "
                "(armhf): a soft-float file cannot load into an armhf process",
                tag=tag,
                details=(("e_flags", f"{elf.flags:#x}"),),
            )
        )
    if elf.relr and policy.dt_relr is None and not needs_glibc_relr_node(req.binary):
        first = "glibc 2.36" if policy.libc == "glibc" else "musl 1.2.4"
        out.append(
            Finding(
                "dt-relr-unsupported",
                req.label,
                f"uses DT_RELR (packed relative relocations), first applied by the loader of "
                f"{first}; on {policy.name} systems its pointers stay unrelocated and it crashes",
                tag=tag,
                details=(("dynamic_tag", "DT_RELR"),),
            )
        )
    if policy.libc == "musl":
        foreign = sorted(req.from_system & glibc_only(arch))
        if foreign:
            shown = ", ".join(foreign[:5]) + (
                f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
            )
            out.append(
                Finding(
                    "symbol-not-in-libc",
                    req.label,
                    f"imports {shown}, which glibc has and no musl release exports: it "
                    f"cannot load on a {policy.name} system",
                    tag=tag,
                    details=(("symbols", ",".join(foreign)),),
                )
            )
    return out


def oldest_python(interpreters: tuple[str, ...]) -> tuple[int, int]:
    """The oldest Python version the interpreter tags admit: cp35 -> (3, 5), py3 -> (3, 0),
    cp37 (with abi3 too: it loads on 3.7 and later) -> (3, 7); (0, 0) when a tag says
    nothing of the version (py2.py3, pp73...) or names another implementation."""
    floors = []
    for tag in interpreters or ("",):
        found = re.fullmatch(r"(?:cp|py)(\d)(\d*)", tag)
        floors.append((int(found[1]), int(found[2] or 0)) if found else (0, 0))
    return min(floors)


# Per (label, binary): its summary and the imports its own libraries define. Neither depends
# on whether the externals are grafted, so the audit's two calls of ``requirements`` share it.
Summaries = dict[tuple[str, int], tuple[_Summary, frozenset[str]]]


def requirements(
    elfs: dict[str, Binary],
    graph: DependencyGraph,
    grafted: bool,
    excluded: frozenset[str] = frozenset(),
    python: tuple[int, int] = (0, 0),
    memo: Summaries | None = None,
) -> list[_Requirement]:
    """What the wheel asks of the system as it is, or once its external libraries are grafted.

    ``excluded`` libraries stay external on purpose (``repair --exclude``): like auditwheel,
    they do not count against the policy, and they are not grafted.
    """
    external = {e.name: e.binary for e in graph.externals if e.binary is not None}
    memo = {} if memo is None else memo

    def summarised(label: str, binary: Binary) -> tuple[_Summary, frozenset[str]]:
        """The file's summary, and the imports that the non-system libraries ``label``
        loads define (bundled or grafted): intersected per library, the import set being
        the small side, rather than by uniting the libraries' export sets, which for
        pyarrow's libarrow cost more than inflating the wheel."""
        key = (label, id(binary))
        if key not in memo:
            summary = _Summary.of(binary)
            found: set[str] = set()
            for d in graph.for_binary(label):
                lib = elfs.get(d.member or "") if d.kind == "bundled" else external.get(d.name)
                if lib is not None and d.kind != "system":
                    found |= summary.names & lib.exported
            memo[key] = (summary, frozenset(found))
        return memo[key]

    def requirement(label: str, binary: Binary, libs: tuple[str, ...]) -> _Requirement:
        summary, provided = summarised(label, binary)
        return _Requirement.of(label, binary, libs, provided, python, summary)

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
        reqs.append(requirement(member, b, libs))
    if grafted:
        for ext in graph.externals:
            if ext.binary is not None and ext.path is not None and ext.name not in excluded:
                libs = tuple(d.name for d in graph.for_binary(ext.path) if d.kind == "system")
                reqs.append(requirement(ext.path, ext.binary, libs))
    return reqs


def check_policy(reqs: list[_Requirement], policy: LinuxPolicy, arch: str) -> list[Finding]:
    tag = policy.tag(arch).name
    return [f for r in reqs for f in violations(r, policy, arch, tag)]


def elf_binaries(ctx: WheelContext) -> dict[str, Binary]:
    return {m: b for m, b in ctx.binaries.items() if b.format == "elf"}
